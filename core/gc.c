/*
 * gc.c - mark and sweep over the Distribution layout, online (gc.h).
 */
#include "gc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "bloom.h"
#include "catalog_index.h"
#include "config.h"
#include "digest_set.h"
#include "errors.h"
#include "gc_barrier.h"
#include "layout.h"
#include "manifest_cache.h"
#include "manifest_validate.h"
#include "name_list.h"
#include "registry.h"
#include "storage.h"
#include "tag_index.h"

/* Manifests stored before a limit was lowered must still be read. */
#define GC_MANIFEST_MAX (64u * 1024 * 1024)

typedef struct gc_run_state {
	const gc_options *o;
	gc_report *r;
	gc_print_fn print;
	void *ctx;
	bloom marks;
	int64_t now_ms;
	uint64_t listed;     /* items named so far */
} gc_run_state;

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 2, 3)))
static void say(gc_run_state *g, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (g->print)
		g->print(g->ctx, line);
}

/* One line per item up to GC_LIST_MAX, so a dry run shows what it would do. */
__attribute__((format(printf, 2, 3)))
static void item(gc_run_state *g, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (++g->listed > GC_LIST_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (g->print)
		g->print(g->ctx, line);
}

static int young(const gc_run_state *g, int64_t mtime_ms)
{
	return mtime_ms > g->now_ms - (int64_t)g->o->grace_ms;
}

/* ------------------------------------------------------------------------ */
/* Mark                                                                     */
/* ------------------------------------------------------------------------ */

static void mark(gc_run_state *g, digest_set *refs, const digest *d)
{
	bloom_add(&g->marks, d);
	if (refs)
		digest_set_add(refs, d);
	g->r->references++;
}

/*
 * A manifest the validator does not accept (stored by another registry,
 * or damaged) still keeps whatever it might name: every digest-looking
 * string in it is marked.
 */
static void mark_strings(gc_run_state *g, digest_set *refs, const char *body, size_t len)
{
	static const char *const algs[] = {"sha256:", "sha512:"};

	for (size_t a = 0; a < 2; a++) {
		size_t plen = strlen(algs[a]), hexlen = a == 0 ? 64 : 128;
		for (const char *p = body; (p = memmem(p, len - (size_t)(p - body), algs[a], plen));
		     p += plen) {
			digest d;
			if ((size_t)(p - body) + plen + hexlen <= len &&
			    digest_parse_n(p, plen + hexlen, &d) == 0)
				mark(g, refs, &d);
		}
	}
}

static int mark_manifest(gc_run_state *g, const char *repo, const digest *md, digest_set *refs,
			 berth_error *err)
{
	layout_key key;
	char *body = NULL;
	size_t len = 0;
	manifest_info *m = NULL;
	berth_error verr = {0};
	char ds[DIGEST_STRING_MAX];
	int rc;

	mark(g, refs, md);
	g->r->manifests++;
	layout_blob_data(key, md);
	rc = storage_read_small(key, GC_MANIFEST_MAX, &body, &len, err);
	if (rc == BERTH_E_NOT_FOUND) {
		digest_format(md, ds);
		say(g, "warning: %s: manifest %s has a revision link but no data", repo, ds);
		memset(err, 0, sizeof(*err));
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	if (manifest_validate(NULL, body, len, &m, &verr) != 0) {
		digest_format(md, ds);
		g->r->unreadable_manifests++;
		say(g, "warning: %s: manifest %s does not parse (%s); keeping every digest it names",
		    repo, ds, verr.message);
		mark_strings(g, refs, body, len);
		goto out;
	}
	for (size_t i = 0; i < m->n_blobs; i++)
		if (!m->blobs[i].is_foreign)
			mark(g, refs, &m->blobs[i].digest);
	for (size_t i = 0; i < m->n_children; i++)
		mark(g, refs, &m->children[i].digest);
out:
	manifest_info_free(m);
	free(body);
	return rc;
}

static int each_digest_dir(const char *prefix, int alg, int (*fn)(void *ctx, const digest *d),
			   void *ctx, berth_error *err)
{
	name_list l = {0};
	char ds[DIGEST_STRING_MAX];
	int rc = storage_list(prefix, name_list_collect_dirs, &l, err);

	if (rc == BERTH_E_NOT_FOUND) {
		memset(err, 0, sizeof(*err));
		rc = 0;
	}
	if (rc == 0 && l.failed)
		rc = error_set(err, BERTH_E_NOMEM, "out of memory listing '%s'", prefix);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		digest d;
		if ((size_t)snprintf(ds, sizeof(ds), "%s:%s", digest_alg_name(alg), l.v[i]) >=
			    sizeof(ds) ||
		    digest_parse(ds, &d) != 0)
			continue;
		rc = fn(ctx, &d);
	}
	name_list_free(&l);
	return rc;
}

typedef struct repo_walk {
	gc_run_state *g;
	const char *repo;
	digest_set refs;
	berth_error *err;
} repo_walk;

static int on_revision(void *ctx, const digest *d)
{
	repo_walk *w = ctx;

	return mark_manifest(w->g, w->repo, d, &w->refs, w->err);
}

typedef struct link_del {
	const char *key;
	berth_error *err;
} link_del;

static int delete_key(void *ctx)
{
	link_del *l = ctx;
	int rc = storage_remove(l->key, l->err);

	return rc == BERTH_E_NOT_FOUND ? 0 : rc;
}

/*
 * A layer link no manifest of the repository references. Young links are
 * kept, and so is the blob they name: a push that uploaded or mounted a
 * blob and has not pushed its manifest yet holds it through the link.
 */
static int on_layer_link(void *ctx, const digest *d)
{
	repo_walk *w = ctx;
	gc_run_state *g = w->g;
	layout_key dir, link;
	berth_stat st = {0};
	char ds[DIGEST_STRING_MAX];
	link_del del = {.key = dir, .err = w->err};
	int rc;

	if (digest_set_has(&w->refs, d))
		return 0;
	layout_layer_link(link, w->repo, d);
	rc = storage_stat(link, &st, w->err);
	if (rc != 0) {
		memset(w->err, 0, sizeof(*w->err));
		return 0;
	}
	if (young(g, st.mtime_ms) || (g->o->barrier && gc_is_protected(d))) {
		g->r->links_young++;
		bloom_add(&g->marks, d);
		return 0;
	}
	digest_format(d, ds);
	layout_layer_dir(dir, w->repo, d);
	if (g->o->dry_run) {
		g->r->links_deleted++;
		item(g, "would unlink %s from %s", ds, w->repo);
		return 0;
	}
	rc = g->o->barrier ? gc_sweep_if_unprotected(d, delete_key, &del) : delete_key(&del);
	if (rc == 1) {
		g->r->links_young++;
		bloom_add(&g->marks, d);
		return 0;
	}
	if (rc != 0)
		return rc;
	g->r->links_deleted++;
	item(g, "unlinked %s from %s", ds, w->repo);
	return 0;
}

static int purge_uploads(gc_run_state *g, const char *repo, berth_error *err)
{
	layout_key key;
	name_list l = {0};
	int rc;

	snprintf(key, sizeof(key), LAYOUT_REPOSITORIES "/%s/_uploads", repo);
	rc = storage_list(key, name_list_collect_dirs, &l, err);
	if (rc == BERTH_E_NOT_FOUND) {
		memset(err, 0, sizeof(*err));
		rc = 0;
	}
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		layout_key started, data, dir;
		berth_stat st = {0}, ds = {0};
		berth_error e2 = {0};
		if (layout_upload_startedat(started, repo, l.v[i]) != 0)
			continue;
		layout_upload_data(data, repo, l.v[i]);
		/* A crash while an upload was being created may leave only one of
		 * the two: its age is then the other's. */
		if (storage_stat(started, &st, &e2) != 0 && storage_stat(data, &st, &e2) != 0)
			continue;
		if (st.mtime_ms > g->now_ms - (int64_t)g->o->upload_purge_age_ms)
			continue;
		storage_stat(data, &ds, &e2);
		layout_upload_dir(dir, repo, l.v[i]);
		g->r->uploads_purged++;
		g->r->upload_bytes_freed += ds.size;
		if (g->o->dry_run) {
			item(g, "would purge upload %s of %s (%" PRIu64 " bytes)", l.v[i], repo, ds.size);
			continue;
		}
		rc = storage_remove(dir, err);
		if (rc == BERTH_E_NOT_FOUND) {
			memset(err, 0, sizeof(*err));
			rc = 0;
		}
		if (rc == 0)
			item(g, "purged upload %s of %s (%" PRIu64 " bytes)", l.v[i], repo, ds.size);
	}
	name_list_free(&l);
	return rc;
}

/*
 * Rewrite the repository's tag index from its tags (one more listing): it
 * gains a tag two nodes raced on and loses names a crash left behind, but
 * only those older than the grace period, which may be a push under way in
 * another process (tag_index.h).
 */
static void rebuild_tag_index(gc_run_state *g, const char *repo)
{
	berth_error e2 = {0};
	size_t count = 0;

	if (tag_index_rebuild(repo, g->now_ms - (int64_t)g->o->grace_ms, &count, &e2) != 0 &&
	    e2.code != BERTH_E_NOT_FOUND)
		say(g, "warning: %s: cannot rewrite the tag index: %s", repo, e2.message);
}

static int mark_repository(gc_run_state *g, const char *repo, berth_error *err)
{
	static const int algs[] = {DIGEST_SHA256, DIGEST_SHA512};
	repo_walk w = {.g = g, .repo = repo, .err = err};
	layout_key key;
	int rc = 0;

	g->r->repositories++;
	for (size_t a = 0; rc == 0 && a < 2; a++) {
		layout_revisions_alg_dir(key, repo, algs[a]);
		rc = each_digest_dir(key, algs[a], on_revision, &w, err);
	}
	for (size_t a = 0; rc == 0 && a < 2; a++) {
		snprintf(key, sizeof(key), LAYOUT_REPOSITORIES "/%s/_layers/%s", repo,
			 digest_alg_name(algs[a]));
		rc = each_digest_dir(key, algs[a], on_layer_link, &w, err);
	}
	if (rc == 0)
		rc = purge_uploads(g, repo, err);
	if (rc == 0 && !g->o->dry_run)
		rebuild_tag_index(g, repo);
	digest_set_clear(&w.refs);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Sweep                                                                    */
/* ------------------------------------------------------------------------ */

static int on_blob(void *ctx, const digest *d)
{
	gc_run_state *g = ctx;
	layout_key data, dir;
	berth_stat st = {0};
	berth_error e2 = {0};
	char ds[DIGEST_STRING_MAX];
	link_del del = {.key = dir, .err = &e2};
	int rc;

	g->r->blobs_seen++;
	if (bloom_maybe_has(&g->marks, d))
		return 0;
	layout_blob_data(data, d);
	/* No data yet (a move in progress) or unreadable: not ours to judge. */
	if (storage_stat(data, &st, &e2) != 0)
		return 0;
	if (young(g, st.mtime_ms)) {
		g->r->blobs_young++;
		return 0;
	}
	digest_format(d, ds);
	layout_blob_dir(dir, d);
	if (g->o->dry_run) {
		g->r->blobs_deleted++;
		g->r->bytes_freed += st.size;
		item(g, "would delete blob %s (%" PRIu64 " bytes)", ds, st.size);
		return 0;
	}
	rc = g->o->barrier ? gc_sweep_if_unprotected(d, delete_key, &del) : delete_key(&del);
	if (rc == 1) {
		g->r->blobs_protected++;
		return 0;
	}
	if (rc != 0) {
		say(g, "warning: cannot delete blob %s: %s", ds, e2.message);
		return 0;
	}
	/* The data of a served manifest may be cached; it is gone now. */
	manifest_cache_forget(d);
	g->r->blobs_deleted++;
	g->r->bytes_freed += st.size;
	item(g, "deleted blob %s (%" PRIu64 " bytes)", ds, st.size);
	return 0;
}

static int sweep_blobs(gc_run_state *g, berth_error *err)
{
	static const int algs[] = {DIGEST_SHA256, DIGEST_SHA512};
	int rc = 0;

	for (size_t a = 0; rc == 0 && a < 2; a++) {
		layout_key top;
		name_list shards = {0};
		snprintf(top, sizeof(top), LAYOUT_ROOT "/blobs/%s", digest_alg_name(algs[a]));
		rc = storage_list(top, name_list_collect_dirs, &shards, err);
		if (rc == BERTH_E_NOT_FOUND) {
			memset(err, 0, sizeof(*err));
			rc = 0;
		}
		for (size_t i = 0; rc == 0 && i < shards.n; i++) {
			layout_key shard;
			if (strlen(shards.v[i]) != 2)
				continue;
			snprintf(shard, sizeof(shard), LAYOUT_ROOT "/blobs/%s/%.2s",
				 digest_alg_name(algs[a]), shards.v[i]);
			rc = each_digest_dir(shard, algs[a], on_blob, g, err);
		}
		name_list_free(&shards);
	}
	return rc;
}

/* ------------------------------------------------------------------------ */
/* The run                                                                  */
/* ------------------------------------------------------------------------ */

int gc_run(const gc_options *o, gc_report *r, gc_print_fn print, void *ctx, berth_error *err)
{
	gc_run_state g = {.o = o, .r = r, .print = print, .ctx = ctx};
	name_list repos = {0};
	uint64_t seed = 0;
	int64_t started = wall_ms();
	int rc;

	memset(r, 0, sizeof(*r));
	r->mark_memory = o->mark_memory;
	if (RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1)
		seed = (uint64_t)started;
	if (bloom_init(&g.marks, o->mark_memory, seed) != 0)
		return error_set(err, BERTH_E_NOMEM, "cannot allocate %zu bytes to mark blobs",
				 o->mark_memory);
	if (o->barrier && !o->dry_run)
		gc_barrier_begin();
	/* Everything older than this was written before the barrier was on. */
	g.now_ms = wall_ms();
	say(&g, "gc%s: grace period %" PRIu64 " s, uploads purged after %" PRIu64
		" s, mark memory %zu KiB",
	    o->dry_run ? " (dry run)" : "", o->grace_ms / 1000, o->upload_purge_age_ms / 1000,
	    o->mark_memory / 1024);

	rc = catalog_collect(&repos, err);
	if (rc == 0 && !o->dry_run && catalog_index_replace(&repos, err) != 0) {
		say(&g, "warning: cannot write the catalog index: %s", err->message);
		memset(err, 0, sizeof(*err));
	}
	for (size_t i = 0; rc == 0 && i < repos.n; i++)
		rc = mark_repository(&g, repos.v[i], err);
	if (rc == 0) {
		r->false_positive_rate = bloom_false_positive_rate(&g.marks);
		say(&g, "marked %" PRIu64 " references from %" PRIu64 " manifests in %" PRIu64
			" repositories (false-positive rate %.2g%%)",
		    r->references, r->manifests, r->repositories, r->false_positive_rate * 100);
		rc = sweep_blobs(&g, err);
	}
	if (o->barrier && !o->dry_run)
		gc_barrier_end();
	if (g.listed > GC_LIST_MAX)
		say(&g, "... and %" PRIu64 " more items", g.listed - GC_LIST_MAX);
	r->duration_ms = (uint64_t)(wall_ms() - started);
	if (rc == 0)
		say(&g,
		    "%s %" PRIu64 " of %" PRIu64 " blobs (%" PRIu64 " bytes), %" PRIu64
		    " layer links, %" PRIu64 " uploads (%" PRIu64 " bytes); kept %" PRIu64
		    " young and %" PRIu64 " protected blobs; %" PRIu64 " ms",
		    o->dry_run ? "would free" : "freed", r->blobs_deleted, r->blobs_seen,
		    r->bytes_freed, r->links_deleted, r->uploads_purged, r->upload_bytes_freed,
		    r->blobs_young, r->blobs_protected, r->duration_ms);
	name_list_free(&repos);
	bloom_free(&g.marks);
	return rc;
}

char *gc_report_json(const gc_report *r, int dry_run)
{
	json_t *o = json_pack(
		"{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
		"dry_run", dry_run, "repositories", (json_int_t)r->repositories, "manifests",
		(json_int_t)r->manifests, "unreadable_manifests", (json_int_t)r->unreadable_manifests,
		"blobs_seen", (json_int_t)r->blobs_seen, "blobs_deleted",
		(json_int_t)r->blobs_deleted, "bytes_freed", (json_int_t)r->bytes_freed,
		"blobs_young", (json_int_t)r->blobs_young, "blobs_protected",
		(json_int_t)r->blobs_protected, "layer_links_deleted", (json_int_t)r->links_deleted,
		"layer_links_kept_young", (json_int_t)r->links_young, "uploads_purged",
		(json_int_t)r->uploads_purged, "upload_bytes_freed",
		(json_int_t)r->upload_bytes_freed, "duration_ms", (json_int_t)r->duration_ms,
		"mark_memory", (json_int_t)r->mark_memory, "false_positive_rate",
		r->false_positive_rate);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return text;
}

void gc_options_from_config(const server_config *cfg, gc_options *o)
{
	memset(o, 0, sizeof(*o));
	o->grace_ms = cfg ? cfg->gc_grace_ms : GC_GRACE_DEFAULT;
	o->mark_memory = cfg ? cfg->gc_mark_memory : GC_MARK_MEMORY_DEFAULT_BYTES;
	o->upload_purge_age_ms = cfg ? cfg->upload_purge_age_ms : 168ull * 3600 * 1000;
	o->barrier = 1;
}

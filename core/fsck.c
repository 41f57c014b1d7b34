/*
 * fsck.c - a consistency check of the Distribution layout.
 *
 * What is broken, and what --repair does about it:
 *   a blob whose bytes do not hash to its name       removed (serving it would be worse)
 *   a blob folder without data                       removed; a leftover of a write that
 *                                                    failed, not counted as a problem
 *   a layer link naming a missing blob               removed
 *   a layer or revision link whose text is not the digest of its folder
 *                                                    rewritten when the blob exists, else removed
 *   a manifest's blob the repository does not link   linked again (the blob exists)
 *   a revision whose manifest is missing or unparsable
 *                                                    removed, with the tags pointing at it
 *   a tag pointing at a missing revision             removed
 *   an upload folder without its data or start time  removed; not counted as a
 *                                                    problem: a crash while an upload was
 *                                                    being created leaves one, no client knows
 *                                                    it, and garbage collection purges it
 *   a tag missing from the repository's tag index    the index rewritten from the tags
 *                                                    (a name of a tag that does not exist
 *                                                    is a note: listings skip it)
 *   a manifest whose config, layers or children are missing
 *                                                    reported only: its own bytes are good,
 *                                                    and pushing the missing blob again heals it
 * Good data is never touched: a repair only removes objects the checks
 * above found broken, one at a time, after reporting each.
 */
#include "fsck.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "errors.h"
#include "layout.h"
#include "manifest_validate.h"
#include "name_list.h"
#include "reference.h"
#include "registry.h"
#include "route.h"
#include "storage.h"
#include "tag_index.h"

#define FSCK_MANIFEST_MAX (64u * 1024 * 1024)

typedef struct fsck_state {
	const fsck_options *o;
	fsck_report *r;
	fsck_print_fn print;
	void *ctx;
} fsck_state;

static const int algs[] = {DIGEST_SHA256, DIGEST_SHA512};

__attribute__((format(printf, 3, 4)))
static void problem(fsck_state *f, const char *key, const char *fmt, ...)
{
	char what[768], line[1536];
	berth_error err = {0};
	va_list ap;
	int rc = -1;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	f->r->problems++;
	if (f->o->repair && key) {
		rc = storage_remove(key, &err);
		if (rc == BERTH_E_NOT_FOUND)
			rc = 0;
		if (rc == 0)
			f->r->repaired++;
	}
	snprintf(line, sizeof(line), "%s: %s%s%s", f->o->repair && key && rc == 0 ? "repaired" : "broken",
		 what, rc != 0 && f->o->repair && key ? " (could not remove: " : "",
		 rc != 0 && f->o->repair && key ? err.message : "");
	if (rc != 0 && f->o->repair && key)
		strncat(line, ")", sizeof(line) - strlen(line) - 1);
	if (f->print)
		f->print(f->ctx, line);
}

/* Not damage, only leftovers: reported, removed by a repair, not counted. */
__attribute__((format(printf, 3, 4)))
static void note(fsck_state *f, const char *key, const char *fmt, ...)
{
	char what[768], line[1024];
	berth_error err = {0};
	va_list ap;
	int removed = 0;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	f->r->notes++;
	if (f->o->repair)
		removed = storage_remove(key, &err) == 0 || err.code == BERTH_E_NOT_FOUND;
	snprintf(line, sizeof(line), "note: %.900s%s", what, removed ? ", removed" : "");
	if (f->print)
		f->print(f->ctx, line);
}

static int list_dirs(const char *key, name_list *out, berth_error *err)
{
	int rc = storage_list(key, name_list_collect_dirs, out, err);

	if (rc == BERTH_E_NOT_FOUND) {
		memset(err, 0, sizeof(*err));
		return 0;
	}
	if (rc == 0 && out->failed)
		return error_set(err, BERTH_E_NOMEM, "out of memory listing '%s'", key);
	return rc;
}

static int digest_from(int alg, const char *hex, digest *d)
{
	char s[DIGEST_STRING_MAX];

	if ((size_t)snprintf(s, sizeof(s), "%s:%s", digest_alg_name(alg), hex) >= sizeof(s))
		return -1;
	return digest_parse(s, d);
}

/* ------------------------------------------------------------------------ */
/* Blobs                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct hashing {
	digest_ctx *c;
	uint64_t bytes;
} hashing;

static int hash_piece(void *ctx, const void *data, size_t len)
{
	hashing *h = ctx;

	h->bytes += len;
	return digest_ctx_update(h->c, data, len) != 0;
}

/* 1 when the stored bytes hash to d, 0 when not, < 0 when unreadable. */
static int blob_hashes_to(fsck_state *f, const char *key, const digest *d)
{
	hashing h = {.c = digest_ctx_new(d->alg)};
	berth_error err = {0};
	digest got;
	int rc;

	if (!h.c)
		return BERTH_E_NOMEM;
	rc = storage_stream(key, UINT64_MAX, BERTH_E_TOO_LARGE, hash_piece, &h, &err);
	f->r->bytes_hashed += h.bytes;
	if (rc == 0)
		rc = digest_ctx_final(h.c, &got) == 0 && digest_equal(&got, d) ? 1 : 0;
	digest_ctx_free(h.c);
	return rc;
}

static int check_blobs(fsck_state *f, berth_error *err)
{
	int rc = 0;

	for (size_t a = 0; rc == 0 && a < 2; a++) {
		layout_key top;
		name_list shards = {0};
		snprintf(top, sizeof(top), LAYOUT_ROOT "/blobs/%s", digest_alg_name(algs[a]));
		rc = list_dirs(top, &shards, err);
		for (size_t i = 0; rc == 0 && i < shards.n; i++) {
			layout_key shard;
			name_list blobs = {0};
			snprintf(shard, sizeof(shard), LAYOUT_ROOT "/blobs/%s/%.2s",
				 digest_alg_name(algs[a]), shards.v[i]);
			rc = list_dirs(shard, &blobs, err);
			for (size_t b = 0; rc == 0 && b < blobs.n; b++) {
				layout_key dir, data;
				berth_stat st = {0};
				berth_error e2 = {0};
				digest d;
				int ok;

				if (digest_from(algs[a], blobs.v[b], &d) != 0 ||
				    strncmp(d.hex, shards.v[i], 2) != 0) {
					problem(f, NULL, "%s/%.200s: not a blob folder (left alone)",
						shard, blobs.v[b]);
					continue;
				}
				layout_blob_dir(dir, &d);
				f->r->blobs++;
				layout_blob_data(data, &d);
				if (storage_stat(data, &st, &e2) != 0) {
					/* A write that failed (a full disk) or was cut
					 * short leaves the folder; no client can see it. */
					note(f, dir, "blob folder %s:%s has no data (a write that did not finish)",
					     digest_alg_name(d.alg), d.hex);
					continue;
				}
				if (!f->o->verify_data)
					continue;
				ok = blob_hashes_to(f, data, &d);
				if (ok == 0)
					problem(f, dir, "blob %s:%s: its %" PRIu64
						" bytes hash to something else",
						digest_alg_name(d.alg), d.hex, st.size);
				else if (ok < 0)
					problem(f, NULL, "blob %s:%s cannot be read", digest_alg_name(d.alg),
						d.hex);
			}
			name_list_free(&blobs);
		}
		name_list_free(&shards);
	}
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Repositories                                                             */
/* ------------------------------------------------------------------------ */

static int blob_exists(const digest *d)
{
	layout_key key;

	layout_blob_data(key, d);
	return storage_exists(key);
}

/* A problem whose repair is writing the right link (the blob is there). */
__attribute__((format(printf, 4, 5)))
static void relink(fsck_state *f, const char *link_key, const digest *d, const char *fmt, ...)
{
	char what[768], line[1536];
	berth_error err = {0};
	va_list ap;
	int rc = -1;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	f->r->problems++;
	if (f->o->repair) {
		rc = storage_write_link(link_key, d, &err);
		if (rc == 0)
			f->r->repaired++;
	}
	if (!f->o->repair)
		snprintf(line, sizeof(line), "broken: %s", what);
	else if (rc == 0)
		snprintf(line, sizeof(line), "repaired: %s (link written)", what);
	else
		snprintf(line, sizeof(line), "broken: %s (could not write the link: %s)", what,
			 err.message);
	if (f->print)
		f->print(f->ctx, line);
}

/* A link file must hold its folder's digest and name an existing blob. */
static int link_ok(fsck_state *f, const char *repo, const char *what, const char *link_key,
		   const char *dir_key, const digest *want)
{
	berth_error err = {0};
	digest got;
	char ds[DIGEST_STRING_MAX];

	f->r->links++;
	digest_format(want, ds);
	if (!storage_exists(link_key)) {
		/* The folder is made before its link is renamed into place: a
		 * crash in between leaves it, and nothing reads it as a link. */
		note(f, dir_key, "%s: %s folder %s has no link (a write that did not finish)", repo,
		     what, ds);
		return 0;
	}
	if (storage_read_link(link_key, &got, &err) != 0) {
		problem(f, dir_key, "%s: %s %s: link unreadable (%s)", repo, what, ds, err.message);
		return 0;
	}
	if (!digest_equal(&got, want)) {
		if (blob_exists(want)) {
			relink(f, link_key, want, "%s: %s %s: the link names another digest", repo,
			       what, ds);
			return 1;
		}
		problem(f, dir_key, "%s: %s %s: the link names another digest", repo, what, ds);
		return 0;
	}
	if (!blob_exists(want)) {
		problem(f, dir_key, "%s: %s %s: its blob is missing", repo, what, ds);
		return 0;
	}
	return 1;
}

static void check_references(fsck_state *f, const char *repo, const digest *md,
			     const manifest_info *m)
{
	char ds[DIGEST_STRING_MAX], rs[DIGEST_STRING_MAX];
	layout_key key;

	digest_format(md, ds);
	for (size_t i = 0; i < m->n_blobs; i++) {
		const manifest_ref *r = &m->blobs[i];
		if (r->is_foreign)
			continue;
		digest_format(&r->digest, rs);
		if (!blob_exists(&r->digest)) {
			problem(f, NULL,
				"%s: manifest %s references %s, which is missing (push it again)",
				repo, ds, rs);
			continue;
		}
		if (layout_layer_link(key, repo, &r->digest) == 0 && !storage_exists(key))
			relink(f, key, &r->digest,
			       "%s: manifest %s references %s, which the repository does not link",
			       repo, ds, rs);
	}
	for (size_t i = 0; i < m->n_children; i++) {
		if (layout_revision_link(key, repo, &m->children[i].digest) == 0 &&
		    storage_exists(key))
			continue;
		digest_format(&m->children[i].digest, rs);
		problem(f, NULL, "%s: index %s names manifest %s, which the repository lacks", repo,
			ds, rs);
	}
}

static int check_revisions(fsck_state *f, const char *repo, berth_error *err)
{
	int rc = 0;

	for (size_t a = 0; rc == 0 && a < 2; a++) {
		layout_key dir;
		name_list revs = {0};
		layout_revisions_alg_dir(dir, repo, algs[a]);
		rc = list_dirs(dir, &revs, err);
		for (size_t i = 0; rc == 0 && i < revs.n; i++) {
			layout_key rdir, link, data;
			char *body = NULL;
			size_t len = 0;
			manifest_info *m = NULL;
			berth_error e2 = {0};
			digest d;

			if (digest_from(algs[a], revs.v[i], &d) != 0)
				continue;
			f->r->manifests++;
			layout_revision_dir(rdir, repo, &d);
			layout_revision_link(link, repo, &d);
			if (!link_ok(f, repo, "manifest", link, rdir, &d))
				continue;
			layout_blob_data(data, &d);
			if (storage_read_small(data, FSCK_MANIFEST_MAX, &body, &len, &e2) != 0 ||
			    manifest_validate(NULL, body, len, &m, &e2) != 0) {
				problem(f, rdir, "%s: manifest %s:%s does not parse (%s)", repo,
					digest_alg_name(d.alg), d.hex, e2.message);
			} else {
				check_references(f, repo, &d, m);
			}
			manifest_info_free(m);
			free(body);
		}
		name_list_free(&revs);
	}
	return rc;
}

static int check_layer_links(fsck_state *f, const char *repo, berth_error *err)
{
	int rc = 0;

	for (size_t a = 0; rc == 0 && a < 2; a++) {
		layout_key dir;
		name_list links = {0};
		snprintf(dir, sizeof(dir), LAYOUT_REPOSITORIES "/%s/_layers/%s", repo,
			 digest_alg_name(algs[a]));
		rc = list_dirs(dir, &links, err);
		for (size_t i = 0; rc == 0 && i < links.n; i++) {
			layout_key ldir, link;
			digest d;
			if (digest_from(algs[a], links.v[i], &d) != 0)
				continue;
			layout_layer_dir(ldir, repo, &d);
			layout_layer_link(link, repo, &d);
			link_ok(f, repo, "layer link", link, ldir, &d);
		}
		name_list_free(&links);
	}
	return rc;
}

/*
 * The tag index must name every tag that resolves (`present`, sorted); a
 * root without one gets it on first use. A repair rewrites it from the tags.
 */
static void check_tag_index(fsck_state *f, const char *repo, const name_list *present)
{
	name_list indexed = {0};
	berth_error err = {0};
	size_t missing = 0, extra = 0, i = 0, j = 0;
	int rc = tag_index_read(repo, &indexed, &err);

	if (rc == BERTH_E_NOT_FOUND)
		return;
	if (rc != 0) {
		f->r->problems++;
		if (f->print) {
			char line[1024];
			snprintf(line, sizeof(line), "broken: %s: tag index unreadable (%s)", repo,
				 err.message);
			f->print(f->ctx, line);
		}
		return;
	}
	/* Both lists are sorted: one merge finds what each lacks. */
	while (i < present->n || j < indexed.n) {
		int c = i == present->n ? 1 : j == indexed.n ? -1
							      : strcmp(present->v[i], indexed.v[j]);
		if (c < 0) {
			missing++;
			if (f->print) {
				char line[1024];
				snprintf(line, sizeof(line), "broken: %s: tag %s is missing from the tag index",
					 repo, present->v[i]);
				f->print(f->ctx, line);
			}
			i++;
		} else if (c > 0) {
			extra++;
			j++;
		} else {
			i++;
			j++;
		}
	}
	f->r->problems += missing;
	if (extra) {
		f->r->notes++;
		if (f->print) {
			char line[1024];
			snprintf(line, sizeof(line),
				 "note: %s: the tag index names %zu tag%s that do%s not exist (listings "
				 "skip them)",
				 repo, extra, extra == 1 ? "" : "s", extra == 1 ? "es" : "");
			f->print(f->ctx, line);
		}
	}
	if (f->o->repair && (missing || extra)) {
		size_t count = 0;
		char line[1024];
		memset(&err, 0, sizeof(err));
		/* Repairs run with the server stopped: nothing is in flight. */
		rc = tag_index_rebuild(repo, INT64_MAX, &count, &err);
		if (rc == 0) {
			f->r->repaired += missing;
			snprintf(line, sizeof(line), "repaired: %s: tag index rewritten from its %zu tags",
				 repo, count);
		} else {
			snprintf(line, sizeof(line), "broken: %s: cannot rewrite the tag index: %s",
				 repo, err.message);
		}
		if (f->print)
			f->print(f->ctx, line);
	}
	name_list_free(&indexed);
}

static int check_tags(fsck_state *f, const char *repo, berth_error *err)
{
	layout_key dir;
	name_list tags = {0}, present = {0};
	int rc;

	layout_tags_dir(dir, repo);
	rc = list_dirs(dir, &tags, err);
	for (size_t i = 0; rc == 0 && i < tags.n; i++) {
		layout_key tdir, cur, rev;
		berth_error e2 = {0};
		digest d;
		char ds[DIGEST_STRING_MAX];

		if (!tag_valid(tags.v[i]))
			continue;
		f->r->tags++;
		layout_tag_dir(tdir, repo, tags.v[i]);
		layout_tag_current(cur, repo, tags.v[i]);
		if (!storage_exists(cur)) {
			note(f, tdir, "%s: tag %s has no current link (a write or delete that did "
				      "not finish)",
			     repo, tags.v[i]);
			continue;
		}
		if (storage_read_link(cur, &d, &e2) != 0) {
			problem(f, tdir, "%s: tag %s: current link unreadable (%s)", repo, tags.v[i],
				e2.message);
			continue;
		}
		digest_format(&d, ds);
		layout_revision_link(rev, repo, &d);
		if (!storage_exists(rev)) {
			/* Reported once as broken, not again as missing from the index. */
			problem(f, tdir, "%s: tag %s points at %s, which the repository lacks", repo,
				tags.v[i], ds);
			continue;
		}
		name_list_add(&present, tags.v[i]);
	}
	if (rc == 0 && !present.failed) {
		name_list_sort(&present);
		check_tag_index(f, repo, &present);
	}
	name_list_free(&present);
	name_list_free(&tags);
	return rc;
}

static int check_uploads(fsck_state *f, const char *repo, berth_error *err)
{
	layout_key dir;
	name_list ups = {0};
	int rc;

	snprintf(dir, sizeof(dir), LAYOUT_REPOSITORIES "/%s/_uploads", repo);
	rc = list_dirs(dir, &ups, err);
	for (size_t i = 0; rc == 0 && i < ups.n; i++) {
		layout_key udir, data, started;
		if (!upload_uuid_valid(ups.v[i])) {
			problem(f, NULL, "%s: _uploads/%.200s is not an upload folder (left alone)",
				repo, ups.v[i]);
			continue;
		}
		layout_upload_dir(udir, repo, ups.v[i]);
		layout_upload_data(data, repo, ups.v[i]);
		layout_upload_startedat(started, repo, ups.v[i]);
		if (!storage_exists(data) || !storage_exists(started))
			note(f, udir, "%s: upload %s lacks its %s (abandoned while being created)",
			     repo, ups.v[i], storage_exists(data) ? "start time" : "data");
	}
	name_list_free(&ups);
	return rc;
}

int fsck_run(const fsck_options *o, fsck_report *r, fsck_print_fn print, void *ctx,
	     berth_error *err)
{
	fsck_state f = {.o = o, .r = r, .print = print, .ctx = ctx};
	name_list repos = {0};
	int rc;

	memset(r, 0, sizeof(*r));
	/* Blobs first: a repair there shows up as missing blobs below. */
	rc = check_blobs(&f, err);
	if (rc == 0)
		rc = catalog_collect(&repos, err);
	for (size_t i = 0; rc == 0 && i < repos.n; i++) {
		r->repositories++;
		rc = check_revisions(&f, repos.v[i], err);
		if (rc == 0)
			rc = check_tags(&f, repos.v[i], err);
		if (rc == 0)
			rc = check_layer_links(&f, repos.v[i], err);
		if (rc == 0)
			rc = check_uploads(&f, repos.v[i], err);
	}
	name_list_free(&repos);
	return rc;
}

/*
 * tag_index.c - the per-repository tag index (see tag_index.h).
 *
 * What is cached is an immutable snapshot of one repository's list with a
 * reference count: a page iterates its snapshot without any lock while a
 * push replaces the cached one, and the last user frees it.
 */
#include "tag_index.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "layout.h"
#include "locks.h"
#include "log.h"
#include "reference.h"
#include "registry.h"
#include "storage.h"

/* Tags are at most 128 bytes; a million of them is a generous bound. */
#define TAG_INDEX_MAX (130u * 1024 * 1024)

typedef struct tag_snapshot {
	int refs;            /* under cache.lock */
	int64_t mtime_ms;    /* of the file this list was read from or written as */
	uint64_t size;
	name_list tags;      /* sorted, unique */
} tag_snapshot;

typedef struct cache_slot {
	char repo[REPO_NAME_MAX + 1];
	tag_snapshot *snap;  /* NULL: a free slot */
	uint64_t used;       /* cache.tick at the last use */
} cache_slot;

static struct {
	pthread_mutex_t lock;
	cache_slot slot[TAG_INDEX_CACHED];
	uint64_t tick;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static tag_snapshot *snapshot_new(name_list *tags, const berth_stat *st)
{
	tag_snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->refs = 1;
	s->mtime_ms = st->mtime_ms;
	s->size = st->size;
	s->tags = *tags;
	memset(tags, 0, sizeof(*tags));
	return s;
}

static void snapshot_release(tag_snapshot *s)
{
	int last;

	if (!s)
		return;
	pthread_mutex_lock(&cache.lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&cache.lock);
	if (last) {
		name_list_free(&s->tags);
		free(s);
	}
}

/* The cached snapshot of the repository when it matches the file's stat, with a reference. */
static tag_snapshot *cache_get(const char *name, const berth_stat *st)
{
	tag_snapshot *s = NULL;

	pthread_mutex_lock(&cache.lock);
	for (size_t i = 0; i < TAG_INDEX_CACHED; i++) {
		cache_slot *c = &cache.slot[i];
		if (!c->snap || strcmp(c->repo, name) != 0)
			continue;
		if (c->snap->mtime_ms == st->mtime_ms && c->snap->size == st->size) {
			s = c->snap;
			s->refs++;
			c->used = ++cache.tick;
		}
		break;
	}
	pthread_mutex_unlock(&cache.lock);
	return s;
}

/* Cache the snapshot for the repository in its slot, a free one or the least recently used. */
static void cache_put(const char *name, tag_snapshot *s)
{
	cache_slot *pick = NULL;
	tag_snapshot *old = NULL;

	pthread_mutex_lock(&cache.lock);
	for (size_t i = 0; i < TAG_INDEX_CACHED; i++) {
		cache_slot *c = &cache.slot[i];
		if (c->snap && strcmp(c->repo, name) == 0) {
			pick = c;
			break;
		}
		if (!pick || (pick->snap && (!c->snap || c->used < pick->used)))
			pick = c;
	}
	if (pick->snap && --pick->snap->refs == 0)
		old = pick->snap;
	snprintf(pick->repo, sizeof(pick->repo), "%s", name);
	pick->snap = s;
	pick->used = ++cache.tick;
	s->refs++;
	pthread_mutex_unlock(&cache.lock);
	if (old) {
		name_list_free(&old->tags);
		free(old);
	}
}

/*
 * Write the list as the repository's index and cache it (the list is
 * taken). The caller holds the repository lock, so no writer of this
 * process changes the tags in between.
 */
static int publish(const char *name, const char *key, name_list *tags, berth_error *err)
{
	berth_stat st = {0};
	berth_error ignored = {0};
	tag_snapshot *s;
	int rc = tags->failed ? error_set(err, BERTH_E_NOMEM, "out of memory listing tags")
			      : name_list_write_lines(key, tags, "a tag index", err);

	if (rc == 0 && storage_stat(key, &st, &ignored) == 0 && (s = snapshot_new(tags, &st))) {
		cache_put(name, s);
		snapshot_release(s);
	}
	name_list_free(tags);
	return rc;
}

/* Walk the repository's tags and write them as its index; the caller holds the lock. */
static int build_locked(const char *name, const char *key, size_t *count, berth_error *err)
{
	name_list tags = {0};
	int rc = tags_collect(name, &tags, err);

	if (count)
		*count = tags.n;
	if (rc != 0) {
		name_list_free(&tags);
		return rc;
	}
	return publish(name, key, &tags, err);
}

/*
 * The current snapshot of the repository's index, with a reference: the
 * cached one when the file did not change, else the file, else a walk
 * that writes the file (under the repository lock unless `locked` says the
 * caller holds it).
 */
static int snapshot_get(const char *name, int locked, tag_snapshot **out, berth_error *err)
{
	layout_key key;
	berth_stat st = {0};
	berth_error ignored = {0};
	name_list tags = {0};
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (layout_tag_list(key, name) != 0)
		return error_set(err, BERTH_E_NAME, "invalid repository name");
	for (int attempt = 0; attempt < 2; attempt++) {
		if (storage_stat(key, &st, &ignored) == 0 && (*out = cache_get(name, &st)))
			return 0;
		rc = storage_read_small(key, TAG_INDEX_MAX, &text, &len, err);
		if (rc == 0) {
			rc = name_list_parse_lines(&tags, text, len, TAG_MAX, tag_valid);
			free(text);
			if (rc == 0 && !(*out = snapshot_new(&tags, &st)))
				rc = BERTH_E_NOMEM;
			name_list_free(&tags);
			if (rc != 0)
				return error_set(err, rc, "out of memory reading the tags of '%s'", name);
			cache_put(name, *out);
			return 0;
		}
		if (rc != BERTH_E_NOT_FOUND)
			return rc;
		memset(err, 0, sizeof(*err));
		if (attempt > 0)
			break;
		if (!locked)
			repo_lock(name);
		/* Another thread may have built it while this one waited. */
		rc = storage_exists(key) ? 0 : build_locked(name, key, NULL, err);
		if (!locked)
			repo_unlock(name);
		if (rc != 0)
			return rc;
		if (!storage_exists(key))
			break;
	}
	return error_set(err, BERTH_E_IO, "the tag index of '%s' vanished while being read", name);
}

int tag_index_page(const char *name, const char *last, long max,
		   int (*keep)(void *ctx, const char *tag), void *ctx, name_list *out,
		   berth_error *err)
{
	tag_snapshot *s;
	size_t i;
	int rc = snapshot_get(name, 0, &s, err);

	if (rc != 0)
		return rc;
	i = last ? name_list_bound(&s->tags, last, 1) : 0;
	for (; i < s->tags.n && (max < 0 || out->n < (size_t)max); i++) {
		if (keep && !keep(ctx, s->tags.v[i]))
			continue;
		if (name_list_add(out, s->tags.v[i]) != 0)
			break;
	}
	snapshot_release(s);
	if (out->failed)
		return error_set(err, BERTH_E_NOMEM, "out of memory listing tags");
	return 0;
}

int tag_index_add(const char *name, const char *tag, berth_error *err)
{
	layout_key key;
	tag_snapshot *s;
	name_list next = {0};
	int rc = snapshot_get(name, 1, &s, err);

	if (rc != 0)
		return rc;
	if (name_list_has(&s->tags, tag)) {
		snapshot_release(s);
		return 0;
	}
	for (size_t i = 0; i < s->tags.n; i++)
		name_list_add(&next, s->tags.v[i]);
	name_list_add(&next, tag);
	snapshot_release(s);
	name_list_sort(&next);
	layout_tag_list(key, name);
	rc = publish(name, key, &next, err);
	if (rc != 0) {
		char why[sizeof(err->message)];
		snprintf(why, sizeof(why), "%s", err->message);
		return error_set(err, rc, "cannot add tag '%s' to the tag index of '%s': %s", tag,
				 name, why);
	}
	return 0;
}

void tag_index_remove(const char *name, const name_list *tags)
{
	layout_key key;
	berth_error err = {0};
	tag_snapshot *s;
	name_list next = {0};
	size_t dropped = 0;

	if (tags->n == 0)
		return;
	if (snapshot_get(name, 1, &s, &err) != 0) {
		log_warn("tags: cannot read the tag index of '%s' to drop deleted tags: %s", name,
			 err.message);
		return;
	}
	for (size_t i = 0; i < s->tags.n; i++) {
		int gone = 0;
		for (size_t j = 0; j < tags->n && !gone; j++)
			gone = strcmp(s->tags.v[i], tags->v[j]) == 0;
		if (gone)
			dropped++;
		else
			name_list_add(&next, s->tags.v[i]);
	}
	snapshot_release(s);
	if (dropped == 0) {
		name_list_free(&next);
		return;
	}
	/* A name left behind is skipped by every page: harmless until gc. */
	layout_tag_list(key, name);
	if (publish(name, key, &next, &err) != 0)
		log_warn("tags: cannot drop deleted tags from the index of '%s': %s", name,
			 err.message);
}

int tag_index_rebuild(const char *name, int64_t settled_ms, size_t *count, berth_error *err)
{
	layout_key key;
	berth_stat st = {0};
	berth_error ignored = {0};
	name_list tags = {0}, kept = {0};
	int rc;

	if (layout_tag_list(key, name) != 0)
		return error_set(err, BERTH_E_NAME, "invalid repository name");
	repo_lock(name);
	rc = tags_collect(name, &tags, err);
	if (rc == 0 && storage_stat(key, &st, &ignored) == 0 && st.mtime_ms >= settled_ms &&
	    tag_index_read(name, &kept, &ignored) == 0) {
		for (size_t i = 0; i < kept.n; i++)
			name_list_add(&tags, kept.v[i]);
		name_list_sort(&tags);
		name_list_dedupe(&tags);
	}
	*count = tags.n;
	if (rc == 0)
		rc = publish(name, key, &tags, err);
	repo_unlock(name);
	name_list_free(&kept);
	name_list_free(&tags);
	return rc;
}

int tag_index_read(const char *name, name_list *out, berth_error *err)
{
	layout_key key;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (layout_tag_list(key, name) != 0)
		return error_set(err, BERTH_E_NAME, "invalid repository name");
	rc = storage_read_small(key, TAG_INDEX_MAX, &text, &len, err);
	if (rc != 0)
		return rc;
	rc = name_list_parse_lines(out, text, len, TAG_MAX, tag_valid);
	free(text);
	return rc == 0 ? 0 : error_set(err, rc, "out of memory reading the tags of '%s'", name);
}

void tag_index_reset(void)
{
	tag_snapshot *old[TAG_INDEX_CACHED];
	size_t n = 0;

	pthread_mutex_lock(&cache.lock);
	for (size_t i = 0; i < TAG_INDEX_CACHED; i++) {
		cache_slot *c = &cache.slot[i];
		if (c->snap && --c->snap->refs == 0)
			old[n++] = c->snap;
		c->snap = NULL;
		c->repo[0] = '\0';
	}
	pthread_mutex_unlock(&cache.lock);
	for (size_t i = 0; i < n; i++) {
		name_list_free(&old[i]->tags);
		free(old[i]);
	}
}

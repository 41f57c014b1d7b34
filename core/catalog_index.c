/*
 * catalog_index.c - the repository index (see catalog_index.h).
 */
#include "catalog_index.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "layout.h"
#include "log.h"
#include "reference.h"
#include "registry.h"
#include "storage.h"

#define INDEX_KEY LAYOUT_BERTH "/catalog"
/* Names are at most 255 bytes; a million of them is a generous bound. */
#define INDEX_MAX (256u * 1024 * 1024)

static struct {
	pthread_rwlock_t lock;
	pthread_mutex_t write_lock;   /* one rewrite of the file at a time */
	name_list names;              /* sorted, unique */
	int loaded;
	int64_t mtime_ms;             /* of the file when last read or written */
} idx = {
	.lock = PTHREAD_RWLOCK_INITIALIZER,
	.write_lock = PTHREAD_MUTEX_INITIALIZER,
};

static int64_t file_mtime(void)
{
	berth_stat st = {0};
	berth_error err = {0};

	return storage_stat(INDEX_KEY, &st, &err) == 0 ? st.mtime_ms : -1;
}

/* Read the file into a fresh list; walk and write it when there is none. */
static int read_or_build(name_list *out, int64_t *mtime, berth_error *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	*mtime = file_mtime();
	rc = storage_read_small(INDEX_KEY, INDEX_MAX, &text, &len, err);
	if (rc == 0) {
		rc = name_list_parse_lines(out, text, len, REPO_NAME_MAX, repo_name_valid);
		free(text);
		return rc == 0 ? 0 : error_set(err, rc, "out of memory reading the catalog index");
	}
	if (rc != BERTH_E_NOT_FOUND)
		return rc;
	memset(err, 0, sizeof(*err));
	log_info("catalog: no index in this storage yet; walking the repositories once");
	rc = catalog_collect(out, err);
	if (rc == 0 && out->failed)
		rc = error_set(err, BERTH_E_NOMEM, "out of memory walking the repositories");
	if (rc == 0 && name_list_write_lines(INDEX_KEY, out, "the catalog index", err) == 0)
		*mtime = file_mtime();
	else if (rc == 0)
		log_warn("catalog: cannot write the index: %s", err->message);
	if (rc == 0)
		memset(err, 0, sizeof(*err));
	return rc;
}

/* Load on first use, and again when another process changed the file. */
static int fresh(berth_error *err)
{
	name_list l = {0};
	int64_t mtime, now;
	int rc;

	pthread_rwlock_rdlock(&idx.lock);
	rc = idx.loaded;
	mtime = idx.mtime_ms;
	pthread_rwlock_unlock(&idx.lock);
	now = rc ? file_mtime() : 0;
	if (rc && now == mtime)
		return 0;
	rc = read_or_build(&l, &now, err);
	if (rc != 0) {
		name_list_free(&l);
		return rc;
	}
	pthread_rwlock_wrlock(&idx.lock);
	name_list_free(&idx.names);
	idx.names = l;
	idx.loaded = 1;
	idx.mtime_ms = now;
	pthread_rwlock_unlock(&idx.lock);
	return 0;
}

int catalog_index_page(const char *last, long max, int (*keep)(void *ctx, const char *name),
		       void *ctx, name_list *out, berth_error *err)
{
	size_t i;
	int rc = fresh(err);

	if (rc != 0)
		return rc;
	pthread_rwlock_rdlock(&idx.lock);
	i = last ? name_list_bound(&idx.names, last, 1) : 0;
	for (; i < idx.names.n && (max < 0 || out->n < (size_t)max); i++) {
		if (keep && !keep(ctx, idx.names.v[i]))
			continue;
		if (name_list_add(out, idx.names.v[i]) != 0)
			break;
	}
	pthread_rwlock_unlock(&idx.lock);
	if (out->failed)
		return error_set(err, BERTH_E_NOMEM, "out of memory listing repositories");
	return 0;
}

void catalog_index_note(const char *name)
{
	berth_error err = {0};
	size_t at;
	int known;

	pthread_rwlock_rdlock(&idx.lock);
	at = name_list_bound(&idx.names, name, 0);
	known = idx.loaded && at < idx.names.n && strcmp(idx.names.v[at], name) == 0;
	pthread_rwlock_unlock(&idx.lock);
	if (known)
		return;

	pthread_mutex_lock(&idx.write_lock);
	/* Another node may have written the file meanwhile: start from it. */
	if (fresh(&err) != 0) {
		log_warn("catalog: cannot read the index to add '%s': %s", name, err.message);
		goto out;
	}
	pthread_rwlock_wrlock(&idx.lock);
	at = name_list_bound(&idx.names, name, 0);
	if (at < idx.names.n && strcmp(idx.names.v[at], name) == 0) {
		pthread_rwlock_unlock(&idx.lock);
		goto out;
	}
	if (name_list_add(&idx.names, name) == 0) {
		/* Move the new name from the end into its place. */
		char *v = idx.names.v[idx.names.n - 1];
		memmove(&idx.names.v[at + 1], &idx.names.v[at],
			(idx.names.n - 1 - at) * sizeof(*idx.names.v));
		idx.names.v[at] = v;
	}
	if (name_list_write_lines(INDEX_KEY, &idx.names, "the catalog index", &err) == 0)
		idx.mtime_ms = file_mtime();
	else
		log_warn("catalog: cannot write the index with '%s': %s", name, err.message);
	pthread_rwlock_unlock(&idx.lock);
out:
	pthread_mutex_unlock(&idx.write_lock);
}

int catalog_index_replace(const name_list *walked, berth_error *err)
{
	name_list copy = {0};
	int rc = 0;

	for (size_t i = 0; i < walked->n; i++)
		if (name_list_add(&copy, walked->v[i]) != 0)
			return error_set(err, BERTH_E_NOMEM, "out of memory");
	name_list_sort(&copy);
	pthread_mutex_lock(&idx.write_lock);
	/* A repository created while the walk was under way is in the index
	 * but not in the walk: keep what still exists. */
	pthread_rwlock_rdlock(&idx.lock);
	for (size_t i = 0; i < idx.names.n; i++) {
		layout_key key;
		size_t at = name_list_bound(&copy, idx.names.v[i], 0);
		if (at < copy.n && strcmp(copy.v[at], idx.names.v[i]) == 0)
			continue;
		if (layout_repo_dir(key, idx.names.v[i]) == 0 && storage_exists(key))
			name_list_add(&copy, idx.names.v[i]);
	}
	pthread_rwlock_unlock(&idx.lock);
	name_list_sort(&copy);
	if (copy.failed) {
		pthread_mutex_unlock(&idx.write_lock);
		name_list_free(&copy);
		return error_set(err, BERTH_E_NOMEM, "out of memory");
	}
	rc = name_list_write_lines(INDEX_KEY, &copy, "the catalog index", err);
	pthread_rwlock_wrlock(&idx.lock);
	name_list_free(&idx.names);
	idx.names = copy;
	idx.loaded = 1;
	idx.mtime_ms = file_mtime();
	pthread_rwlock_unlock(&idx.lock);
	pthread_mutex_unlock(&idx.write_lock);
	return rc;
}

void catalog_index_reset(void)
{
	pthread_rwlock_wrlock(&idx.lock);
	name_list_free(&idx.names);
	idx.loaded = 0;
	idx.mtime_ms = 0;
	pthread_rwlock_unlock(&idx.lock);
}

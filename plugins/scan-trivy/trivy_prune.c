/*
 * trivy_prune.c - the job scan-trivy-prune: forget the reports of manifest
 * digests that no repository holds any more (deleted images), so the
 * plugin's folder does not grow forever.
 *
 * A digest is looked for first in the repository its report was imported
 * through (where it almost always still is), then in every repository.
 * The check and the removal of one digest happen under the import lock,
 * so a report imported meanwhile on this node is never lost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trivy_plugin.h"

typedef struct names {
	char **v;
	size_t n, cap;
	int failed;
} names;

static int add_name(void *ctx, const char *name)
{
	names *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **nv = realloc(l->v, cap * sizeof(*nv));
		if (!nv) {
			l->failed = 1;
			return 1;
		}
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n] = strdup(name);
	if (!l->v[l->n]) {
		l->failed = 1;
		return 1;
	}
	l->n++;
	return 0;
}

static int add_dir(void *ctx, const char *name, int is_dir)
{
	return is_dir ? add_name(ctx, name) : 0;
}

static void names_free(names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int ignore_manifest(void *ctx, const berth_manifest *m)
{
	(void)ctx;
	(void)m;
	return 0;
}

/* 1 when some repository holds digest, 0 when none, negative on error. */
static int held_anywhere(struct scan_trivy *st, const char *digest, const names *repos)
{
	berth_error err = {0};
	json_t *summary = NULL;
	const char *first = NULL;
	int rc;

	if (trivy_store_read_json(st, digest, TRIVY_FILE_SUMMARY, &summary, &err) == 0)
		first = json_string_value(json_object_get(summary, "imported_to"));
	rc = first ? st->host->read_manifest(first, digest, ignore_manifest, NULL, &err)
		   : BERTH_E_NOT_FOUND;
	json_decref(summary);
	if (rc == 0)
		return 1;
	for (size_t i = 0; i < repos->n; i++) {
		rc = st->host->read_manifest(repos->v[i], digest, ignore_manifest, NULL, &err);
		if (rc == 0)
			return 1;
		if (rc != BERTH_E_NOT_FOUND && rc != BERTH_E_NAME)
			return rc;
	}
	return 0;
}

static int prune_run(void *state, berth_job_run *run, berth_error *err)
{
	struct scan_trivy *st = state;
	const berth_host *host = st->host;
	int dry = host->job_dry_run(run);
	names repos = {0}, algs = {0};
	size_t kept = 0, removed = 0;
	int rc;

	rc = host->list_repositories(add_name, &repos, err);
	if (rc == 0)
		rc = host->data_list(st->self, "reports", add_dir, &algs, err);
	if (rc == 0 && (repos.failed || algs.failed))
		rc = trivy_fail(err, BERTH_E_NOMEM, "out of memory");
	for (size_t a = 0; rc == 0 && a < algs.n; a++) {
		names hexes = {0};
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "reports/%.40s", algs.v[a]);
		rc = host->data_list(st->self, prefix, add_dir, &hexes, err);
		for (size_t i = 0; rc == 0 && i < hexes.n; i++) {
			char digest[TRIVY_DIGEST_MAX + 64];
			int held;

			snprintf(digest, sizeof(digest), "%s:%s", algs.v[a], hexes.v[i]);
			if (!trivy_digest_valid(digest))
				continue;
			pthread_mutex_lock(&st->import_lock);
			held = held_anywhere(st, digest, &repos);
			if (held == 0 && !dry) {
				rc = trivy_store_remove(st, digest, err);
				trivy_cache_invalidate(st->cache, digest);
			}
			pthread_mutex_unlock(&st->import_lock);
			if (held < 0) {
				rc = trivy_fail(err, held, "cannot tell whether %s is still stored",
						digest);
			} else if (held == 0 && rc == 0) {
				removed++;
				host->job_print(run, "%s report of %s: no repository holds it",
						dry ? "would remove" : "removed", digest);
			} else {
				kept++;
			}
		}
		if (rc == 0 && hexes.failed)
			rc = trivy_fail(err, BERTH_E_NOMEM, "out of memory");
		names_free(&hexes);
	}
	if (rc == 0)
		host->job_print(run, "%zu reports kept, %zu %s", kept, removed,
				dry ? "would be removed" : "removed");
	names_free(&repos);
	names_free(&algs);
	return rc;
}

static const berth_job prune_job = {
	.size = sizeof(berth_job),
	.name = "scan-trivy-prune",
	.description = "remove the reports of manifests no repository holds any more",
	.schedule = "daily 04:15",
	.run = prune_run,
};

const berth_job *const trivy_jobs[] = {&prune_job, NULL};

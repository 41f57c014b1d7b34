/*
 * catalog.c - GET /v2/_catalog with n/last pagination, served from the
 * repository index (catalog_index.c); the walk below builds that index
 * where there is none, and garbage collection walks with it.
 *
 * Walks repositories/ the way Distribution does: a folder is a repository
 * when it holds _manifests or _layers; folders whose names start with '_'
 * are the repository's own data and are not descended into.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_index.h"
#include "errors.h"
#include "hooks.h"
#include "layout.h"
#include "log.h"
#include "name_list.h"
#include "reference.h"
#include "registry.h"
#include "storage.h"

/* Repository names are at most 255 bytes: at most 128 levels deep. */
#define CATALOG_MAX_DEPTH 128

static int walk(const char *prefix, const char *name, int depth, name_list *out,
		berth_error *err)
{
	name_list children = {0};
	char key[LAYOUT_KEY_MAX], child[REPO_NAME_MAX + 2];
	int is_repo = 0, rc;

	if (depth > CATALOG_MAX_DEPTH)
		return 0;
	if ((size_t)snprintf(key, sizeof(key), "%s%s%s", prefix, name[0] ? "/" : "", name) >=
	    sizeof(key))
		return 0;
	rc = storage_list(key, name_list_collect_dirs, &children, err);
	if (rc != 0)
		goto out;
	for (size_t i = 0; i < children.n; i++) {
		const char *c = children.v[i];
		if (c[0] == '_') {
			if (strcmp(c, "_manifests") == 0 || strcmp(c, "_layers") == 0)
				is_repo = 1;
			continue;
		}
		if ((size_t)snprintf(child, sizeof(child), "%s%s%s", name, name[0] ? "/" : "",
				     c) >= sizeof(child))
			continue;
		rc = walk(prefix, child, depth + 1, out, err);
		if (rc != 0 && rc != BERTH_E_NOT_FOUND)
			goto out;
		rc = 0;
	}
	if (is_repo && name[0] && repo_name_valid(name))
		name_list_add(out, name);
out:
	name_list_free(&children);
	return rc;
}

int catalog_collect(name_list *out, berth_error *err)
{
	int rc = walk(LAYOUT_REPOSITORIES, "", 0, out, err);

	if (rc == BERTH_E_NOT_FOUND)
		rc = 0;
	name_list_sort(out);
	return rc;
}

/*
 * Keep only the repositories the client may pull: a catalog must not
 * reveal the names of repositories one cannot see. Asked of the auth
 * hooks like any access, without answering the client.
 */
static int pullable(void *ctx, const char *name)
{
	berth_access acc = {.type = "repository", .name = name, .action = "pull"};

	return hooks_allowed(ctx, &acc);
}

/*
 * registry.catalog: walk, for a root another registry writes at the same
 * time (it does not keep Berth's index): every request walks the storage,
 * as Distribution does.
 */
static int walk_page(const char *last, long max, int (*keep)(void *ctx, const char *name),
		     void *ctx, name_list *out, berth_error *err)
{
	name_list all = {0};
	int rc = catalog_collect(&all, err);

	for (size_t i = 0; rc == 0 && i < all.n && (max < 0 || out->n < (size_t)max); i++) {
		if (last && strcmp(all.v[i], last) <= 0)
			continue;
		if (keep && !keep(ctx, all.v[i]))
			continue;
		if (name_list_add(out, all.v[i]) != 0)
			rc = error_set(err, BERTH_E_NOMEM, "out of memory listing repositories");
	}
	name_list_free(&all);
	return rc;
}

void catalog_list(http_request *req)
{
	name_list repos = {0};
	berth_error err = {0};
	const char *last;
	json_t *doc;
	long n;
	int rc;

	if (registry_pagination(req, &n, &last) < 0)
		return;
	/* One more than the page, to know whether to send a Link. */
	if (registry_settings_get()->catalog_walk)
		rc = walk_page(last, n >= 0 ? n + 1 : -1, hooks_have_auth() ? pullable : NULL, req,
			       &repos, &err);
	else
		rc = catalog_index_page(last, n >= 0 ? n + 1 : -1,
					hooks_have_auth() ? pullable : NULL, req, &repos, &err);
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		goto out;
	}
	doc = json_object();
	registry_respond_page(req, doc, "repositories", &repos, n, NULL, "/v2/_catalog");
	json_decref(doc);
out:
	name_list_free(&repos);
}

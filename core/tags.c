/*
 * tags.c - GET /v2/<name>/tags/list with n/last pagination, served from the
 * repository's tag index (tag_index.c); with registry.catalog: walk (a root
 * another registry writes) every request lists the tags folder instead.
 */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "layout.h"
#include "name_list.h"
#include "reference.h"
#include "registry.h"
#include "storage.h"
#include "tag_index.h"

void registry_respond_page(http_request *req, json_t *doc, const char *key, const name_list *l,
			   long n, const char *last, const char *path)
{
	json_t *arr = json_array();
	char link[LAYOUT_KEY_MAX + 128];
	size_t i = 0, taken = 0;
	int more = 0;

	if (last)
		while (i < l->n && strcmp(l->v[i], last) <= 0)
			i++;
	for (; i < l->n; i++) {
		if (n >= 0 && taken == (size_t)n) {
			more = 1;
			break;
		}
		json_array_append_new(arr, json_string(l->v[i]));
		taken++;
	}
	json_object_set_new(doc, key, arr);
	if (more && taken > 0) {
		registry_next_link(link, sizeof(link), path, n, l->v[i - 1]);
		http_respond_json(req, MHD_HTTP_OK, doc, NULL,
				  (const char *const[]){"Link", link, NULL});
	} else {
		http_respond_json(req, MHD_HTTP_OK, doc, NULL, NULL);
	}
}

int tags_collect(const char *name, name_list *out, berth_error *err)
{
	layout_key key;
	name_list l = {0};
	int rc;

	if (layout_tags_dir(key, name) != 0)
		return error_set(err, BERTH_E_NAME, "invalid repository name");
	rc = storage_list(key, name_list_collect_dirs, &l, err);
	if (rc == BERTH_E_NOT_FOUND) {
		/* A repository with blobs or untagged manifests has no tags
		 * folder yet: that is an empty list, not an unknown name. */
		layout_repo_dir(key, name);
		rc = storage_exists(key) ? 0
					 : error_set(err, BERTH_E_NOT_FOUND,
						     "repository '%s' is not known to the registry",
						     name);
	}
	for (size_t i = 0; rc == 0 && i < l.n; i++)
		if (tag_valid(l.v[i]))
			name_list_add(out, l.v[i]);
	name_list_sort(out);
	name_list_free(&l);
	return rc;
}

typedef struct tag_page_ctx {
	const char *name;
	const char *last;
} tag_page_ctx;

/*
 * A tag is listed only when its current link exists: the index names a
 * tag before its link is written and after it is deleted, and a tag
 * folder written by Distribution appears before its link is renamed into
 * it, so a crash (or a push or delete under way) can leave a name without.
 */
static int resolvable(void *ctx, const char *tag)
{
	const tag_page_ctx *p = ctx;
	layout_key cur;

	if (p->last && strcmp(tag, p->last) <= 0)
		return 0;
	return layout_tag_current(cur, p->name, tag) == 0 && storage_exists(cur);
}

/*
 * The tags after `last` that resolve, at most n + 1 (all when n < 0), so
 * that the caller knows whether to send a Link. From the index, a page
 * costs one binary search and its own lookups whatever the number of tags.
 */
static int tags_page(const char *name, const char *last, long n, name_list *page,
		     berth_error *err)
{
	tag_page_ctx ctx = {name, last};
	long max = n >= 0 ? n + 1 : -1;
	name_list all = {0};
	int rc;

	if (!registry_settings_get()->catalog_walk)
		return tag_index_page(name, last, max, resolvable, &ctx, page, err);
	rc = tags_collect(name, &all, err);
	for (size_t i = 0; rc == 0 && i < all.n && (max < 0 || page->n < (size_t)max); i++)
		if (resolvable(&ctx, all.v[i]) && name_list_add(page, all.v[i]) != 0)
			rc = error_set(err, BERTH_E_NOMEM, "out of memory listing tags");
	name_list_free(&all);
	return rc;
}

void tags_list(http_request *req)
{
	name_list page = {0};
	berth_error err = {0};
	const char *last;
	char path[LAYOUT_KEY_MAX];
	json_t *doc;
	long n;
	int rc;

	if (registry_pagination(req, &n, &last) < 0)
		return;
	rc = tags_page(req->rt.name, last, n, &page, &err);
	if (rc == BERTH_E_NOT_FOUND) {
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_NAME_UNKNOWN, "%s", err.message);
		goto out;
	}
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		goto out;
	}
	doc = json_object();
	json_object_set_new(doc, "name", json_string(req->rt.name));
	snprintf(path, sizeof(path), "/v2/%s/tags/list", req->rt.name);
	registry_respond_page(req, doc, "tags", &page, n, NULL, path);
	json_decref(doc);
out:
	name_list_free(&page);
}

/*
 * tags.c - GET /v2/<name>/tags/list with n/last pagination.
 */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "layout.h"
#include "name_list.h"
#include "reference.h"
#include "registry.h"
#include "storage.h"

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

/*
 * The tags after `last` that resolve, at most n + 1 (all when n < 0). A tag
 * folder appears before its current link is renamed into it, so a crash
 * (or a delete under way) can leave one without: it is not listed. Only
 * the candidates of the page are checked, so a page costs n + 1 lookups
 * whatever the number of tags.
 */
static int resolvable_page(const char *name, const name_list *tags, const char *last, long n,
			   name_list *page)
{
	for (size_t i = 0; i < tags->n && (n < 0 || page->n < (size_t)n + 1); i++) {
		layout_key cur;
		if (last && strcmp(tags->v[i], last) <= 0)
			continue;
		if (layout_tag_current(cur, name, tags->v[i]) != 0 || !storage_exists(cur))
			continue;
		if (name_list_add(page, tags->v[i]) != 0)
			return BERTH_E_NOMEM;
	}
	return 0;
}

void tags_list(http_request *req)
{
	name_list tags = {0}, page = {0};
	berth_error err = {0};
	const char *last;
	char path[LAYOUT_KEY_MAX];
	json_t *doc;
	long n;
	int rc;

	if (registry_pagination(req, &n, &last) < 0)
		return;
	rc = tags_collect(req->rt.name, &tags, &err);
	if (rc == BERTH_E_NOT_FOUND) {
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_NAME_UNKNOWN, "%s", err.message);
		goto out;
	}
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		goto out;
	}
	rc = resolvable_page(req->rt.name, &tags, last, n, &page);
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    "out of memory listing tags");
		goto out;
	}
	doc = json_object();
	json_object_set_new(doc, "name", json_string(req->rt.name));
	snprintf(path, sizeof(path), "/v2/%s/tags/list", req->rt.name);
	registry_respond_page(req, doc, "tags", &page, n, NULL, path);
	json_decref(doc);
out:
	name_list_free(&page);
	name_list_free(&tags);
}

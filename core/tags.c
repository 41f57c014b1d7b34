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

void tags_list(http_request *req)
{
	layout_key key;
	name_list l = {0}, valid = {0};
	berth_error err = {0};
	const char *last;
	char path[LAYOUT_KEY_MAX];
	json_t *doc;
	long n;
	int rc;

	if (registry_pagination(req, &n, &last) < 0)
		return;
	layout_tags_dir(key, req->rt.name);
	rc = storage_list(key, name_list_collect_dirs, &l, &err);
	if (rc == BERTH_E_NOT_FOUND) {
		/* A repository with blobs or untagged manifests has no tags
		 * folder yet: that is an empty list, not an unknown name. */
		layout_repo_dir(key, req->rt.name);
		if (!storage_exists(key)) {
			http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_NAME_UNKNOWN,
					   "repository '%s' is not known to the registry",
					   req->rt.name);
			goto out;
		}
	} else if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		goto out;
	}
	for (size_t i = 0; i < l.n; i++)
		if (tag_valid(l.v[i]))
			name_list_add(&valid, l.v[i]);
	name_list_sort(&valid);
	doc = json_object();
	json_object_set_new(doc, "name", json_string(req->rt.name));
	snprintf(path, sizeof(path), "/v2/%s/tags/list", req->rt.name);
	registry_respond_page(req, doc, "tags", &valid, n, last, path);
	json_decref(doc);
out:
	name_list_free(&l);
	name_list_free(&valid);
}

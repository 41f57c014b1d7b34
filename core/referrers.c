/*
 * referrers.c - GET /v2/<name>/referrers/<digest>, and the index behind it.
 *
 * Each referrer is one small file under the repository's _berth/ folder
 * holding the descriptor the referrers response lists, written when the
 * manifest is pushed. Answering is a list and a few small reads: no
 * manifest is parsed per request.
 */
#include "referrers.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "layout.h"
#include "log.h"
#include "media_types.h"
#include "name_list.h"
#include "registry.h"
#include "storage.h"

int referrers_add(const char *name, const digest *d, uint64_t size, const manifest_info *m,
		  berth_error *err)
{
	layout_key key;
	char ds[DIGEST_STRING_MAX];
	json_t *desc = json_object();
	char *text = NULL;
	int rc;

	digest_format(d, ds);
	json_object_set_new(desc, "mediaType", json_string(m->media_type));
	json_object_set_new(desc, "digest", json_string(ds));
	json_object_set_new(desc, "size", json_integer((json_int_t)size));
	if (m->artifact_type)
		json_object_set_new(desc, "artifactType", json_string(m->artifact_type));
	if (m->annotations_json) {
		json_t *a = json_loads(m->annotations_json, 0, NULL);
		if (a)
			json_object_set_new(desc, "annotations", a);
	}
	text = json_dumps(desc, JSON_COMPACT);
	json_decref(desc);
	if (!text)
		return error_set(err, BERTH_E_NOMEM, "cannot encode the referrer descriptor");
	rc = layout_referrer_entry(key, name, &m->subject.digest, d);
	if (rc == 0)
		rc = storage_write_all(key, text, strlen(text), err);
	free(text);
	return rc;
}

void referrers_remove(const char *name, const digest *subject, const digest *d)
{
	layout_key key;
	berth_error err = {0};

	if (layout_referrer_entry(key, name, subject, d) != 0)
		return;
	if (storage_remove(key, &err) != 0 && err.code != BERTH_E_NOT_FOUND)
		log_warn("cannot remove referrer entry '%s': %s", key, err.message);
}

void referrers_list(http_request *req)
{
	const char *filter = http_query(req, "artifactType");
	layout_key dir, key;
	name_list l = {0};
	berth_error err = {0};
	json_t *doc, *manifests;
	digest subject;
	int rc;

	if (blob_digest_from_route(req, &subject) < 0)
		return;
	layout_referrers_dir(dir, req->rt.name, &subject);
	rc = storage_list(dir, name_list_collect_files, &l, &err);
	if (rc != 0 && rc != BERTH_E_NOT_FOUND) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		goto out;
	}
	name_list_sort(&l);

	doc = json_object();
	manifests = json_array();
	json_object_set_new(doc, "schemaVersion", json_integer(2));
	json_object_set_new(doc, "mediaType", json_string(MEDIA_TYPE_OCI_INDEX));
	for (size_t i = 0; i < l.n; i++) {
		char *text = NULL;
		size_t len = 0;
		json_t *desc;
		const char *at;
		if ((size_t)snprintf(key, sizeof(key), "%s/%s", dir, l.v[i]) >= sizeof(key))
			continue;
		if (storage_read_small(key, 1024 * 1024, &text, &len, &err) != 0)
			continue;
		desc = json_loadb(text, len, 0, NULL);
		free(text);
		if (!json_is_object(desc)) {
			json_decref(desc);
			continue;
		}
		at = json_string_value(json_object_get(desc, "artifactType"));
		if (filter && (!at || strcmp(at, filter) != 0)) {
			json_decref(desc);
			continue;
		}
		json_array_append_new(manifests, desc);
	}
	json_object_set_new(doc, "manifests", manifests);
	http_respond_json(req, MHD_HTTP_OK, doc, MEDIA_TYPE_OCI_INDEX,
			  filter ? (const char *const[]){"OCI-Filters-Applied", "artifactType", NULL}
				 : NULL);
	json_decref(doc);
out:
	name_list_free(&l);
}

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

int referrers_each(const char *name, const digest *subject,
		   int (*fn)(void *ctx, json_t *desc), void *ctx, berth_error *err)
{
	layout_key dir, key;
	name_list l = {0};
	int rc;

	if (layout_referrers_dir(dir, name, subject) != 0)
		return error_set(err, BERTH_E_NAME, "invalid repository name");
	rc = storage_list(dir, name_list_collect_files, &l, err);
	if (rc == BERTH_E_NOT_FOUND) {
		memset(err, 0, sizeof(*err));
		rc = 0;
	}
	if (rc != 0)
		goto out;
	name_list_sort(&l);
	for (size_t i = 0; i < l.n; i++) {
		char *text = NULL;
		size_t len = 0;
		berth_error e2 = {0};
		json_t *desc;
		int stop;
		if ((size_t)snprintf(key, sizeof(key), "%s/%s", dir, l.v[i]) >= sizeof(key))
			continue;
		/* An entry removed since the list is simply no longer a referrer. */
		if (storage_read_small(key, 1024 * 1024, &text, &len, &e2) != 0)
			continue;
		desc = json_loadb(text, len, 0, NULL);
		free(text);
		if (!json_is_object(desc) || !json_is_string(json_object_get(desc, "digest"))) {
			json_decref(desc);
			continue;
		}
		stop = fn(ctx, desc);
		json_decref(desc);
		if (stop)
			break;
	}
out:
	name_list_free(&l);
	return rc;
}

typedef struct list_ctx {
	const char *filter;
	json_t *manifests;
} list_ctx;

static int add_desc(void *ctx, json_t *desc)
{
	list_ctx *c = ctx;
	const char *at = json_string_value(json_object_get(desc, "artifactType"));

	if (!c->filter || (at && strcmp(at, c->filter) == 0))
		json_array_append(c->manifests, desc);
	return 0;
}

void referrers_list(http_request *req)
{
	const char *filter = http_query(req, "artifactType");
	berth_error err = {0};
	list_ctx c = {.filter = filter};
	json_t *doc;
	digest subject;
	int rc;

	if (blob_digest_from_route(req, &subject) < 0)
		return;
	c.manifests = json_array();
	rc = referrers_each(req->rt.name, &subject, add_desc, &c, &err);
	if (rc != 0) {
		json_decref(c.manifests);
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		return;
	}
	doc = json_object();
	json_object_set_new(doc, "schemaVersion", json_integer(2));
	json_object_set_new(doc, "mediaType", json_string(MEDIA_TYPE_OCI_INDEX));
	json_object_set_new(doc, "manifests", c.manifests);
	http_respond_json(req, MHD_HTTP_OK, doc, MEDIA_TYPE_OCI_INDEX,
			  filter ? (const char *const[]){"OCI-Filters-Applied", "artifactType", NULL}
				 : NULL);
	json_decref(doc);
}

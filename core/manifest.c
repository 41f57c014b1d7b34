/*
 * manifest.c - GET, HEAD, PUT and DELETE of manifests by tag or digest.
 *
 * A pushed manifest is validated (manifest_validate.c), every blob and child
 * manifest it names must already be in the repository, and only then is it
 * written, in the order that keeps a crash harmless: the bytes as a blob,
 * the revision link, the tag's name in the repository's tag index
 * (tag_index.h), the tag's current link (the one atomic rename that makes
 * the tag point at it), and last the tag's history entry. A deleted tag
 * leaves the tag index after its folder is gone: the index may name a tag
 * that does not exist, never miss one that does.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_index.h"
#include "errors.h"
#include "events.h"
#include "gc_barrier.h"
#include "hooks.h"
#include "layout.h"
#include "locks.h"
#include "log.h"
#include "manifest_cache.h"
#include "manifest_validate.h"
#include "media_types.h"
#include "name_list.h"
#include "pull_times.h"
#include "reference.h"
#include "referrers.h"
#include "registry.h"
#include "storage.h"
#include "tag_index.h"

/* Manifests stored before a limit was lowered must still be served. */
#define MANIFEST_READ_MAX (64u * 1024 * 1024)

typedef struct accept_buf {
	char *buf;
	size_t len, cap;
} accept_buf;

static enum MHD_Result collect_accept(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	accept_buf *a = cls;
	size_t n;

	if (strcasecmp(key, MHD_HTTP_HEADER_ACCEPT) != 0 || !value)
		return MHD_YES;
	n = strlen(value);
	if (a->len + n + 3 > a->cap)
		return MHD_NO;
	if (a->len) {
		memcpy(a->buf + a->len, ", ", 2);
		a->len += 2;
	}
	memcpy(a->buf + a->len, value, n);
	a->len += n;
	a->buf[a->len] = '\0';
	return MHD_YES;
}

/* Docker sends one Accept header per media type: join them all. */
static const char *accept_header(http_request *req, char *buf, size_t cap)
{
	accept_buf a = {buf, 0, cap};

	buf[0] = '\0';
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_accept, &a);
	return a.len ? buf : NULL;
}

int manifest_resolve(const char *name, const char *ref, digest *d, int *by_tag, berth_error *err)
{
	layout_key key;
	int kind = reference_classify(ref, d);
	int rc;

	if (by_tag)
		*by_tag = kind == REF_TAG;
	if (kind == REF_INVALID || kind == REF_UNSUPPORTED)
		return error_set(err, BERTH_E_INVALID,
				 kind == REF_UNSUPPORTED
					 ? "unsupported digest algorithm in reference '%s'"
					 : "invalid reference '%s': not a tag or a digest",
				 ref);
	if (kind == REF_TAG) {
		if (layout_tag_current(key, name, ref) != 0)
			return error_set(err, BERTH_E_INVALID, "invalid tag '%s'", ref);
		rc = storage_read_link(key, d, err);
	} else {
		if (layout_revision_link(key, name, d) != 0)
			return error_set(err, BERTH_E_NAME, "invalid repository name");
		rc = storage_exists(key) ? 0 : BERTH_E_NOT_FOUND;
	}
	if (rc == BERTH_E_NOT_FOUND)
		return error_set(err, BERTH_E_NOT_FOUND, "manifest '%s' is unknown to repository '%s'",
				 ref, name);
	return rc;
}

/*
 * Resolve the route's reference to a manifest digest of the repository.
 * Answers the request and returns < 0 when it cannot.
 */
static int resolve(http_request *req, digest *d, int *by_tag)
{
	berth_error err = {0};
	int rc = manifest_resolve(req->rt.name, req->rt.ref, d, by_tag, &err);

	if (rc == BERTH_E_INVALID)
		http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_MANIFEST_INVALID, "%s", err.message);
	else if (rc == BERTH_E_NOT_FOUND)
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_MANIFEST_UNKNOWN, "%s", err.message);
	else if (rc != 0)
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
	return rc == 0 ? 0 : -1;
}

void manifest_get(http_request *req)
{
	digest d;
	char ds[DIGEST_STRING_MAX], etag[DIGEST_STRING_MAX + 2], accept[8192];
	layout_key key;
	berth_error err = {0};
	char *body = NULL;
	size_t len = 0;
	const char *mt, *acc;
	int by_tag, rc;

	if (resolve(req, &d, &by_tag) < 0)
		return;
	digest_format(&d, ds);
	if (!manifest_cache_get(&d, &body, &len, &mt)) {
		layout_blob_data(key, &d);
		rc = storage_read_small(key, MANIFEST_READ_MAX, &body, &len, &err);
		if (rc == BERTH_E_NOT_FOUND) {
			http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_MANIFEST_UNKNOWN,
					   "manifest %s is linked but its data is missing", ds);
			return;
		}
		if (rc != 0) {
			http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
					    err.message);
			return;
		}
		mt = manifest_media_type_of(body, len);
		manifest_cache_put(&d, body, len, mt);
	}
	/* Fetches by digest name exact content, so Accept only steers tags. */
	acc = accept_header(req, accept, sizeof(accept));
	if (by_tag && acc && !accept_allows(acc, mt)) {
		free(body);
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_MANIFEST_UNKNOWN,
				   "manifest '%s' is of type %s, which the Accept header does not "
				   "list",
				   req->rt.ref, mt);
		return;
	}
	{
		berth_manifest bm = {
			.size = sizeof(bm),
			.repository = req->rt.name,
			.reference = req->rt.ref,
			.digest = ds,
			.media_type = mt,
			.body = body,
			.body_len = len,
		};
		int gate = hooks_scan_gate(req, &bm, &err);
		if (gate != 0 && gate != BERTH_E_DENIED) {
			free(body);
			http_respond_status(req, gate, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
					    err.message);
			return;
		}
		if (gate != 0) {
			json_t *reason = json_pack("{s:s}", "reason", err.message);
			char *detail = reason ? json_dumps(reason, JSON_COMPACT) : NULL;
			free(body);
			json_decref(reason);
			events_emit(&(event_fields){
				.type = "pull.blocked",
				.repository = req->rt.name,
				.tag = by_tag ? req->rt.ref : NULL,
				.digest = ds,
				.media_type = mt,
				.identity = req->identity.name[0] ? req->identity.name : NULL,
				.client = req->client,
				.source = "core",
				.detail_json = detail,
			});
			free(detail);
			http_respond_error(req, MHD_HTTP_FORBIDDEN, OCI_DENIED, "%s", err.message);
			return;
		}
	}
	if (req->method == HTTP_GET) {
		pull_times_record(req->rt.name, &d);
		events_emit(&(event_fields){
			.type = "pull",
			.repository = req->rt.name,
			.tag = by_tag ? req->rt.ref : NULL,
			.digest = ds,
			.media_type = mt,
			.length = len,
			.identity = req->identity.name[0] ? req->identity.name : NULL,
			.client = req->client,
			.source = "core",
		});
	}
	snprintf(etag, sizeof(etag), "\"%s\"", ds);
	{
		const char *hdr[] = {"Docker-Content-Digest", ds, "ETag", etag, NULL};
		if (req->method == HTTP_HEAD) {
			free(body);
			http_respond_head(req, MHD_HTTP_OK, mt, len, hdr);
		} else {
			http_respond_owned(req, MHD_HTTP_OK, mt, body, len, hdr);
		}
	}
}

/* ------------------------------------------------------------------------ */

typedef struct manifest_upload {
	char *buf;
	size_t len, cap;
	int kind;          /* REF_TAG or REF_DIGEST */
	digest ref_digest;
} manifest_upload;

static int put_body(http_request *req, const char *data, size_t n)
{
	manifest_upload *mu = req->state;
	uint64_t max = registry_settings_get()->max_manifest_size;

	if (mu->len + n > max) {
		http_fail(req, MHD_HTTP_CONTENT_TOO_LARGE, OCI_SIZE_INVALID,
			  "manifest is larger than the limit of %" PRIu64 " bytes", max);
		return -1;
	}
	if (mu->len + n > mu->cap) {
		size_t cap = mu->cap ? mu->cap : 16384;
		char *nb;
		while (cap < mu->len + n)
			cap *= 2;
		if (cap > max)
			cap = (size_t)max;
		nb = realloc(mu->buf, cap);
		if (!nb) {
			http_fail(req, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				  "out of memory");
			return -1;
		}
		mu->buf = nb;
		mu->cap = cap;
	}
	memcpy(mu->buf + mu->len, data, n);
	mu->len += n;
	return 0;
}

static void put_cleanup(http_request *req, int completed)
{
	manifest_upload *mu = req->state;

	if (mu)
		free(mu->buf);
	free(mu);
	req->state = NULL;
}

/* Every blob and child must be in this repository. Records failures with http_fail. */
static int check_references(http_request *req, const manifest_info *m)
{
	layout_key key;
	char ds[DIGEST_STRING_MAX];
	int missing = 0;

	for (size_t i = 0; i < m->n_blobs; i++) {
		const manifest_ref *r = &m->blobs[i];
		if (r->is_foreign)
			continue;
		if (layout_layer_link(key, req->rt.name, &r->digest) == 0 && storage_exists(key))
			continue;
		digest_format(&r->digest, ds);
		if (!missing++)
			http_fail(req, MHD_HTTP_BAD_REQUEST, OCI_MANIFEST_BLOB_UNKNOWN,
				  "blob %s is unknown to repository '%s'", ds, req->rt.name);
		else
			http_fail_add(req, OCI_MANIFEST_BLOB_UNKNOWN,
				      "blob %s is unknown to repository '%s'", ds, req->rt.name);
	}
	for (size_t i = 0; i < m->n_children; i++) {
		const manifest_ref *r = &m->children[i];
		if (layout_revision_link(key, req->rt.name, &r->digest) == 0 &&
		    storage_exists(key))
			continue;
		digest_format(&r->digest, ds);
		/* The spec names MANIFEST_BLOB_UNKNOWN for any missing
		 * reference; MANIFEST_UNKNOWN says more about what is missing. */
		if (!missing++)
			http_fail(req, MHD_HTTP_BAD_REQUEST, OCI_MANIFEST_BLOB_UNKNOWN,
				  "manifest %s is unknown to repository '%s'", ds, req->rt.name);
		else
			http_fail_add(req, OCI_MANIFEST_BLOB_UNKNOWN,
				      "manifest %s is unknown to repository '%s'", ds,
				      req->rt.name);
		http_fail_add(req, OCI_MANIFEST_UNKNOWN, "manifest %s is unknown to repository '%s'",
			      ds, req->rt.name);
	}
	return missing ? -1 : 0;
}

/* Write the manifest into the repository; the caller holds the repository lock. */
static int store_manifest(http_request *req, const manifest_upload *mu, const digest *d,
			  const manifest_info *m, berth_error *err)
{
	layout_key key;
	int rc;

	layout_blob_data(key, d);
	if (!storage_exists(key)) {
		rc = storage_write_all(key, mu->buf, mu->len, err);
		if (rc != 0)
			return rc;
	}
	layout_revision_link(key, req->rt.name, d);
	rc = storage_write_link(key, d, err);
	if (rc != 0)
		return rc;
	if (m->has_subject) {
		rc = referrers_add(req->rt.name, d, (uint64_t)mu->len, m, err);
		if (rc != 0)
			return rc;
	}
	/* current before index: the tag folder appears with its current link,
	 * so a crash in between never lists a tag that does not resolve (the
	 * index is only the tag's history). */
	if (mu->kind == REF_TAG) {
		rc = tag_index_add(req->rt.name, req->rt.ref, err);
		if (rc != 0)
			return rc;
		layout_tag_current(key, req->rt.name, req->rt.ref);
		rc = storage_write_link(key, d, err);
		if (rc != 0)
			return rc;
		layout_tag_index_link(key, req->rt.name, req->rt.ref, d);
		rc = storage_write_link(key, d, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void put_end(http_request *req)
{
	manifest_upload *mu = req->state;
	manifest_info *m = NULL;
	berth_error err = {0};
	digest d;
	char ds[DIGEST_STRING_MAX], subject[DIGEST_STRING_MAX], loc[LAYOUT_KEY_MAX];
	int alg = mu->kind == REF_DIGEST ? mu->ref_digest.alg : DIGEST_SHA256;
	int rc;

	if (digest_compute(alg, mu->buf ? mu->buf : "", mu->len, &d) != 0) {
		http_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				   "cannot hash the manifest");
		return;
	}
	digest_format(&d, ds);
	if (mu->kind == REF_DIGEST && !digest_equal(&d, &mu->ref_digest)) {
		http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_DIGEST_INVALID,
				   "manifest pushed as %s hashes to %s", req->rt.ref, ds);
		return;
	}
	rc = manifest_validate(http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE),
			       mu->buf ? mu->buf : "", mu->len, &m, &err);
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_BAD_REQUEST, OCI_MANIFEST_INVALID,
				    err.message);
		return;
	}
	/* Protect what the manifest names before checking it exists, and store
	 * the manifest before an online collection can mark again
	 * (gc_barrier.h): a push that gets its 201 never loses a blob. */
	gc_guard_enter();
	gc_protect(&d);
	for (size_t i = 0; i < m->n_blobs; i++)
		gc_protect(&m->blobs[i].digest);
	for (size_t i = 0; i < m->n_children; i++)
		gc_protect(&m->children[i].digest);
	if (check_references(req, m) < 0) {
		gc_guard_leave();
		http_respond_failure(req, NULL);
		goto out;
	}

	repo_lock(req->rt.name);
	rc = store_manifest(req, mu, &d, m, &err);
	repo_unlock(req->rt.name);
	gc_guard_leave();
	if (rc == 0)
		catalog_index_note(req->rt.name);
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		goto out;
	}
	log_debug("manifest %s pushed to '%s' as '%s'", ds, req->rt.name, req->rt.ref);
	{
		char subj[DIGEST_STRING_MAX] = "";
		berth_manifest bm = {
			.size = sizeof(bm),
			.repository = req->rt.name,
			.reference = req->rt.ref,
			.digest = ds,
			.media_type = m->media_type,
			.body = mu->buf,
			.body_len = mu->len,
			.artifact_type = m->artifact_type,
		};
		if (m->has_subject) {
			digest_format(&m->subject.digest, subj);
			bm.subject = subj;
		}
		hooks_scan_on_push(&bm);
		events_emit(&(event_fields){
			.type = "push",
			.repository = req->rt.name,
			.tag = mu->kind == REF_TAG ? req->rt.ref : NULL,
			.digest = ds,
			.media_type = m->media_type,
			.length = mu->len,
			.identity = req->identity.name[0] ? req->identity.name : NULL,
			.client = req->client,
			.source = "core",
		});
	}
	snprintf(loc, sizeof(loc), "/v2/%s/manifests/%s", req->rt.name, ds);
	if (m->has_subject)
		digest_format(&m->subject.digest, subject);
	http_respond(req, MHD_HTTP_CREATED, NULL, "", 0,
		     (const char *const[]){"Location", loc, "Docker-Content-Digest", ds,
					   m->has_subject ? "OCI-Subject" : NULL, subject, NULL});
out:
	manifest_info_free(m);
}

void manifest_put(http_request *req)
{
	manifest_upload *mu;
	uint64_t clen = 0;
	uint64_t max = registry_settings_get()->max_manifest_size;
	int kind;
	digest d;

	kind = reference_classify(req->rt.ref, &d);
	if (kind == REF_INVALID || kind == REF_UNSUPPORTED) {
		http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_MANIFEST_INVALID,
				   kind == REF_UNSUPPORTED
					   ? "unsupported digest algorithm in reference '%s'"
					   : "invalid tag '%s'",
				   req->rt.ref);
		return;
	}
	if (http_content_length(req, &clen) > 0 && clen > max) {
		http_respond_error(req, MHD_HTTP_CONTENT_TOO_LARGE, OCI_SIZE_INVALID,
				   "manifest of %" PRIu64 " bytes is larger than the limit of %" PRIu64
				   " bytes",
				   clen, max);
		return;
	}
	mu = calloc(1, sizeof(*mu));
	if (!mu) {
		http_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				   "out of memory");
		return;
	}
	mu->kind = kind;
	mu->ref_digest = d;
	req->state = mu;
	req->body = put_body;
	req->end = put_end;
	req->cleanup = put_cleanup;
}

/* ------------------------------------------------------------------------ */

/*
 * The tags of the repository whose current link names d, into out (the
 * caller holds the repository lock). A repository without tags is 0 and
 * an empty list; a listing that fails is its error.
 */
static int tags_naming(const char *name, const digest *d, name_list *out, berth_error *err)
{
	layout_key key;
	name_list t = {0};
	int rc;

	layout_tags_dir(key, name);
	rc = storage_list(key, name_list_collect_dirs, &t, err);
	if (rc == BERTH_E_NOT_FOUND) {
		memset(err, 0, sizeof(*err));
		rc = 0;
	}
	for (size_t i = 0; rc == 0 && i < t.n; i++) {
		digest cur;
		berth_error e2 = {0};
		if (!tag_valid(t.v[i]))
			continue;
		layout_tag_current(key, name, t.v[i]);
		if (storage_read_link(key, &cur, &e2) == 0 && digest_equal(&cur, d) &&
		    name_list_add(out, t.v[i]) != 0)
			rc = error_set(err, BERTH_E_NOMEM, "out of memory listing tags");
	}
	name_list_free(&t);
	return rc;
}

/* Remove every tag of the repository that points at d (the caller holds the lock). */
static int untag_all(const char *name, const digest *d, berth_error *err)
{
	layout_key key;
	name_list t = {0}, removed = {0};
	int rc = tags_naming(name, d, &t, err);

	for (size_t i = 0; rc == 0 && i < t.n; i++) {
		layout_tag_dir(key, name, t.v[i]);
		rc = storage_remove(key, err);
		if (rc == BERTH_E_NOT_FOUND)
			rc = 0;
		if (rc == 0)
			name_list_add(&removed, t.v[i]);
	}
	/* Also after a failure: the tags already gone leave the index. */
	tag_index_remove(name, &removed);
	name_list_free(&removed);
	name_list_free(&t);
	return rc;
}

static int delete_by_digest(const char *name, const digest *d, berth_error *err)
{
	layout_key key;
	char *body = NULL;
	size_t len = 0;
	manifest_info *m = NULL;
	int rc;

	layout_revision_dir(key, name, d);
	if (!storage_exists(key))
		return BERTH_E_NOT_FOUND;
	/* A referrer leaves its subject's referrers list with it. */
	layout_blob_data(key, d);
	if (storage_read_small(key, MANIFEST_READ_MAX, &body, &len, err) == 0 &&
	    manifest_validate(NULL, body, len, &m, err) == 0 && m->has_subject)
		referrers_remove(name, &m->subject.digest, d);
	rc = untag_all(name, d, err);
	if (rc == 0) {
		layout_revision_dir(key, name, d);
		rc = storage_remove(key, err);
	}
	if (rc == 0) {
		pull_times_forget(name, d);
		manifest_cache_forget(d);
	}
	manifest_info_free(m);
	free(body);
	return rc;
}

/*
 * 1 when a tag of the repository names d (the caller holds the repository
 * lock); also when the tags cannot be listed, so that a conditional delete
 * errs on the side of keeping.
 */
static int tagged(const char *name, const digest *d)
{
	name_list t = {0};
	berth_error err = {0};
	int rc = tags_naming(name, d, &t, &err);
	int found = rc != 0 || t.n > 0;

	if (rc != 0)
		log_warn("cannot list the tags of '%s' (%s); its manifest is kept", name, err.message);
	name_list_free(&t);
	return found;
}

int manifest_remove(const char *name, const char *ref, const char *who, const char *client,
		    berth_error *err)
{
	return manifest_remove_if(name, ref, who, client, NULL, 0, err);
}

int manifest_remove_if(const char *name, const char *ref, const char *who, const char *client,
		       const digest *tag_digest, int untagged_only, berth_error *err)
{
	const registry_settings *s = registry_settings_get();
	layout_key key;
	digest d;
	char ds[DIGEST_STRING_MAX] = "";
	int kind, rc;

	if (!s->delete_enabled)
		return error_set(err, BERTH_E_UNSUPPORTED, "deletes are disabled on this registry");
	kind = reference_classify(ref, &d);
	if (kind == REF_INVALID || kind == REF_UNSUPPORTED)
		return error_set(err, BERTH_E_INVALID, "invalid reference '%s'", ref);
	if (kind == REF_TAG && !s->tag_delete_enabled)
		return error_set(err, BERTH_E_UNSUPPORTED,
				 "tag deletes are disabled on this registry; delete by digest");
	if (!repo_name_valid(name))
		return error_set(err, BERTH_E_NAME, "invalid repository name");

	repo_lock(name);
	if (kind == REF_TAG) {
		layout_key cur;
		berth_error ignored = {0};
		/* The event names the manifest the tag pointed at. */
		layout_tag_current(cur, name, ref);
		if (storage_read_link(cur, &d, &ignored) == 0)
			digest_format(&d, ds);
		layout_tag_dir(key, name, ref);
		if (tag_digest && ds[0] && !digest_equal(&d, tag_digest))
			rc = error_set(err, BERTH_E_EXISTS, "tag '%s' of '%s' now names %s", ref, name,
				       ds);
		else
			rc = storage_remove(key, err);
		if (rc == 0) {
			name_list gone = {.v = (char *[]){(char *)ref}, .n = 1, .cap = 1};
			tag_index_remove(name, &gone);
		}
	} else {
		digest_format(&d, ds);
		if (untagged_only && tagged(name, &d))
			rc = error_set(err, BERTH_E_EXISTS, "manifest %s of '%s' is tagged", ds, name);
		else
			rc = delete_by_digest(name, &d, err);
	}
	repo_unlock(name);

	if (rc == BERTH_E_NOT_FOUND)
		return error_set(err, BERTH_E_NOT_FOUND, "manifest '%s' is unknown to repository '%s'",
				 ref, name);
	if (rc != 0)
		return rc;
	log_info("manifest '%s' deleted from '%s' by %s", ref, name, who ? who : "anonymous");
	events_emit(&(event_fields){
		.type = "delete",
		.repository = name,
		.tag = kind == REF_TAG ? ref : NULL,
		.digest = ds[0] ? ds : NULL,
		.identity = who,
		.client = client,
		.source = "core",
	});
	return 0;
}

void manifest_delete(http_request *req)
{
	berth_error err = {0};
	int rc = manifest_remove(req->rt.name, req->rt.ref,
				 req->identity.name[0] ? req->identity.name : NULL, req->client, &err);

	if (rc == 0) {
		http_respond(req, MHD_HTTP_ACCEPTED, NULL, "", 0, NULL);
		return;
	}
	if (rc == BERTH_E_NOT_FOUND)
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_MANIFEST_UNKNOWN, "%s", err.message);
	else if (rc == BERTH_E_INVALID)
		http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_MANIFEST_INVALID, "%s", err.message);
	else
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
}

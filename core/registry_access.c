/*
 * registry_access.c - the registry as plugins read and change it (host
 * services list_repositories ... delete_manifest). Everything goes through
 * the same functions as the HTTP API, so locks and events apply alike.
 */
#include "registry_access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_index.h"
#include "errors.h"
#include "layout.h"
#include "manifest_validate.h"
#include "name_list.h"
#include "pull_times.h"
#include "reference.h"
#include "referrers.h"
#include "registry.h"
#include "storage.h"

/* Manifests stored before a limit was lowered must still be readable. */
#define ACCESS_MANIFEST_MAX (64u * 1024 * 1024)

static int each_name(name_list *l, berth_name_fn fn, void *ctx)
{
	for (size_t i = 0; i < l->n; i++)
		if (fn(ctx, l->v[i]))
			break;
	return 0;
}

int access_list_repositories(berth_name_fn fn, void *ctx, berth_error *err)
{
	name_list l = {0};
	int rc = catalog_index_page(NULL, -1, NULL, NULL, &l, err);

	if (rc == 0)
		each_name(&l, fn, ctx);
	name_list_free(&l);
	return rc;
}

int access_list_tags(const char *repository, berth_name_fn fn, void *ctx, berth_error *err)
{
	name_list l = {0};
	int rc;

	if (!repository || !repo_name_valid(repository))
		return error_set(err, BERTH_E_NAME, "invalid repository name");
	rc = tags_collect(repository, &l, err);
	if (rc == 0)
		each_name(&l, fn, ctx);
	name_list_free(&l);
	return rc;
}

int access_read_manifest(const char *repository, const char *reference, berth_manifest_fn fn,
			 void *ctx, berth_error *err)
{
	layout_key key;
	digest d;
	char ds[DIGEST_STRING_MAX], subject[DIGEST_STRING_MAX];
	char *body = NULL;
	size_t len = 0;
	manifest_info *m = NULL;
	berth_error ignored = {0};
	int rc;

	if (!repository || !repo_name_valid(repository))
		return error_set(err, BERTH_E_NAME, "invalid repository name");
	if (!reference)
		return error_set(err, BERTH_E_INVALID, "no reference");
	rc = manifest_resolve(repository, reference, &d, NULL, err);
	if (rc != 0)
		return rc;
	layout_blob_data(key, &d);
	rc = storage_read_small(key, ACCESS_MANIFEST_MAX, &body, &len, err);
	if (rc != 0)
		return rc;
	digest_format(&d, ds);
	{
		berth_manifest bm = {
			.size = sizeof(bm),
			.repository = repository,
			.reference = reference,
			.digest = ds,
			.media_type = manifest_media_type_of(body, len),
			.body = body,
			.body_len = len,
		};
		/* Subject and artifact type when the stored bytes parse; a
		 * manifest adopted from elsewhere may not, and is still read. */
		if (manifest_validate(NULL, body, len, &m, &ignored) == 0) {
			bm.artifact_type = m->artifact_type;
			if (m->has_subject) {
				digest_format(&m->subject.digest, subject);
				bm.subject = subject;
			}
		}
		fn(ctx, &bm);
	}
	manifest_info_free(m);
	free(body);
	return 0;
}

int access_read_blob(const char *repository, const char *digest_s, uint64_t max,
		     berth_bytes_fn fn, void *ctx, berth_error *err)
{
	layout_key key;
	digest d;

	if (!repository || !repo_name_valid(repository))
		return error_set(err, BERTH_E_NAME, "invalid repository name");
	if (!digest_s || digest_parse(digest_s, &d) != 0)
		return error_set(err, BERTH_E_INVALID, "invalid digest '%s'",
				 digest_s ? digest_s : "");
	if (layout_layer_link(key, repository, &d) != 0 ||
	    (!storage_exists(key) &&
	     (layout_revision_link(key, repository, &d) != 0 || !storage_exists(key))))
		return error_set(err, BERTH_E_NOT_FOUND, "blob %s is unknown to repository '%s'",
				 digest_s, repository);
	layout_blob_data(key, &d);
	return storage_stream(key, max, BERTH_E_TOO_LARGE, fn, ctx, err);
}

int access_delete_tag(const berth_instance *self, const char *repository, const char *tag,
		      berth_error *err)
{
	if (!tag || !tag_valid(tag))
		return error_set(err, BERTH_E_INVALID, "invalid tag '%s'", tag ? tag : "");
	return manifest_remove(repository ? repository : "", tag, self ? self->name : "plugin",
			       NULL, err);
}

int access_delete_manifest(const berth_instance *self, const char *repository,
			   const char *digest_s, berth_error *err)
{
	digest d;

	if (!digest_s || digest_parse(digest_s, &d) != 0)
		return error_set(err, BERTH_E_INVALID, "invalid digest '%s'",
				 digest_s ? digest_s : "");
	return manifest_remove(repository ? repository : "", digest_s, self ? self->name : "plugin",
			       NULL, err);
}

int access_delete_tag_if(const berth_instance *self, const char *repository, const char *tag,
			 const char *expected_digest, berth_error *err)
{
	digest d;

	if (!tag || !tag_valid(tag))
		return error_set(err, BERTH_E_INVALID, "invalid tag '%s'", tag ? tag : "");
	if (!expected_digest || digest_parse(expected_digest, &d) != 0)
		return error_set(err, BERTH_E_INVALID, "invalid digest '%s'",
				 expected_digest ? expected_digest : "");
	return manifest_remove_if(repository ? repository : "", tag, self ? self->name : "plugin",
				  NULL, &d, 0, err);
}

int access_delete_manifest_if_untagged(const berth_instance *self, const char *repository,
				       const char *digest_s, berth_error *err)
{
	digest d;

	if (!digest_s || digest_parse(digest_s, &d) != 0)
		return error_set(err, BERTH_E_INVALID, "invalid digest '%s'",
				 digest_s ? digest_s : "");
	return manifest_remove_if(repository ? repository : "", digest_s,
				  self ? self->name : "plugin", NULL, NULL, 1, err);
}

typedef struct referrers_ctx {
	const char *repository, *subject;
	berth_manifest_fn fn;
	void *ctx;
} referrers_ctx;

static int one_referrer(void *ctx, json_t *desc)
{
	referrers_ctx *c = ctx;
	json_t *size = json_object_get(desc, "size");
	const char *d = json_string_value(json_object_get(desc, "digest"));
	berth_manifest m = {
		.size = sizeof(m),
		.repository = c->repository,
		.reference = d,
		.digest = d,
		.media_type = json_string_value(json_object_get(desc, "mediaType")),
		.body = NULL,
		.body_len = json_is_integer(size) ? (size_t)json_integer_value(size) : 0,
		.subject = c->subject,
		.artifact_type = json_string_value(json_object_get(desc, "artifactType")),
	};

	return c->fn(c->ctx, &m);
}

int access_list_referrers(const char *repository, const char *digest_s, berth_manifest_fn fn,
			  void *ctx, berth_error *err)
{
	referrers_ctx c = {.repository = repository, .subject = digest_s, .fn = fn, .ctx = ctx};
	digest d;

	if (!repository || !repo_name_valid(repository))
		return error_set(err, BERTH_E_NAME, "invalid repository name");
	if (!digest_s || digest_parse(digest_s, &d) != 0)
		return error_set(err, BERTH_E_INVALID, "invalid digest '%s'",
				 digest_s ? digest_s : "");
	if (!fn)
		return error_set(err, BERTH_E_INVALID, "list_referrers: no callback");
	return referrers_each(repository, &d, one_referrer, &c, err);
}

typedef struct manifests_ctx {
	name_list *out;
	int alg;
} manifests_ctx;

static int collect_revision(void *ctx, const char *name, int is_dir)
{
	manifests_ctx *c = ctx;
	char ds[DIGEST_STRING_MAX];
	digest d;

	if (!is_dir)
		return 0;
	if ((size_t)snprintf(ds, sizeof(ds), "%s:%s", digest_alg_name(c->alg), name) >=
		    sizeof(ds) ||
	    digest_parse(ds, &d) != 0)
		return 0;
	return name_list_add(c->out, ds) != 0;
}

int access_list_manifests(const char *repository, berth_name_fn fn, void *ctx,
			  berth_error *err)
{
	static const int algs[] = {DIGEST_SHA256, DIGEST_SHA512};
	name_list l = {0};
	layout_key key;
	int rc = 0;

	if (!repository || !repo_name_valid(repository))
		return error_set(err, BERTH_E_NAME, "invalid repository name");
	layout_repo_dir(key, repository);
	if (!storage_exists(key))
		return error_set(err, BERTH_E_NOT_FOUND, "repository '%s' is unknown", repository);
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		manifests_ctx c = {.out = &l, .alg = algs[i]};
		layout_revisions_alg_dir(key, repository, algs[i]);
		rc = storage_list(key, collect_revision, &c, err);
		if (rc == BERTH_E_NOT_FOUND) {
			rc = 0;
			continue;
		}
		if (rc != 0)
			goto out;
	}
	if (l.failed) {
		rc = error_set(err, BERTH_E_NOMEM, "out of memory listing manifests");
		goto out;
	}
	each_name(&l, fn, ctx);
out:
	name_list_free(&l);
	return rc;
}

int access_manifest_times(const char *repository, const char *reference, int64_t *pushed_ms,
			  int64_t *pulled_ms, berth_error *err)
{
	layout_key key;
	berth_stat st = {0};
	digest d;
	int kind, rc;

	if (pushed_ms)
		*pushed_ms = 0;
	if (pulled_ms)
		*pulled_ms = 0;
	if (!repository || !repo_name_valid(repository))
		return error_set(err, BERTH_E_NAME, "invalid repository name");
	if (!reference)
		return error_set(err, BERTH_E_INVALID, "no reference");
	kind = reference_classify(reference, &d);
	if (kind == REF_INVALID || kind == REF_UNSUPPORTED)
		return error_set(err, BERTH_E_INVALID, "invalid reference '%s'", reference);
	if (kind == REF_TAG) {
		layout_tag_current(key, repository, reference);
		rc = storage_read_link(key, &d, err);
	} else {
		layout_revision_link(key, repository, &d);
		rc = 0;
	}
	if (rc == 0)
		rc = storage_stat(key, &st, err);
	if (rc == BERTH_E_NOT_FOUND)
		return error_set(err, BERTH_E_NOT_FOUND, "manifest '%s' is unknown to repository '%s'",
				 reference, repository);
	if (rc != 0)
		return rc;
	if (pushed_ms)
		*pushed_ms = st.mtime_ms;
	if (pulled_ms)
		*pulled_ms = pull_times_get(repository, &d);
	return 0;
}

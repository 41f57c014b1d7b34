/*
 * trivy_manifest.c - the parts of a manifest the plugin looks at: its kind,
 * its config, its layers (a report artifact's report is one), an index's
 * image children, and whether it refers to a subject.
 *
 * Manifests are small (the core bounds them) and were validated when
 * pushed, so a tree parser is fine here; anything unexpected makes the
 * manifest TRIVY_MANIFEST_OTHER rather than an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trivy_plugin.h"

static const char *const index_types[] = {
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
};
static const char *const image_config_types[] = {
	"application/vnd.oci.image.config.v1+json",
	"application/vnd.docker.container.image.v1+json",
};

static int in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void trivy_manifest_clear(trivy_manifest *m)
{
	if (!m)
		return;
	free(m->digest);
	free(m->media_type);
	free(m->artifact_type);
	free(m->config_media_type);
	free(m->config_digest);
	for (size_t i = 0; i < m->n_layers; i++) {
		free(m->layers[i].media_type);
		free(m->layers[i].digest);
		free(m->layers[i].platform);
	}
	free(m->layers);
	memset(m, 0, sizeof(*m));
}

/* buildx puts attestations in an index as unknown/unknown "images". */
static int is_attestation(const json_t *d)
{
	const char *type = json_string_value(
		json_object_get(json_object_get(d, "annotations"), "vnd.docker.reference.type"));
	const json_t *platform = json_object_get(d, "platform");
	const char *os = json_string_value(json_object_get(platform, "os"));

	return (type && strcmp(type, "attestation-manifest") == 0) || (os && strcmp(os, "unknown") == 0);
}

static int add_descriptor(trivy_manifest *m, const json_t *d, int with_platform)
{
	const char *digest = json_string_value(json_object_get(d, "digest"));
	const json_t *p = json_object_get(d, "platform");
	trivy_descriptor *nv, *t;
	char platform[160];

	if (!digest || !trivy_digest_valid(digest))
		return 0;
	nv = realloc(m->layers, (m->n_layers + 1) * sizeof(*nv));
	if (!nv)
		return BERTH_E_NOMEM;
	m->layers = nv;
	t = &m->layers[m->n_layers];
	memset(t, 0, sizeof(*t));
	t->media_type = dup_or_null(json_string_value(json_object_get(d, "mediaType")));
	t->digest = strdup(digest);
	t->size = json_integer_value(json_object_get(d, "size"));
	if (with_platform && json_is_object(p)) {
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *arch = json_string_value(json_object_get(p, "architecture"));
		const char *variant = json_string_value(json_object_get(p, "variant"));
		snprintf(platform, sizeof(platform), "%.60s/%.60s%s%.30s", os ? os : "?",
			 arch ? arch : "?", variant ? "/" : "", variant ? variant : "");
		t->platform = strdup(platform);
	}
	m->n_layers++;
	if (!t->digest || (with_platform && json_is_object(p) && !t->platform))
		return BERTH_E_NOMEM;
	return 0;
}

int trivy_manifest_parse(const void *body, size_t len, const char *media_type,
			 const char *digest, trivy_manifest *m)
{
	json_t *doc = json_loadb(body, len, 0, NULL);
	const json_t *config, *list, *d;
	const char *mt = json_string_value(json_object_get(doc, "mediaType"));
	size_t i;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	if (!mt)
		mt = media_type;
	m->digest = dup_or_null(digest);
	m->media_type = dup_or_null(mt);
	if ((digest && !m->digest) || (mt && !m->media_type))
		rc = BERTH_E_NOMEM;
	if (rc || !json_is_object(doc))
		goto out;
	m->has_subject = json_is_object(json_object_get(doc, "subject"));
	config = json_object_get(doc, "config");
	list = json_object_get(doc, "manifests");
	if (in_list(mt, index_types, 2) || (!json_is_object(config) && json_is_array(list))) {
		m->kind = TRIVY_MANIFEST_INDEX;
		json_array_foreach(list, i, d)
			if (json_is_object(d) && !is_attestation(d) &&
			    (rc = add_descriptor(m, d, 1)) != 0)
				goto out;
	} else if (json_is_object(config)) {
		m->kind = TRIVY_MANIFEST_IMAGE;
		m->config_media_type =
			dup_or_null(json_string_value(json_object_get(config, "mediaType")));
		m->config_digest = dup_or_null(json_string_value(json_object_get(config, "digest")));
		json_array_foreach(json_object_get(doc, "layers"), i, d)
			if (json_is_object(d) && (rc = add_descriptor(m, d, 0)) != 0)
				goto out;
	}
	/* distribution-spec: without artifactType a manifest is known by its config's type. */
	m->artifact_type = dup_or_null(json_string_value(json_object_get(doc, "artifactType")));
	if (!m->artifact_type && m->config_media_type)
		m->artifact_type = strdup(m->config_media_type);
out:
	json_decref(doc);
	if (rc)
		trivy_manifest_clear(m);
	return rc;
}

int trivy_manifest_is_image(const trivy_manifest *m)
{
	if (m->has_subject)
		return 0;
	if (m->kind == TRIVY_MANIFEST_INDEX)
		return 1;
	return m->kind == TRIVY_MANIFEST_IMAGE && in_list(m->config_media_type, image_config_types, 2);
}

typedef struct read_ctx {
	trivy_manifest *m;
	int rc;
} read_ctx;

static int on_manifest(void *ctx, const berth_manifest *bm)
{
	read_ctx *r = ctx;

	r->rc = trivy_manifest_parse(bm->body, bm->body_len, bm->media_type, bm->digest, r->m);
	return 0;
}

int trivy_manifest_read(struct scan_trivy *st, const char *repository, const char *reference,
			trivy_manifest *m, berth_error *err)
{
	read_ctx r = {.m = m, .rc = BERTH_E_NOT_FOUND};
	int rc;

	memset(m, 0, sizeof(*m));
	rc = st->host->read_manifest(repository, reference, on_manifest, &r, err);
	if (rc == BERTH_E_NOT_FOUND)
		return trivy_fail(err, BERTH_E_NOT_FOUND, "manifest %s is unknown to repository '%s'",
				  reference, repository);
	if (rc)
		return rc;
	if (r.rc == BERTH_E_NOMEM)
		return trivy_fail(err, BERTH_E_NOMEM, "out of memory");
	if (r.rc)
		return trivy_fail(err, BERTH_E_NOT_FOUND, "manifest %s is unknown to repository '%s'",
				  reference, repository);
	return 0;
}

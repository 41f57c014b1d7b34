/*
 * retention_manifest.c - what a manifest references, read from its body:
 * the manifests an index names, the config and layer blobs of an image
 * (with their sizes, for the bytes a deletion frees) and the subject of a
 * referrer. Bodies come from clients: anything unexpected makes the
 * manifest opaque (no references), never an error or a crash.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "retention.h"

/* "sha512:" + 128 hex is the longest digest registries use; allow some room. */
#define DIGEST_MAX_BYTES 256
/* More references than this in one manifest is not an image anyone pulls. */
#define REFS_MAX 100000

int retention_digest_valid(const char *s)
{
	const char *colon = strchr(s, ':');
	size_t i;

	if (!colon || colon == s || !colon[1] || strlen(s) > DIGEST_MAX_BYTES)
		return 0;
	for (i = 0; s + i < colon; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '.' ||
		      c == '_' || c == '-'))
			return 0;
	}
	for (i = 1; colon[i]; i++) {
		char c = colon[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '=' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

void retention_manifest_in_clear(struct retention_manifest_in *m)
{
	size_t i;

	free(m->digest);
	free(m->subject);
	for (i = 0; i < m->n_children; i++)
		free(m->children[i]);
	free(m->children);
	for (i = 0; i < m->n_blobs; i++)
		free(m->blobs[i].digest);
	free(m->blobs);
	memset(m, 0, sizeof(*m));
}

/* The digest of a descriptor object, or NULL when it has none that is valid. */
static const char *descriptor_digest(const json_t *desc)
{
	const char *d = json_string_value(json_object_get(desc, "digest"));

	return d && retention_digest_valid(d) ? d : NULL;
}

static uint64_t descriptor_size(const json_t *desc)
{
	json_int_t v = json_integer_value(json_object_get(desc, "size"));

	return v > 0 ? (uint64_t)v : 0;
}

static int add_blob(struct retention_manifest_in *m, const char *digest, uint64_t size)
{
	struct retention_blob_ref *v;

	if (m->n_blobs >= REFS_MAX)
		return 0;
	v = realloc(m->blobs, (m->n_blobs + 1) * sizeof(*v));
	if (!v)
		return BERTH_E_NOMEM;
	m->blobs = v;
	v[m->n_blobs].digest = strdup(digest);
	if (!v[m->n_blobs].digest)
		return BERTH_E_NOMEM;
	v[m->n_blobs++].size = size;
	return 0;
}

static int add_child(struct retention_manifest_in *m, const char *digest)
{
	char **v;

	if (m->n_children >= REFS_MAX)
		return 0;
	v = realloc(m->children, (m->n_children + 1) * sizeof(*v));
	if (!v)
		return BERTH_E_NOMEM;
	m->children = v;
	v[m->n_children] = strdup(digest);
	if (!v[m->n_children])
		return BERTH_E_NOMEM;
	m->n_children++;
	return 0;
}

/* Every descriptor of an array, as blobs or as child manifests. */
static int add_array(struct retention_manifest_in *m, const json_t *arr, int children)
{
	size_t i;
	json_t *desc;

	if (!json_is_array(arr))
		return 0;
	json_array_foreach(arr, i, desc) {
		const char *d = descriptor_digest(desc);
		int rc;

		if (!d)
			continue;
		rc = children ? add_child(m, d) : add_blob(m, d, descriptor_size(desc));
		if (rc < 0)
			return rc;
	}
	return 0;
}

int retention_manifest_parse(const void *body, size_t len, struct retention_manifest_in *m)
{
	json_t *root;
	const char *d;
	int rc = 0;

	if (!body || len == 0 || len > RETENTION_MANIFEST_PARSE_MAX)
		return 0;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root))
		goto out;
	/* An index (OCI or Docker list) names manifests; an image names blobs. */
	rc = add_array(m, json_object_get(root, "manifests"), 1);
	if (rc == 0 && (d = descriptor_digest(json_object_get(root, "config"))))
		rc = add_blob(m, d, descriptor_size(json_object_get(root, "config")));
	if (rc == 0)
		rc = add_array(m, json_object_get(root, "layers"), 0);
	/* The OCI artifact manifest of image-spec 1.1-rc. */
	if (rc == 0)
		rc = add_array(m, json_object_get(root, "blobs"), 0);
	if (rc == 0 && (d = descriptor_digest(json_object_get(root, "subject")))) {
		m->subject = strdup(d);
		if (!m->subject)
			rc = BERTH_E_NOMEM;
	}
out:
	json_decref(root);
	return rc;
}

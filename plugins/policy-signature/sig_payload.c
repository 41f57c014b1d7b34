/*
 * sig_payload.c - what signatures are made of: the cosign simplesigning
 * payload, and the manifests that carry signatures (the `.sig` tag's
 * manifest, referrers) or list children (indexes).
 *
 * The payload is parsed with containers/image's rules, the strictest of the
 * clients: `critical` holds exactly `identity`, `image` and `type`, the type
 * is "cosign container image signature", `optional` is an object or null.
 * Everything here sees bytes that clients pushed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sig.h"

static int why_set(char *why, size_t cap, const char *text)
{
	if (why && cap)
		snprintf(why, cap, "%s", text);
	return BERTH_E_INVALID;
}

int sig_digest_valid(const char *d)
{
	size_t n;

	if (!d || strncmp(d, "sha256:", 7) != 0)
		return 0;
	d += 7;
	for (n = 0; d[n]; n++)
		if (!((d[n] >= '0' && d[n] <= '9') || (d[n] >= 'a' && d[n] <= 'f')))
			return 0;
	return n == 64;
}

int sig_tag_for(const char *digest, char *tag, size_t cap)
{
	if (!sig_digest_valid(digest) || cap < 64 + 12)
		return -1;
	snprintf(tag, cap, "sha256-%s.sig", digest + 7);
	return 0;
}

int sig_is_sig_tag(const char *ref)
{
	char d[SIG_DIGEST_MAX];

	if (!ref || strlen(ref) != 7 + 64 + 4 || strncmp(ref, "sha256-", 7) != 0 ||
	    strcmp(ref + 71, ".sig") != 0)
		return 0;
	snprintf(d, sizeof(d), "sha256:%.64s", ref + 7);
	return sig_digest_valid(d);
}

void sig_payload_clear(sig_payload *p)
{
	free(p->reference);
	memset(p, 0, sizeof(*p));
}

int sig_payload_parse(const void *data, size_t len, sig_payload *out, char *why, size_t cap)
{
	json_t *root, *critical, *identity, *image, *type, *optional, *ref, *dig;
	int rc = BERTH_E_INVALID;

	memset(out, 0, sizeof(*out));
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root)) {
		why_set(why, cap, "payload is not a JSON object");
		goto out;
	}
	critical = json_object_get(root, "critical");
	optional = json_object_get(root, "optional");
	if (!json_is_object(critical)) {
		why_set(why, cap, "payload has no 'critical' object");
		goto out;
	}
	if (optional && !json_is_object(optional) && !json_is_null(optional)) {
		why_set(why, cap, "payload 'optional' is neither an object nor null");
		goto out;
	}
	identity = json_object_get(critical, "identity");
	image = json_object_get(critical, "image");
	type = json_object_get(critical, "type");
	if (json_object_size(critical) != 3 || !json_is_object(identity) ||
	    !json_is_object(image) || !json_is_string(type)) {
		why_set(why, cap, "payload 'critical' must hold exactly identity, image and type");
		goto out;
	}
	if (strcmp(json_string_value(type), SIG_PAYLOAD_TYPE) != 0) {
		why_set(why, cap, "payload type is not '" SIG_PAYLOAD_TYPE "'");
		rc = BERTH_E_UNSUPPORTED;
		goto out;
	}
	dig = json_object_get(image, "docker-manifest-digest");
	if (!json_is_string(dig) || !sig_digest_valid(json_string_value(dig))) {
		why_set(why, cap, "payload has no valid docker-manifest-digest");
		goto out;
	}
	ref = json_object_get(identity, "docker-reference");
	if (ref && !json_is_string(ref)) {
		why_set(why, cap, "payload docker-reference is not a string");
		goto out;
	}
	snprintf(out->digest, sizeof(out->digest), "%s", json_string_value(dig));
	if (ref && !(out->reference = strdup(json_string_value(ref)))) {
		rc = BERTH_E_NOMEM;
		why_set(why, cap, "out of memory");
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

static char *dup_string(json_t *v)
{
	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

void sig_manifest_clear(sig_manifest *m)
{
	for (size_t i = 0; i < m->n_items; i++) {
		free(m->items[i].media_type);
		free(m->items[i].signature);
	}
	free(m->items);
	free(m->artifact_type);
	memset(m, 0, sizeof(*m));
}

static int is_index_type(const char *mt)
{
	return mt && (strcmp(mt, "application/vnd.oci.image.index.v1+json") == 0 ||
		      strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json") == 0);
}

/* BuildKit lists its provenance and SBOM manifests in the index beside the images. */
static int is_attestation_child(json_t *desc)
{
	json_t *ann = json_object_get(desc, "annotations");
	json_t *t = json_object_get(ann, "vnd.docker.reference.type");

	return json_is_string(t) && strcmp(json_string_value(t), "attestation-manifest") == 0;
}

int sig_manifest_parse(const void *body, size_t len, const char *media_type, sig_manifest *out)
{
	json_t *root, *list, *subject, *mt, *d;
	size_t i;
	int rc = BERTH_E_INVALID;

	memset(out, 0, sizeof(*out));
	root = json_loadb(body, len, 0, NULL);
	if (!json_is_object(root))
		goto out;
	mt = json_object_get(root, "mediaType");
	out->is_index = is_index_type(media_type) ||
			(json_is_string(mt) && is_index_type(json_string_value(mt))) ||
			(!json_object_get(root, "layers") && json_is_array(json_object_get(root, "manifests")));
	subject = json_object_get(root, "subject");
	d = json_object_get(subject, "digest");
	if (json_is_string(d) && sig_digest_valid(json_string_value(d)))
		snprintf(out->subject, sizeof(out->subject), "%s", json_string_value(d));
	out->artifact_type = dup_string(json_object_get(root, "artifactType"));
	list = json_object_get(root, out->is_index ? "manifests" : "layers");
	if (list && !json_is_array(list))
		goto out;
	if (json_array_size(list)) {
		out->items = calloc(json_array_size(list), sizeof(*out->items));
		if (!out->items) {
			rc = BERTH_E_NOMEM;
			goto out;
		}
	}
	for (i = 0; i < json_array_size(list); i++) {
		json_t *desc = json_array_get(list, i);
		sig_descriptor *it = &out->items[out->n_items];
		json_t *dd = json_object_get(desc, "digest");
		json_t *size = json_object_get(desc, "size");

		if (!json_is_object(desc) || !json_is_string(dd) ||
		    strlen(json_string_value(dd)) >= sizeof(it->digest))
			goto out;
		snprintf(it->digest, sizeof(it->digest), "%s", json_string_value(dd));
		it->size = json_is_integer(size) && json_integer_value(size) >= 0
				   ? (uint64_t)json_integer_value(size)
				   : 0;
		it->attestation = out->is_index && is_attestation_child(desc);
		it->media_type = dup_string(json_object_get(desc, "mediaType"));
		it->signature = dup_string(
			json_object_get(json_object_get(desc, "annotations"), SIG_ANNOTATION));
		out->n_items++;
	}
	rc = 0;
out:
	json_decref(root);
	if (rc)
		sig_manifest_clear(out);
	return rc;
}

/* Layer types a container runtime unpacks into a root filesystem. */
static int is_filesystem_layer(const char *mt)
{
	return !mt || strncmp(mt, "application/vnd.oci.image.layer.", 32) == 0 ||
	       strncmp(mt, "application/vnd.docker.image.rootfs.", 36) == 0;
}

int sig_manifest_is_attachment(const sig_manifest *m)
{
	if (m->is_index)
		return 0;
	for (size_t i = 0; i < m->n_items; i++)
		if (is_filesystem_layer(m->items[i].media_type))
			return 0;
	return m->n_items > 0 || m->artifact_type != NULL;
}

/*
 * manifest_validate.h - parse and check a pushed manifest; media types of
 * stored manifests; Accept-header negotiation.
 *
 * Berth stores four kinds of manifest: OCI image manifests and indexes,
 * Docker v2 schema 2 manifests and manifest lists. Docker schema 1 is
 * refused. The rules follow the OCI image-spec (manifest.md, image-index.md,
 * descriptor.md) and the distribution-spec's "Pushing Manifests".
 *
 * Every message this file writes into a berth_error is printable ASCII:
 * bytes from the client are shown with anything else replaced by '?'.
 */
#ifndef BERTH_MANIFEST_VALIDATE_H
#define BERTH_MANIFEST_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "berth/error.h"
#include "digest.h"

/* Refuse manifests with more descriptors than this (config, layers,
 * manifests[] and subject together). */
#define MANIFEST_MAX_DESCRIPTORS 10000
/* No real manifest nests deeper than 6; this bounds recursion in jansson. */
#define MANIFEST_MAX_DEPTH 64

enum manifest_kind {
	MANIFEST_OCI_IMAGE = 1,
	MANIFEST_OCI_INDEX,
	MANIFEST_DOCKER_V2,
	MANIFEST_DOCKER_LIST
};

/* One descriptor the manifest points at. */
typedef struct manifest_ref {
	digest digest;
	int64_t size;
	char *media_type;        /* malloc'd; NULL when absent */
	/* A Docker foreign layer or OCI non-distributable layer with urls: the
	 * blob may live elsewhere, so its presence here is not required. */
	int is_foreign;
} manifest_ref;

/* Everything below is owned by the manifest_info; strings are malloc'd. */
typedef struct manifest_info {
	int kind;                /* enum manifest_kind */
	char *media_type;        /* the effective media type, canonical spelling */
	manifest_ref *blobs;     /* image kinds: config first, then layers */
	size_t n_blobs;
	manifest_ref *children;  /* index kinds: the manifests[] entries */
	size_t n_children;
	int has_subject;         /* OCI kinds only; Docker kinds ignore subject */
	manifest_ref subject;
	/* artifactType (OCI kinds), else config.mediaType for image kinds;
	 * NULL if neither. This is what the referrers API reports. */
	char *artifact_type;
	/* Compact JSON of the top-level "annotations" object (OCI kinds), or
	 * NULL when there is none. */
	char *annotations_json;
} manifest_info;

/*
 * Parse and validate a manifest body pushed with HTTP Content-Type
 * content_type (may be NULL and may carry parameters). On success *out is a
 * new manifest_info to free with manifest_info_free. On failure returns
 * BERTH_E_INVALID (or BERTH_E_NOMEM) and err->message says what and where,
 * e.g. "layers[3].digest: invalid digest 'sha256:xyz'".
 *
 * The effective media type is the body's mediaType; a Content-Type naming a
 * different manifest type is an error. Without mediaType in the body the
 * Content-Type decides (Docker types require mediaType in the body), and
 * without a usable Content-Type "manifests" means OCI index and "config" OCI
 * image manifest. The caller bounds len (the distribution-spec asks for at
 * least 4 MiB to be accepted).
 */
int manifest_validate(const char *content_type, const void *body, size_t len,
		      manifest_info **out, berth_error *err);
void manifest_info_free(manifest_info *m);

/* 1 if mt (parameters dropped, trimmed, type compared without case) is one
 * of the four manifest media types Berth stores, else 0. */
int manifest_media_type_known(const char *mt);

/*
 * Media type to serve a stored manifest with, from its bytes: the top-level
 * "mediaType" if it is a known type, else inferred from the top-level keys
 * ("manifests": OCI index, "config": OCI image manifest, schemaVersion 1 as
 * left by registry:2: Docker schema 1). Never NULL; the fallback is the OCI
 * image manifest type. The string is static (one of the MEDIA_TYPE_*
 * values: compare with strcmp, not ==). Scans the bytes once without
 * allocating; any input is safe.
 */
const char *manifest_media_type_of(const void *body, size_t len);

/*
 * 1 if an Accept header value allows serving media type mt, else 0. accept
 * may be NULL, list several ranges with parameters and q-values, and repeat
 * ranges (as when several Accept headers are joined with commas). A NULL or
 * empty header allows everything, and so do the wildcard ranges any/any and
 * application/any for the types they cover. The most specific range
 * matching mt decides; q=0 refuses.
 */
int accept_allows(const char *accept, const char *mt);

#endif /* BERTH_MANIFEST_VALIDATE_H */

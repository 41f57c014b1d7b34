/*
 * manifest_validate.c - parse and check pushed manifests, tell the media
 * type of stored ones, and negotiate Accept headers.
 *
 * The rules come from the OCI image-spec (manifest.md, image-index.md,
 * descriptor.md), the distribution-spec's "Pushing Manifests" and the
 * Docker image manifest v2 schema 2 document. Unknown fields and unknown
 * descriptor media types are accepted, as the image-spec requires.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "manifest_validate.h"
#include "media_types.h"

/* At most this many bytes of a client's value are quoted in a message. */
#define SHOW_MAX 80

static const struct {
	const char *name;
	int kind;
} manifest_types[] = {
	{ MEDIA_TYPE_OCI_MANIFEST, MANIFEST_OCI_IMAGE },
	{ MEDIA_TYPE_OCI_INDEX, MANIFEST_OCI_INDEX },
	{ MEDIA_TYPE_DOCKER_MANIFEST, MANIFEST_DOCKER_V2 },
	{ MEDIA_TYPE_DOCKER_LIST, MANIFEST_DOCKER_LIST },
};

#define N_MANIFEST_TYPES (sizeof(manifest_types) / sizeof(manifest_types[0]))

static const char schema1_refused[] =
	"docker image manifest schema 1 is deprecated and refused: push with a "
	"current client, which sends Docker image manifest v2 schema 2 or OCI "
	"manifests";

__attribute__((format(printf, 3, 4)))
static int fail(berth_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	unsigned char *p;

	if (!err)
		return code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	/* Messages quote client bytes and end up in logs and JSON error
	 * bodies: keep them printable ASCII whatever the client sent. */
	for (p = (unsigned char *)err->message; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			*p = '?';
	err->code = code;
	return code;
}

static int nomem(berth_error *err)
{
	return fail(err, BERTH_E_NOMEM, "manifest: out of memory");
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Spans are (pointer, length) pieces of a header or a JSON string. */
static int span_eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && !memcmp(s, lit, n);
}

/* Equal, comparing ASCII letters without case? */
static int spans_caseeq(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i;

	if (an != bn)
		return 0;
	for (i = 0; i < an; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return 0;
	return 1;
}

static int span_caseeq(const char *s, size_t n, const char *lit)
{
	return spans_caseeq(s, n, lit, strlen(lit));
}

/* The type/subtype of a media type value: parameters dropped, trimmed. */
static void media_type_span(const char *s, const char **start, size_t *n)
{
	const char *e;

	while (is_ows(*s))
		s++;
	e = s;
	while (*e && *e != ';' && *e != ',')
		e++;
	while (e > s && is_ows(e[-1]))
		e--;
	*start = s;
	*n = (size_t)(e - s);
}

static int kind_of_span(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < N_MANIFEST_TYPES; i++)
		if (span_caseeq(s, n, manifest_types[i].name))
			return manifest_types[i].kind;
	return 0;
}

static const char *kind_media_type(int kind)
{
	size_t i;

	for (i = 0; i < N_MANIFEST_TYPES; i++)
		if (manifest_types[i].kind == kind)
			return manifest_types[i].name;
	return MEDIA_TYPE_OCI_MANIFEST;
}

static int is_schema1_span(const char *s, size_t n)
{
	return span_caseeq(s, n, MEDIA_TYPE_DOCKER_SCHEMA1) ||
	       span_caseeq(s, n, MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED);
}

int manifest_media_type_known(const char *mt)
{
	const char *s;
	size_t n;

	if (!mt)
		return 0;
	media_type_span(mt, &s, &n);
	return kind_of_span(s, n) != 0;
}

static int is_oci_kind(int kind)
{
	return kind == MANIFEST_OCI_IMAGE || kind == MANIFEST_OCI_INDEX;
}

static int is_image_kind(int kind)
{
	return kind == MANIFEST_OCI_IMAGE || kind == MANIFEST_DOCKER_V2;
}

static int restricted_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$&^_.+-", c));
}

/* One RFC 6838 restricted-name: what the image-spec's JSON schema allows
 * (defs-descriptor.json mediaType pattern). */
static const char *restricted_name_end(const char *s)
{
	const char *p = s;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
	      (*p >= '0' && *p <= '9')))
		return NULL;
	while (restricted_name_char(*p) && p - s < 127)
		p++;
	return p;
}

static int media_type_valid(const char *s)
{
	const char *p = restricted_name_end(s);

	if (!p || *p != '/')
		return 0;
	p = restricted_name_end(p + 1);
	return p && *p == '\0';
}

static int base64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Standard padded base64, as Go's encoding/json decodes []byte: what
 * registry:2 accepts in a descriptor's "data". */
static int base64_valid(const char *s)
{
	size_t n = strlen(s), i, pad = 0;

	if (n % 4)
		return 0;
	if (n >= 1 && s[n - 1] == '=')
		pad++;
	if (n >= 2 && s[n - 2] == '=')
		pad++;
	for (i = 0; i < n - pad; i++)
		if (!base64_char(s[i]))
			return 0;
	return 1;
}

static int is_foreign_type(const char *mt)
{
	return !strcmp(mt, MEDIA_TYPE_DOCKER_FOREIGN_LAYER) ||
	       !strcmp(mt, MEDIA_TYPE_OCI_LAYER_NONDIST) ||
	       !strcmp(mt, MEDIA_TYPE_OCI_LAYER_NONDIST_GZIP) ||
	       !strcmp(mt, MEDIA_TYPE_OCI_LAYER_NONDIST_ZSTD);
}

/* An optional array of strings; *count gets its length. */
static int check_string_array(json_t *obj, const char *key, const char *where,
			      size_t *count, berth_error *err)
{
	json_t *arr = json_object_get(obj, key), *v;
	size_t i;

	*count = 0;
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return fail(err, BERTH_E_INVALID,
			    "%s.%s: must be an array of strings", where, key);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			return fail(err, BERTH_E_INVALID,
				    "%s.%s[%zu]: must be a string", where, key, i);
	}
	*count = json_array_size(arr);
	return 0;
}

/* An optional string member; *out is NULL when absent. */
static int optional_string(json_t *obj, const char *key, const char *where,
			   const char **out, berth_error *err)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return fail(err, BERTH_E_INVALID, "%s%s%s: must be a string",
			    where, *where ? "." : "", key);
	*out = json_string_value(v);
	return 0;
}

/* "where" prefixes the key in messages; "" for the top level. */
static int check_annotations(json_t *obj, const char *where, berth_error *err)
{
	json_t *ann = json_object_get(obj, "annotations"), *v;
	const char *key;
	const char *dot = *where ? "." : "";

	if (!ann)
		return 0;
	if (!json_is_object(ann))
		return fail(err, BERTH_E_INVALID,
			    "%s%sannotations: must be an object of strings",
			    where, dot);
	json_object_foreach(ann, key, v) {
		if (!json_is_string(v))
			return fail(err, BERTH_E_INVALID,
				    "%s%sannotations['%.*s']: must be a string",
				    where, dot, SHOW_MAX, key);
	}
	return 0;
}

static int check_artifact_type(json_t *obj, const char *where,
			       const char **out, berth_error *err)
{
	const char *dot = *where ? "." : "";
	int rc;

	rc = optional_string(obj, "artifactType", where, out, err);
	if (rc)
		return rc;
	/* distribution-spec treats an empty artifactType as missing */
	if (*out && **out == '\0')
		*out = NULL;
	if (*out && !media_type_valid(*out))
		return fail(err, BERTH_E_INVALID,
			    "%s%sartifactType: invalid media type '%.*s'",
			    where, dot, SHOW_MAX, *out);
	return 0;
}

/* image-index.md: platform.architecture and platform.os are required
 * when platform is present. */
static int check_platform(json_t *desc, const char *where, berth_error *err)
{
	static const char *const strings[] = { "architecture", "os",
					       "os.version", "variant" };
	json_t *p = json_object_get(desc, "platform");
	char pwhere[64];
	const char *s;
	size_t i, n;
	int rc;

	if (!p)
		return 0;
	snprintf(pwhere, sizeof(pwhere), "%s.platform", where);
	if (!json_is_object(p))
		return fail(err, BERTH_E_INVALID, "%s: must be an object",
			    pwhere);
	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		rc = optional_string(p, strings[i], pwhere, &s, err);
		if (rc)
			return rc;
		if (!s && i < 2)
			return fail(err, BERTH_E_INVALID, "%s.%s: missing",
				    pwhere, strings[i]);
	}
	rc = check_string_array(p, "os.features", pwhere, &n, err);
	if (rc)
		return rc;
	return check_string_array(p, "features", pwhere, &n, err);
}

static int parse_digest(json_t *desc, const char *where, digest *out,
			berth_error *err)
{
	json_t *v = json_object_get(desc, "digest");
	const char *s, *colon;
	int rc;

	if (!v)
		return fail(err, BERTH_E_INVALID, "%s.digest: missing", where);
	if (!json_is_string(v))
		return fail(err, BERTH_E_INVALID, "%s.digest: must be a string",
			    where);
	s = json_string_value(v);
	rc = digest_parse(s, out);
	if (rc == BERTH_E_UNSUPPORTED) {
		colon = strchr(s, ':');
		return fail(err, BERTH_E_INVALID,
			    "%s.digest: unsupported digest algorithm '%.*s'",
			    where,
			    colon && colon - s < SHOW_MAX ? (int)(colon - s)
							  : SHOW_MAX, s);
	}
	if (rc)
		return fail(err, BERTH_E_INVALID,
			    "%s.digest: invalid digest '%.*s'", where, SHOW_MAX,
			    s);
	return 0;
}

/*
 * Check one descriptor (descriptor.md) and fill ref. may_be_foreign is set
 * for layers: only there do foreign and non-distributable types mean the
 * blob may live at its urls instead of in the registry.
 */
static int parse_descriptor(json_t *desc, const char *where,
			    int may_be_foreign, manifest_ref *ref,
			    berth_error *err)
{
	json_t *v;
	const char *mt, *s;
	size_t n_urls;
	int rc;

	if (!json_is_object(desc))
		return fail(err, BERTH_E_INVALID, "%s: must be an object",
			    where);

	v = json_object_get(desc, "mediaType");
	if (!v)
		return fail(err, BERTH_E_INVALID, "%s.mediaType: missing",
			    where);
	if (!json_is_string(v))
		return fail(err, BERTH_E_INVALID,
			    "%s.mediaType: must be a string", where);
	mt = json_string_value(v);
	if (!media_type_valid(mt))
		return fail(err, BERTH_E_INVALID,
			    "%s.mediaType: invalid media type '%.*s'", where,
			    SHOW_MAX, mt);

	rc = parse_digest(desc, where, &ref->digest, err);
	if (rc)
		return rc;

	v = json_object_get(desc, "size");
	if (!v)
		return fail(err, BERTH_E_INVALID, "%s.size: missing", where);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return fail(err, BERTH_E_INVALID,
			    "%s.size: must be a non-negative integer", where);
	ref->size = (int64_t)json_integer_value(v);

	rc = check_string_array(desc, "urls", where, &n_urls, err);
	if (rc)
		return rc;
	rc = check_annotations(desc, where, err);
	if (rc)
		return rc;
	rc = check_artifact_type(desc, where, &s, err);
	if (rc)
		return rc;
	rc = optional_string(desc, "data", where, &s, err);
	if (rc)
		return rc;
	if (s && !base64_valid(s))
		return fail(err, BERTH_E_INVALID,
			    "%s.data: must be standard base64", where);

	ref->media_type = strdup(mt);
	if (!ref->media_type)
		return nomem(err);
	ref->is_foreign = may_be_foreign && n_urls > 0 &&
			  is_foreign_type(ref->media_type);
	return 0;
}

/* Bytes nested deeper than max_depth? Brackets inside strings do not count;
 * malformed input is left for the JSON parser to describe. */
static int nests_deeper_than(const unsigned char *p, size_t len, int max_depth)
{
	const unsigned char *end = p + len;
	int depth = 0, in_string = 0;

	for (; p < end; p++) {
		if (in_string) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '"')
				in_string = 0;
		} else if (*p == '"') {
			in_string = 1;
		} else if (*p == '{' || *p == '[') {
			if (++depth > max_depth)
				return 1;
		} else if ((*p == '}' || *p == ']') && depth > 0) {
			depth--;
		}
	}
	return 0;
}

static int check_schema_version(json_t *root, berth_error *err)
{
	json_t *v = json_object_get(root, "schemaVersion");

	if (!v)
		return fail(err, BERTH_E_INVALID, "schemaVersion: missing");
	if (!json_is_integer(v))
		return fail(err, BERTH_E_INVALID,
			    "schemaVersion: must be the integer 2");
	if (json_integer_value(v) == 1)
		return fail(err, BERTH_E_INVALID, "%s", schema1_refused);
	if (json_integer_value(v) != 2)
		return fail(err, BERTH_E_INVALID,
			    "schemaVersion: must be 2, not %" JSON_INTEGER_FORMAT,
			    json_integer_value(v));
	return 0;
}

/* The effective kind: body mediaType, else Content-Type, else the shape. */
static int effective_kind(json_t *root, const char *ct, size_t ct_len,
			  int *kind, berth_error *err)
{
	json_t *v = json_object_get(root, "mediaType");
	int ct_kind = kind_of_span(ct, ct_len), body_kind;
	int has_manifests, has_config;
	const char *s;

	if (v) {
		if (!json_is_string(v))
			return fail(err, BERTH_E_INVALID,
				    "mediaType: must be a string");
		s = json_string_value(v);
		if (is_schema1_span(s, strlen(s)))
			return fail(err, BERTH_E_INVALID, "%s",
				    schema1_refused);
		body_kind = kind_of_span(s, strlen(s));
		/* The body's mediaType must be spelled exactly: it is part
		 * of the digest and clients compare it byte for byte. */
		if (!body_kind || strcmp(s, kind_media_type(body_kind)))
			return fail(err, BERTH_E_INVALID,
				    "unsupported manifest media type '%.*s'",
				    SHOW_MAX, s);
		if (ct_kind && ct_kind != body_kind)
			return fail(err, BERTH_E_INVALID,
				    "content type %s does not match mediaType %s",
				    kind_media_type(ct_kind), s);
		*kind = body_kind;
		return 0;
	}
	if (ct_kind == MANIFEST_DOCKER_V2 || ct_kind == MANIFEST_DOCKER_LIST)
		return fail(err, BERTH_E_INVALID,
			    "mediaType: missing, and %s requires it",
			    kind_media_type(ct_kind));
	if (ct_kind) {
		*kind = ct_kind;
		return 0;
	}
	has_manifests = json_object_get(root, "manifests") != NULL;
	has_config = json_object_get(root, "config") != NULL;
	if (has_manifests && has_config)
		return fail(err, BERTH_E_INVALID,
			    "mediaType: missing, and with both 'config' and "
			    "'manifests' the manifest is ambiguous");
	if (has_manifests) {
		*kind = MANIFEST_OCI_INDEX;
		return 0;
	}
	if (has_config) {
		*kind = MANIFEST_OCI_IMAGE;
		return 0;
	}
	if (ct_len && !span_caseeq(ct, ct_len, MEDIA_TYPE_JSON))
		return fail(err, BERTH_E_INVALID,
			    "unsupported manifest media type '%.*s'",
			    ct_len < SHOW_MAX ? (int)ct_len : SHOW_MAX, ct);
	return fail(err, BERTH_E_INVALID,
		    "mediaType: missing, and neither 'config' nor 'manifests' "
		    "tells the manifest kind");
}

/* CVE-2021-41190: a document that reads as both an image manifest and an
 * index can be pulled as one and verified as the other. */
static int check_unambiguous(json_t *root, int kind, berth_error *err)
{
	if (is_image_kind(kind)) {
		if (json_object_get(root, "manifests"))
			return fail(err, BERTH_E_INVALID,
				    "manifests: not allowed in an image "
				    "manifest");
		return 0;
	}
	if (json_object_get(root, "config"))
		return fail(err, BERTH_E_INVALID,
			    "config: not allowed in an image index");
	if (json_object_get(root, "layers"))
		return fail(err, BERTH_E_INVALID,
			    "layers: not allowed in an image index");
	return 0;
}

static int check_count(size_t n, berth_error *err)
{
	if (n > MANIFEST_MAX_DESCRIPTORS)
		return fail(err, BERTH_E_INVALID,
			    "manifest has %zu descriptors, more than the limit "
			    "of %d", n, MANIFEST_MAX_DESCRIPTORS);
	return 0;
}

static int parse_image(json_t *root, manifest_info *m, size_t extra,
		       berth_error *err)
{
	json_t *config = json_object_get(root, "config");
	json_t *layers = json_object_get(root, "layers"), *v;
	char where[48];
	size_t i, n;
	int rc;

	if (!config)
		return fail(err, BERTH_E_INVALID, "config: missing");
	if (!layers)
		return fail(err, BERTH_E_INVALID, "layers: missing");
	if (!json_is_array(layers))
		return fail(err, BERTH_E_INVALID, "layers: must be an array");
	n = json_array_size(layers);
	rc = check_count(1 + n + extra, err);
	if (rc)
		return rc;

	m->blobs = calloc(1 + n, sizeof(*m->blobs));
	if (!m->blobs)
		return nomem(err);
	m->n_blobs = 1 + n;
	rc = parse_descriptor(config, "config", 0, &m->blobs[0], err);
	if (rc)
		return rc;
	json_array_foreach(layers, i, v) {
		snprintf(where, sizeof(where), "layers[%zu]", i);
		rc = parse_descriptor(v, where, 1, &m->blobs[1 + i], err);
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_index(json_t *root, manifest_info *m, size_t extra,
		       berth_error *err)
{
	json_t *manifests = json_object_get(root, "manifests"), *v;
	char where[48];
	size_t i, n;
	int rc;

	if (!manifests)
		return fail(err, BERTH_E_INVALID, "manifests: missing");
	if (!json_is_array(manifests))
		return fail(err, BERTH_E_INVALID,
			    "manifests: must be an array");
	n = json_array_size(manifests);
	rc = check_count(n + extra, err);
	if (rc || n == 0)
		return rc;

	m->children = calloc(n, sizeof(*m->children));
	if (!m->children)
		return nomem(err);
	m->n_children = n;
	json_array_foreach(manifests, i, v) {
		snprintf(where, sizeof(where), "manifests[%zu]", i);
		rc = parse_descriptor(v, where, 0, &m->children[i], err);
		if (rc)
			return rc;
		rc = check_platform(v, where, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* subject, artifactType and annotations exist only in the OCI types; on
 * Docker types they are unknown fields and left alone. */
static int parse_oci_fields(json_t *root, manifest_info *m, berth_error *err)
{
	json_t *subject = json_object_get(root, "subject");
	const char *artifact_type;
	json_t *ann;
	int rc;

	if (subject) {
		rc = parse_descriptor(subject, "subject", 0, &m->subject, err);
		if (rc)
			return rc;
		m->has_subject = 1;
	}
	rc = check_artifact_type(root, "", &artifact_type, err);
	if (rc)
		return rc;
	if (artifact_type) {
		m->artifact_type = strdup(artifact_type);
		if (!m->artifact_type)
			return nomem(err);
	}
	rc = check_annotations(root, "", err);
	if (rc)
		return rc;
	ann = json_object_get(root, "annotations");
	if (ann) {
		m->annotations_json = json_dumps(ann, JSON_COMPACT |
						      JSON_PRESERVE_ORDER);
		if (!m->annotations_json)
			return nomem(err);
	}
	return 0;
}

int manifest_validate(const char *content_type, const void *body, size_t len,
		      manifest_info **out, berth_error *err)
{
	manifest_info *m = NULL;
	json_t *root = NULL;
	json_error_t jerr;
	const char *ct = "";
	size_t ct_len = 0, extra;
	int kind = 0, rc;

	*out = NULL;
	if (content_type)
		media_type_span(content_type, &ct, &ct_len);
	if (is_schema1_span(ct, ct_len)) {
		rc = fail(err, BERTH_E_INVALID, "%s", schema1_refused);
		goto out;
	}
	if (!body && len) {
		rc = fail(err, BERTH_E_INVALID, "manifest: no body");
		goto out;
	}
	if (!body)
		body = "";
	if (nests_deeper_than(body, len, MANIFEST_MAX_DEPTH)) {
		rc = fail(err, BERTH_E_INVALID,
			  "manifest nests deeper than %d levels",
			  MANIFEST_MAX_DEPTH);
		goto out;
	}
	/* Duplicate keys would let two parsers read two different
	 * manifests from the same digest. */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		rc = fail(err, BERTH_E_INVALID, "manifest %s: %s at line %d "
			  "column %d",
			  json_error_code(&jerr) == json_error_duplicate_key ?
			  "is ambiguous" : "is not valid JSON",
			  jerr.text, jerr.line, jerr.column);
		goto out;
	}
	if (!json_is_object(root)) {
		rc = fail(err, BERTH_E_INVALID,
			  "manifest is not a JSON object");
		goto out;
	}
	rc = check_schema_version(root, err);
	if (rc)
		goto out;
	rc = effective_kind(root, ct, ct_len, &kind, err);
	if (rc)
		goto out;
	rc = check_unambiguous(root, kind, err);
	if (rc)
		goto out;

	m = calloc(1, sizeof(*m));
	if (!m) {
		rc = nomem(err);
		goto out;
	}
	m->kind = kind;
	m->media_type = strdup(kind_media_type(kind));
	if (!m->media_type) {
		rc = nomem(err);
		goto out;
	}
	extra = is_oci_kind(kind) && json_object_get(root, "subject") ? 1 : 0;
	if (is_image_kind(kind))
		rc = parse_image(root, m, extra, err);
	else
		rc = parse_index(root, m, extra, err);
	if (rc)
		goto out;
	if (is_oci_kind(kind)) {
		rc = parse_oci_fields(root, m, err);
		if (rc)
			goto out;
	}
	/* distribution-spec "Listing Referrers": without artifactType an
	 * image manifest is known by its config's media type. */
	if (!m->artifact_type && is_image_kind(kind)) {
		m->artifact_type = strdup(m->blobs[0].media_type);
		if (!m->artifact_type) {
			rc = nomem(err);
			goto out;
		}
	}
	*out = m;
	m = NULL;
out:
	manifest_info_free(m);
	json_decref(root);
	return rc;
}

static void manifest_ref_clear(manifest_ref *r)
{
	free(r->media_type);
	r->media_type = NULL;
}

void manifest_info_free(manifest_info *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n_blobs; i++)
		manifest_ref_clear(&m->blobs[i]);
	for (i = 0; i < m->n_children; i++)
		manifest_ref_clear(&m->children[i]);
	manifest_ref_clear(&m->subject);
	free(m->blobs);
	free(m->children);
	free(m->media_type);
	free(m->artifact_type);
	free(m->annotations_json);
	free(m);
}

/*
 * The stored-manifest scanner. It walks the top-level object once, decoding
 * only the keys and the "mediaType" value, and skips every other value by
 * bracket counting outside strings. That is enough to be exact on valid
 * JSON (escaped keys, strings holding "mediaType", nested mediaType keys)
 * and safe on anything else.
 */
struct json_scan {
	const unsigned char *p;
	const unsigned char *end;
};

static void scan_ws(struct json_scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
				 *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Read the string at s->p (on its opening quote). Its decoded bytes go to
 * buf when buf is given; a string that does not fit, or that holds a
 * character outside ASCII, yields *n = cap so it matches nothing we look
 * for. Returns -1 on a malformed or unterminated string.
 */
static int scan_string(struct json_scan *s, char *buf, size_t cap, size_t *n)
{
	size_t len = 0;
	int c, i, h, u;

	s->p++;
	for (;;) {
		if (s->p >= s->end)
			return -1;
		c = *s->p++;
		if (c == '"')
			break;
		if (c == '\\') {
			if (s->p >= s->end)
				return -1;
			c = *s->p++;
			switch (c) {
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case '"': case '\\': case '/': break;
			case 'u':
				if (s->end - s->p < 4)
					return -1;
				for (u = 0, i = 0; i < 4; i++) {
					h = hex_value(s->p[i]);
					if (h < 0)
						return -1;
					u = u * 16 + h;
				}
				s->p += 4;
				c = u > 0 && u < 0x80 ? u : 0x80;
				break;
			default:
				return -1;
			}
		}
		if (c >= 0x80)
			len = cap;
		else if (buf && len < cap)
			buf[len++] = (char)c;
	}
	if (n)
		*n = len;
	return 0;
}

/* Skip one value; stops before the ',' or '}' that follows it. */
static int scan_skip_value(struct json_scan *s)
{
	size_t depth = 0;

	while (s->p < s->end) {
		switch (*s->p) {
		case '"':
			if (scan_string(s, NULL, 0, NULL))
				return -1;
			if (depth == 0)
				return 0;
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return 0;
			if (--depth == 0) {
				s->p++;
				return 0;
			}
			break;
		case ',':
			if (depth == 0)
				return 0;
			break;
		default:
			break;
		}
		s->p++;
	}
	return -1;
}

static const char *const served_types[] = {
	MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_OCI_INDEX,
	MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_DOCKER_LIST,
	MEDIA_TYPE_DOCKER_SCHEMA1, MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED,
};

static const char *served_type_of(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(served_types) / sizeof(served_types[0]); i++)
		if (span_eq(s, n, served_types[i]))
			return served_types[i];
	return NULL;
}

const char *manifest_media_type_of(const void *body, size_t len)
{
	struct json_scan s;
	const char *mt = NULL;
	char key[16], value[64];
	size_t klen, vlen;
	int has_manifests = 0, has_config = 0, has_signatures = 0;
	int schema1 = 0;

	if (!body)
		return MEDIA_TYPE_OCI_MANIFEST;
	s.p = body;
	s.end = s.p + len;
	scan_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return MEDIA_TYPE_OCI_MANIFEST;
	s.p++;
	for (;;) {
		scan_ws(&s);
		if (s.p >= s.end || *s.p != '"')
			break;
		if (scan_string(&s, key, sizeof(key), &klen))
			break;
		scan_ws(&s);
		if (s.p >= s.end || *s.p != ':')
			break;
		s.p++;
		scan_ws(&s);
		if (s.p >= s.end)
			break;
		/* Later duplicates win, as in Go's encoding/json and jansson. */
		if (span_eq(key, klen, "mediaType")) {
			mt = NULL;
			if (*s.p == '"') {
				if (scan_string(&s, value, sizeof(value), &vlen))
					break;
				mt = served_type_of(value, vlen);
			}
		} else if (span_eq(key, klen, "schemaVersion")) {
			schema1 = *s.p == '1' && (s.end - s.p == 1 ||
						  memchr(" \t\r\n,}", s.p[1], 6));
		} else {
			has_manifests |= span_eq(key, klen, "manifests");
			has_config |= span_eq(key, klen, "config");
			has_signatures |= span_eq(key, klen, "signatures");
		}
		if (scan_skip_value(&s))
			break;
		scan_ws(&s);
		if (s.p >= s.end || *s.p != ',')
			break;
		s.p++;
	}
	if (mt)
		return mt;
	if (has_manifests)
		return MEDIA_TYPE_OCI_INDEX;
	if (has_config)
		return MEDIA_TYPE_OCI_MANIFEST;
	/* registry:2 storage adopted as-is may hold schema 1 manifests */
	if (schema1)
		return has_signatures ? MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED
				      : MEDIA_TYPE_DOCKER_SCHEMA1;
	return MEDIA_TYPE_OCI_MANIFEST;
}

/* An Accept qvalue in thousandths; anything unreadable counts as 1. */
static int parse_qvalue(const char *s, size_t n)
{
	int q = 0, scale = 100;
	size_t i;

	if (n == 0 || (s[0] != '0' && s[0] != '1'))
		return 1000;
	q = (s[0] - '0') * 1000;
	if (n == 1)
		return q;
	if (s[1] != '.')
		return 1000;
	for (i = 2; i < n && i < 5; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 1000;
		q += (s[i] - '0') * scale;
		scale /= 10;
	}
	if (i < n)
		return 1000;
	return q > 1000 ? 1000 : q;
}

static const char *trim_span(const char *b, const char **e)
{
	while (b < *e && is_ows(*b))
		b++;
	while (*e > b && is_ows((*e)[-1]))
		(*e)--;
	return b;
}

/* End of the current element or parameter: the next stop byte outside a
 * quoted string, or e. */
static const char *span_until(const char *p, const char *e, const char *stops)
{
	int quoted = 0;

	for (; p < e; p++) {
		if (quoted) {
			if (*p == '\\' && p + 1 < e)
				p++;
			else if (*p == '"')
				quoted = 0;
		} else if (*p == '"') {
			quoted = 1;
		} else if (strchr(stops, *p)) {
			break;
		}
	}
	return p;
}

/* How specifically the range r matches mt (both type/subtype spans):
 * 3 exactly, 2 by its type with a wildcard subtype, 1 as any/any, 0 not. */
static int range_match(const char *r, size_t rn, const char *mt, size_t mn)
{
	const char *rs = memchr(r, '/', rn), *ms = memchr(mt, '/', mn);
	size_t rt, mtl;

	if (!rs || !ms)
		return 0;
	if (span_eq(r, rn, "*/*"))
		return 1;
	rt = (size_t)(rs - r);
	mtl = (size_t)(ms - mt);
	if (!spans_caseeq(r, rt, mt, mtl))
		return 0;
	if (span_eq(rs + 1, rn - rt - 1, "*"))
		return 2;
	return spans_caseeq(rs + 1, rn - rt - 1, ms + 1, mn - mtl - 1) ? 3 : 0;
}

/* The q parameter of one Accept element's parameters [p, e). */
static int element_qvalue(const char *p, const char *e)
{
	const char *pe, *eq, *nb, *ne;

	while (p < e) {
		p++;    /* the ';' */
		pe = span_until(p, e, ";");
		eq = memchr(p, '=', (size_t)(pe - p));
		if (eq) {
			ne = eq;
			nb = trim_span(p, &ne);
			if (spans_caseeq(nb, (size_t)(ne - nb), "q", 1)) {
				ne = pe;
				nb = trim_span(eq + 1, &ne);
				return parse_qvalue(nb, (size_t)(ne - nb));
			}
		}
		p = pe;
	}
	return 1000;
}

int accept_allows(const char *accept, const char *mt)
{
	const char *p, *end, *eb, *ee, *rb, *re, *m;
	size_t mn;
	int best = 0, best_q = 0, spec, q;

	if (!accept)
		return 1;
	end = accept + strlen(accept);
	p = trim_span(accept, &end);
	if (p == end)
		return 1;
	if (!mt)
		return 0;
	media_type_span(mt, &m, &mn);
	while (p < end) {
		ee = span_until(p, end, ",");
		re = span_until(p, ee, ";");
		rb = trim_span(p, &re);
		spec = range_match(rb, (size_t)(re - rb), m, mn);
		if (spec) {
			eb = span_until(p, ee, ";");
			q = element_qvalue(eb, ee);
			/* the most specific range decides; a repeated range
			 * counts with its highest q */
			if (spec > best || (spec == best && q > best_q)) {
				best = spec;
				best_q = q;
			}
		}
		p = ee < end ? ee + 1 : ee;
	}
	return best > 0 && best_q > 0;
}

/*
 * trivy_attest.c - read the attestation layers around a Trivy report:
 * DSSE envelope -> in-toto statement -> cosign-vuln predicate ->
 * scanner.result, the report itself (see FORMAT.md section 8).
 */
#include "trivy_attest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trivy_json.h"

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int trivy_base64_decode(const char *in, size_t len, char **out, size_t *out_len)
{
	size_t n = 0, pad = 0;
	unsigned bits = 0;
	int nbits = 0;
	char *buf;

	if (len % 4 != 0)
		return -1;
	buf = malloc(len / 4 * 3 + 1);
	if (!buf)
		return -2;
	for (size_t i = 0; i < len; i++) {
		int v;
		if (in[i] == '=') {
			/* At most two, and only at the very end. */
			if (++pad > 2 || i < len - 2)
				goto bad;
			continue;
		}
		if (pad)
			goto bad;
		v = b64_value((unsigned char)in[i]);
		if (v < 0)
			goto bad;
		bits = (bits << 6) | (unsigned)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			buf[n++] = (char)((bits >> nbits) & 0xff);
		}
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return 0;
bad:
	free(buf);
	return -1;
}

/* A string value copied into the report's memory, or -1. */
static int attest_string(trivy_json *j, trivy_report *r, const char *what, const char **dst)
{
	const char *s;
	size_t len;

	if (trivy_json_peek(j) != TRIVY_JSON_STRING)
		return trivy_json_expected(j, "'%s' is not a string", what);
	if (trivy_json_string(j, &s, &len) < 0)
		return -1;
	*dst = trivy_report_strdup(r, s, len, 256);
	return *dst ? 0 : trivy_json_oom(j);
}

/* scanner.result: the report itself, a SchemaVersion 2 object. */
static int read_result(trivy_json *j, trivy_report *r, trivy_attest_seen *s)
{
	const char *key;
	size_t klen;
	int first = 1, rc;

	if (trivy_json_peek(j) != TRIVY_JSON_OBJECT)
		return trivy_json_expected(j, "scanner.result is not an object");
	s->has_result = 1;
	while ((rc = trivy_json_object_next(j, &first, &key, &klen)) > 0) {
		rc = trivy_native_key(j, r, key, klen, &s->inner);
		if (rc == 0)
			rc = trivy_json_skip(j);
		if (rc < 0)
			return -1;
	}
	return rc;
}

/* The predicate's "scanner": {uri, version, db, result}. */
static int read_scanner(trivy_json *j, trivy_report *r, trivy_attest_seen *s)
{
	const char *key;
	size_t klen;
	int first = 1, rc;

	if (trivy_json_peek(j) != TRIVY_JSON_OBJECT)
		return trivy_json_expected(j, "'scanner' is not an object");
	s->has_scanner = 1;
	while ((rc = trivy_json_object_next(j, &first, &key, &klen)) > 0) {
		if (trivy_json_key_is(key, klen, "result"))
			rc = read_result(j, r, s);
		else if (trivy_json_key_is(key, klen, "version") &&
			 trivy_json_peek(j) == TRIVY_JSON_STRING)
			rc = attest_string(j, r, "scanner.version", &s->scanner_version);
		else
			rc = trivy_json_skip(j);
		if (rc < 0)
			return -1;
	}
	return rc;
}

static int read_predicate(trivy_json *j, trivy_report *r, trivy_attest_seen *s)
{
	const char *key;
	size_t klen;
	int first = 1, rc;

	if (trivy_json_peek(j) != TRIVY_JSON_OBJECT)
		return trivy_json_expected(j, "'predicate' is not an object");
	while ((rc = trivy_json_object_next(j, &first, &key, &klen)) > 0) {
		rc = trivy_json_key_is(key, klen, "scanner") ? read_scanner(j, r, s) : trivy_json_skip(j);
		if (rc < 0)
			return -1;
	}
	return rc;
}

/* subject: [{name, digest: {sha256: hex}}]: the manifests it is about. */
static int read_subjects(trivy_json *j, trivy_report *r)
{
	const char *key, *s;
	size_t klen, len;
	int first = 1, more, rc;

	if (trivy_json_peek(j) != TRIVY_JSON_ARRAY)
		return trivy_json_expected(j, "'subject' is not an array");
	while ((more = trivy_json_array_next(j, &first)) > 0) {
		int ofirst = 1;
		if (trivy_json_peek(j) != TRIVY_JSON_OBJECT)
			return trivy_json_expected(j, "a subject is not an object");
		while ((rc = trivy_json_object_next(j, &ofirst, &key, &klen)) > 0) {
			int dfirst = 1;
			if (!trivy_json_key_is(key, klen, "digest")) {
				if (trivy_json_skip(j) < 0)
					return -1;
				continue;
			}
			if (trivy_json_peek(j) != TRIVY_JSON_OBJECT)
				return trivy_json_expected(j, "a subject's digest is not an object");
			while ((rc = trivy_json_object_next(j, &dfirst, &key, &klen)) > 0) {
				char digest[160];
				int n;
				if (klen > 16 || trivy_json_peek(j) != TRIVY_JSON_STRING) {
					if (trivy_json_skip(j) < 0)
						return -1;
					continue;
				}
				n = snprintf(digest, sizeof(digest), "%.*s:", (int)klen, key);
				if (trivy_json_string(j, &s, &len) < 0)
					return -1;
				if (len < sizeof(digest) - (size_t)n) {
					memcpy(digest + n, s, len);
					if (trivy_report_add_subject(r, digest, (size_t)n + len) < 0)
						return trivy_json_oom(j);
				}
			}
			if (rc < 0)
				return -1;
		}
		if (rc < 0)
			return -1;
	}
	return more;
}

static int read_payload(trivy_json *j, trivy_attest_seen *s)
{
	const char *text;
	size_t len;
	int rc;

	if (trivy_json_peek(j) != TRIVY_JSON_STRING)
		return trivy_json_expected(j, "'payload' is not a string");
	if (trivy_json_string(j, &text, &len) < 0)
		return -1;
	free(s->payload);
	s->payload = NULL;
	rc = trivy_base64_decode(text, len, &s->payload, &s->payload_len);
	if (rc == -2)
		return trivy_json_oom(j);
	s->payload_bad = rc < 0;
	return 0;
}

int trivy_attest_key(trivy_json *j, trivy_report *r, const char *key, size_t klen,
		     trivy_attest_seen *s)
{
	int rc;

	if (trivy_json_key_is(key, klen, "scanner")) {
		s->predicate = 1;
		rc = read_scanner(j, r, s);
	} else if (trivy_json_key_is(key, klen, "invocation")) {
		s->predicate = 1;
		rc = trivy_json_skip(j);
	} else if (trivy_json_key_is(key, klen, "_type")) {
		s->statement = 1;
		rc = attest_string(j, r, "_type", &s->statement_type);
	} else if (trivy_json_key_is(key, klen, "predicateType")) {
		s->statement = 1;
		rc = attest_string(j, r, "predicateType", &s->predicate_type);
	} else if (trivy_json_key_is(key, klen, "subject")) {
		s->statement = 1;
		rc = read_subjects(j, r);
	} else if (trivy_json_key_is(key, klen, "predicate")) {
		s->statement = 1;
		rc = read_predicate(j, r, s);
	} else if (trivy_json_key_is(key, klen, "payloadType")) {
		s->dsse = 1;
		rc = attest_string(j, r, "payloadType", &s->payload_type);
	} else if (trivy_json_key_is(key, klen, "payload")) {
		s->dsse = 1;
		rc = read_payload(j, s);
	} else {
		return 0;
	}
	return rc < 0 ? -1 : 1;
}

int trivy_attest_forms(const trivy_attest_seen *s)
{
	return s->predicate + s->statement + s->dsse;
}

static int finish_dsse(trivy_json *j, trivy_report *r, trivy_attest_seen *s, int depth)
{
	berth_error nested = {0};
	char message[sizeof(nested.message) + 32];
	int rc;

	if (!s->payload_type || strcmp(s->payload_type, TRIVY_IN_TOTO_PAYLOAD_TYPE) != 0)
		return trivy_json_fail(j,
				       "a DSSE envelope of payloadType '%s' is not an in-toto statement",
				       s->payload_type ? s->payload_type : "(none)");
	if (s->payload_bad)
		return trivy_json_fail(j, "the DSSE payload is not base64");
	if (!s->payload)
		return trivy_json_fail(j, "a DSSE envelope without a payload");
	rc = trivy_parse_document(s->payload, s->payload_len, r, depth + 1, &nested);
	if (rc == BERTH_E_NOMEM)
		return trivy_json_oom(j);
	if (rc != 0) {
		snprintf(message, sizeof(message), "in the DSSE payload: %s", nested.message);
		return trivy_json_fail_message(j, message);
	}
	return 0;
}

int trivy_attest_finish(trivy_json *j, trivy_report *r, trivy_attest_seen *s, int depth)
{
	if (s->dsse)
		return finish_dsse(j, r, s, depth);
	if (s->statement) {
		if (!s->predicate_type || strcmp(s->predicate_type, TRIVY_COSIGN_VULN_PREDICATE) != 0)
			return trivy_json_fail(j, "an in-toto statement of predicateType '%s' is not a "
						  "vulnerability attestation (%s)",
					       s->predicate_type ? s->predicate_type : "(none)",
					       TRIVY_COSIGN_VULN_PREDICATE);
		if (!s->has_result)
			return trivy_json_fail(j, "the statement's predicate has no scanner.result");
	} else if (!s->has_result) {
		return trivy_json_fail(j, "not a Trivy report: a cosign-vuln predicate needs "
					  "scanner.result");
	}
	if (trivy_native_check(j, r, &s->inner) < 0)
		return -1;
	r->format = TRIVY_FORMAT_COSIGN_VULN;
	r->scanner = "Trivy";
	if (!r->scanner_version && s->scanner_version)
		r->scanner_version = s->scanner_version;
	return 0;
}

void trivy_attest_seen_free(trivy_attest_seen *s)
{
	free(s->payload);
	s->payload = NULL;
}

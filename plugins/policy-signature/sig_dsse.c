/*
 * sig_dsse.c - Sigstore bundles pushed as referrers (cosign's newer
 * format): a JSON bundle whose `dsseEnvelope` signs an in-toto statement
 * naming the image by digest.
 *
 * What is signed is the DSSE pre-authentication encoding
 *   "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
 * of the payload type and the decoded payload; the statement's `subject`
 * lists digests. Bundles with only a `messageSignature` (blob signatures),
 * certificates and transparency-log entries are outside what configured
 * keys can check; the README says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sig.h"

#define DSSE_MAX_SIGS 16
#define DSSE_MAX_SUBJECTS 64

static int why_set(char *why, size_t cap, const char *text)
{
	if (why && cap)
		snprintf(why, cap, "%s", text);
	return BERTH_E_INVALID;
}

void sig_dsse_clear(sig_dsse *d)
{
	for (size_t i = 0; i < d->n_sigs; i++)
		free(d->sigs[i]);
	for (size_t i = 0; i < d->n_subjects; i++)
		free(d->subjects[i]);
	free(d->sigs);
	free(d->subjects);
	free(d->pae);
	memset(d, 0, sizeof(*d));
}

static int build_pae(sig_dsse *d, const char *type, const unsigned char *body, size_t body_len)
{
	size_t tlen = strlen(type);
	size_t cap = 6 + 1 + 20 + 1 + tlen + 1 + 20 + 1 + body_len + 1;
	int n;

	d->pae = malloc(cap);
	if (!d->pae)
		return BERTH_E_NOMEM;
	n = snprintf((char *)d->pae, cap, "DSSEv1 %zu %s %zu ", tlen, type, body_len);
	if (n < 0 || (size_t)n + body_len >= cap)
		return BERTH_E_INTERNAL;
	memcpy(d->pae + n, body, body_len);
	d->pae_len = (size_t)n + body_len;
	return 0;
}

static int read_subjects(sig_dsse *d, const unsigned char *body, size_t body_len)
{
	json_t *st = json_loadb((const char *)body, body_len, 0, NULL);
	json_t *subjects = json_object_get(st, "subject");
	size_t n = json_array_size(subjects);
	int rc = BERTH_E_INVALID;

	if (!json_is_array(subjects) || n == 0 || n > DSSE_MAX_SUBJECTS)
		goto out;
	d->subjects = calloc(n, sizeof(*d->subjects));
	if (!d->subjects) {
		rc = BERTH_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *hex = json_object_get(json_object_get(json_array_get(subjects, i), "digest"),
					      "sha256");
		char dig[SIG_DIGEST_MAX];

		if (!json_is_string(hex) || strlen(json_string_value(hex)) != 64)
			continue;
		snprintf(dig, sizeof(dig), "sha256:%s", json_string_value(hex));
		if (!sig_digest_valid(dig))
			continue;
		if (!(d->subjects[d->n_subjects] = strdup(dig))) {
			rc = BERTH_E_NOMEM;
			goto out;
		}
		d->n_subjects++;
	}
	rc = d->n_subjects ? 0 : BERTH_E_INVALID;
out:
	json_decref(st);
	return rc;
}

int sig_dsse_parse(const void *data, size_t len, sig_dsse *out, char *why, size_t cap)
{
	json_t *root, *env, *payload, *ptype, *sigs;
	unsigned char *body = NULL;
	size_t body_len = 0, n;
	int rc = BERTH_E_INVALID;

	memset(out, 0, sizeof(*out));
	root = json_loadb(data, len, 0, NULL);
	env = json_object_get(root, "dsseEnvelope");
	if (!json_is_object(env)) {
		why_set(why, cap, json_object_get(root, "messageSignature")
					  ? "bundle holds a message signature, which keys cannot tie to an image"
					  : "bundle has no DSSE envelope");
		goto out;
	}
	payload = json_object_get(env, "payload");
	ptype = json_object_get(env, "payloadType");
	sigs = json_object_get(env, "signatures");
	n = json_array_size(sigs);
	if (!json_is_string(payload) || !json_is_string(ptype) || n == 0) {
		why_set(why, cap, "DSSE envelope lacks payload, payloadType or signatures");
		goto out;
	}
	if (strcmp(json_string_value(ptype), "application/vnd.in-toto+json") != 0) {
		why_set(why, cap, "DSSE payload is not an in-toto statement");
		goto out;
	}
	body = sig_base64_decode(json_string_value(payload), &body_len);
	if (!body) {
		why_set(why, cap, "DSSE payload is not base64");
		goto out;
	}
	if ((rc = build_pae(out, json_string_value(ptype), body, body_len)) != 0 ||
	    (rc = read_subjects(out, body, body_len)) != 0) {
		why_set(why, cap, rc == BERTH_E_NOMEM ? "out of memory"
						      : "in-toto statement names no sha256 subject");
		goto out;
	}
	if (n > DSSE_MAX_SIGS)
		n = DSSE_MAX_SIGS;
	out->sigs = calloc(n, sizeof(*out->sigs));
	if (!out->sigs) {
		why_set(why, cap, "out of memory");
		rc = BERTH_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_object_get(json_array_get(sigs, i), "sig");
		if (!json_is_string(s))
			continue;
		if (!(out->sigs[out->n_sigs] = strdup(json_string_value(s)))) {
			rc = BERTH_E_NOMEM;
			goto out;
		}
		out->n_sigs++;
	}
	rc = out->n_sigs ? 0 : why_set(why, cap, "DSSE envelope has no signature");
out:
	free(body);
	json_decref(root);
	if (rc)
		sig_dsse_clear(out);
	return rc;
}

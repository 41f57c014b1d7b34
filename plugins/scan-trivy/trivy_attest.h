/*
 * trivy_attest.h - Trivy reports inside attestations: the cosign-vuln
 * predicate (trivy --format cosign-vuln), the in-toto statement that
 * carries it, and the DSSE envelope around that statement (what
 * `cosign attest --type vuln` stores). Signatures are not checked: the
 * report is trusted as far as whoever could push it.
 */
#ifndef TRIVY_ATTEST_H
#define TRIVY_ATTEST_H

#include <stddef.h>

#include "trivy_report.h"

#define TRIVY_COSIGN_VULN_PREDICATE "https://cosign.sigstore.dev/attestation/vuln/v1"
#define TRIVY_IN_TOTO_PAYLOAD_TYPE "application/vnd.in-toto+json"

/* What the root object said, by attestation layer. */
typedef struct trivy_attest_seen {
	int predicate;             /* root keys of a bare cosign-vuln predicate */
	int statement;             /* _type, predicateType, subject or predicate */
	int dsse;                  /* payloadType or payload */
	int has_scanner;           /* a "scanner" object was read (root or predicate) */
	int has_result;            /* scanner.result was read */
	trivy_native_seen inner;   /* what scanner.result said about itself */
	const char *scanner_version;
	const char *statement_type;
	const char *predicate_type;
	const char *payload_type;
	char *payload;             /* decoded DSSE payload (malloc'd) */
	size_t payload_len;
	int payload_bad;           /* the payload was not base64 */
} trivy_attest_seen;

/* Read the value of an attestation key: 1 when the key was one, 0 when not (nothing read), -1. */
int trivy_attest_key(struct trivy_json *j, trivy_report *r, const char *key, size_t klen,
		     trivy_attest_seen *s);
/* How many attestation layers the root object showed (more than one is an error). */
int trivy_attest_forms(const trivy_attest_seen *s);
/* Check what was read and parse a DSSE payload; sets r->format. 0 or -1 (message in j). */
int trivy_attest_finish(struct trivy_json *j, trivy_report *r, trivy_attest_seen *s, int depth);
void trivy_attest_seen_free(trivy_attest_seen *s);

/* Standard base64 (RFC 4648 section 4, padded) into a malloc'd buffer; -1 when malformed. */
int trivy_base64_decode(const char *in, size_t len, char **out, size_t *out_len);

#endif /* TRIVY_ATTEST_H */

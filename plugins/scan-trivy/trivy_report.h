/*
 * trivy_report.h - a vulnerability report as the importer keeps it: the
 * few fields of a Trivy report a registry needs, whatever form it came in
 * (Trivy JSON, the legacy array, SARIF, a cosign-vuln predicate, an in-toto
 * statement or its DSSE envelope).
 *
 * Parsing is pure (no host, no I/O): trivy_report_parse() is what the unit
 * tests and the fuzz target drive.
 */
#ifndef TRIVY_REPORT_H
#define TRIVY_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "berth/error.h"

/* trivy-db's order: UNKNOWN=0 ... CRITICAL=4 (the integers of VendorSeverity). */
enum trivy_severity {
	TRIVY_SEV_UNKNOWN = 0,
	TRIVY_SEV_LOW,
	TRIVY_SEV_MEDIUM,
	TRIVY_SEV_HIGH,
	TRIVY_SEV_CRITICAL,
	TRIVY_SEV_COUNT
};

enum trivy_format {
	TRIVY_FORMAT_JSON = 1,     /* SchemaVersion 2 object */
	TRIVY_FORMAT_LEGACY,       /* top-level array of Results (before v0.20) */
	TRIVY_FORMAT_SARIF,        /* trivy --format sarif */
	TRIVY_FORMAT_COSIGN_VULN,  /* trivy --format cosign-vuln, bare, in a statement or DSSE */
};

/* Longest vulnerability ID accepted; other strings are cut at TRIVY_TEXT_MAX. */
#define TRIVY_ID_MAX 255
#define TRIVY_TEXT_MAX 1024
/* Most findings one report may hold. */
#define TRIVY_FINDINGS_MAX 100000

/* One vulnerability in one package of one result. Strings never NULL ("" when absent). */
typedef struct trivy_finding {
	const char *id;
	const char *pkg_name;
	const char *pkg_id;
	const char *pkg_path;
	const char *purl;
	const char *installed;
	const char *fixed;
	const char *status;
	const char *title;
	const char *url;
	const char *severity_source;
	const char *target;
	const char *result_class;
	const char *result_type;
	int severity;              /* enum trivy_severity */
} trivy_finding;

struct trivy_arena;

typedef struct trivy_report {
	int format;                /* enum trivy_format */
	const char *scanner;       /* "Trivy" */
	const char *scanner_version;
	const char *artifact_name;
	const char *artifact_type;
	const char *created_at;    /* RFC 3339, or the integer as text */
	const char *image_id;
	/* Manifest digests the report names as its subject: Metadata.RepoDigests
	 * (the part after '@'), SARIF repoDigests, an in-toto subject. */
	const char **subject_digests;
	size_t n_subject_digests;
	const char **repo_digests; /* the RepoDigests entries as written */
	size_t n_repo_digests;

	trivy_finding *findings;
	size_t n_findings;
	/* Identical findings listed more than once, dropped (see README: counting). */
	size_t duplicates;

	/* private */
	size_t cap_findings, cap_subjects;
	struct trivy_arena *arena;
} trivy_report;

/*
 * Parse a report. 0 on success; BERTH_E_INVALID with a message for
 * malformed JSON, JSON that is not a Trivy report, or a Trivy report of an
 * unsupported kind; BERTH_E_NOMEM. The report is empty after a failure;
 * free it with trivy_report_free() either way.
 */
int trivy_report_parse(const void *buf, size_t len, trivy_report *r, berth_error *err);
void trivy_report_free(trivy_report *r);

const char *trivy_format_name(int format);
/* "CRITICAL" ...; anything out of range is "UNKNOWN". */
const char *trivy_severity_name(int severity);
/* Severity from text, case-insensitive; anything else is UNKNOWN (as trivy-db does). */
int trivy_severity_parse(const char *s, size_t len);
/* Like trivy_severity_parse, but -1 when the text is not one of the five names. */
int trivy_severity_lookup(const char *s, size_t len);
/* A finding is fixable when its FixedVersion is not empty. */
int trivy_finding_fixable(const trivy_finding *f);

/*
 * Does the report describe the manifest `digest` (whose config blob is
 * `config_digest`, or NULL for an index)? 0 when it does or says nothing
 * (no subject digests); BERTH_E_INVALID with a message when its
 * RepoDigests / subject name other manifests and its ImageID is not this
 * image either.
 */
int trivy_report_check_target(const trivy_report *r, const char *digest,
			      const char *config_digest, berth_error *err);

/* ---- internals shared by the readers (trivy_report.c, _sarif.c, _attest.c) ---- */

struct trivy_json;

/* What a SchemaVersion 2 object said about itself. */
typedef struct trivy_native_seen {
	int has_schema;
	int64_t schema_version;
	int has_results;
} trivy_native_seen;

/* Read the value of a native report key: 1 when the key was one, 0 when not (nothing read), -1. */
int trivy_native_key(struct trivy_json *j, trivy_report *r, const char *key, size_t klen,
		     trivy_native_seen *seen);
/* SchemaVersion must be 2 and the artifact a container image (or its SBOM). 0 or -1. */
int trivy_native_check(struct trivy_json *j, const trivy_report *r, const trivy_native_seen *seen);
/* ["name@sha256:..."] into repo_digests and subject_digests. 0 or -1. */
int trivy_read_repo_digests(struct trivy_json *j, trivy_report *r, const char *what);
/* One JSON document into r; depth 1 is a DSSE payload (only an in-toto statement). */
int trivy_parse_document(const void *buf, size_t len, trivy_report *r, int depth,
			 berth_error *err);

/* Copy of s (len bytes, cut at max on a UTF-8 boundary) in the report's arena; NULL on OOM. */
const char *trivy_report_strdup(trivy_report *r, const char *s, size_t len, size_t max);
/* A new zeroed finding with every string "" (NULL on OOM or past TRIVY_FINDINGS_MAX). */
trivy_finding *trivy_report_add_finding(trivy_report *r, struct trivy_json *j);
int trivy_report_add_subject(trivy_report *r, const char *digest, size_t len);
/* The SARIF reader: the value of the root's "runs" key. */
int trivy_sarif_read_runs(struct trivy_json *j, trivy_report *r);

#endif /* TRIVY_REPORT_H */

/*
 * trivy_summary.h - the documents kept per manifest digest, and the
 * counting rules they follow.
 *
 *   findings.json  every finding, one object each, sorted by severity
 *                  (what the vulnerabilities endpoint filters)
 *   gate.json      {"v":1,"entries":[[id, severity, fixable], ...]}: the
 *                  distinct (ID, severity, fixable) triples, all the pull
 *                  gate needs, a few KiB even for large reports
 *   summary.json   counts, scanner, times, where the report came from
 *
 * Counting: a finding is one vulnerability in one package of one result,
 * as Trivy lists them (and as its own table totals count them); identical
 * findings (same target, package, path and ID) count once. `unique`
 * counts distinct vulnerability IDs. A finding is fixable when it has a
 * FixedVersion. The same rules apply to the union of an index's children.
 */
#ifndef TRIVY_SUMMARY_H
#define TRIVY_SUMMARY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "trivy_report.h"

typedef struct trivy_counts {
	size_t all[TRIVY_SEV_COUNT], fixable[TRIVY_SEV_COUNT], unique[TRIVY_SEV_COUNT];
	size_t total, fixable_total, unique_total;
} trivy_counts;

/* Where an import came from, for summary.json. */
typedef struct trivy_origin {
	const char *digest;        /* the manifest the report is for */
	const char *repository;    /* the repository it was imported through */
	const char *via;           /* "api" or "referrer" */
	const char *referrer;      /* the artifact manifest's digest, or NULL */
	const char *report_digest; /* sha256 of the stored report */
	size_t report_size;
	int64_t imported_at_ms;
	const char *warning;       /* or NULL */
} trivy_origin;

/* The report's findings as findings.json (sorted in place first). NULL on OOM. */
json_t *trivy_findings_json(trivy_report *r);
/* Counts of a findings array (an array of finding objects). */
void trivy_findings_count(const json_t *findings, trivy_counts *c);
/* Append the findings of src to dst that dst does not hold yet (index union). 0 or -1. */
int trivy_findings_merge(json_t *dst, const json_t *src, json_t *seen);
/* Sort a findings array: severity (highest first), ID, package, target. */
void trivy_findings_sort(json_t *findings);
/* gate.json of a findings array. NULL on OOM. */
json_t *trivy_gate_json(const json_t *findings);
/* summary.json. NULL on OOM. */
json_t *trivy_summary_json(const trivy_report *r, const trivy_counts *c, const trivy_origin *o);
/* {"total": n, "CRITICAL": n, ...} for one of the three count rows. */
json_t *trivy_counts_json(const size_t *by_severity, size_t total);
/* Add "counts", "fixable" and "unique" to obj. 0 or -1. */
int trivy_counts_put(json_t *obj, const trivy_counts *c);

/* A finding's severity (enum trivy_severity) and fixable flag, from its JSON. */
int trivy_finding_json_severity(const json_t *f);
int trivy_finding_json_fixable(const json_t *f);

/* RFC 3339 UTC with milliseconds. */
void trivy_format_time(int64_t ms, char *out, size_t cap);

#endif /* TRIVY_SUMMARY_H */

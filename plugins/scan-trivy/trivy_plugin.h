/*
 * trivy_plugin.h - scan-trivy internals shared by the plugin's files that
 * talk to the host. (The parser, policies, cache and path checks are pure
 * and have headers of their own.)
 *
 * Who touches what, and from which thread:
 *   - everything in struct scan_trivy is fixed after create(), except the
 *     cache (its own mutex) and what import_lock guards;
 *   - routes, gate(), on_push() and report() run concurrently on worker
 *     threads; imports of reports serialize on import_lock, so the four
 *     files of one digest are always written as a set;
 *   - metrics and events are the host's and safe from any thread.
 */
#ifndef TRIVY_PLUGIN_H
#define TRIVY_PLUGIN_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/plugin.h"
#include "trivy_cache.h"
#include "trivy_policy.h"
#include "trivy_ref.h"
#include "trivy_summary.h"

#define TRIVY_PLUGIN_NAME "scan-trivy"
#define TRIVY_PLUGIN_VERSION "0.1.0"

/* The route's body limit, and so the highest max_report_size. */
#define TRIVY_REPORT_SIZE_LIMIT (64u * 1024 * 1024)

struct scan_trivy {
	const berth_host *host;
	const berth_instance *self;
	trivy_policy_set policies;
	uint64_t max_report_size;
	int import_referrers;
	char **referrer_types;
	size_t n_referrer_types;
	trivy_cache *cache;
	pthread_mutex_t import_lock;
	berth_metric *imported;    /* berth_scan_reports_imported_total{via} */
	berth_metric *failures;    /* berth_scan_import_failures_total{via,reason} */
};

BERTH_PRINTF(3, 4)
int trivy_fail(berth_error *err, int code, const char *fmt, ...);

/* ---- trivy_config.c: the config schema and reading it --------------------- */

extern const berth_config_key trivy_config_schema[];
int trivy_config_load(struct scan_trivy *st, const berth_config *cfg, berth_error *err);
void trivy_config_free(struct scan_trivy *st);

/* ---- trivy_policy_file.c: policies from a YAML file ----------------------- */

/* Append the file's policies to set. 0, or BERTH_E_CONFIG with file:line:column. */
int trivy_policy_file_load(const char *path, trivy_policy_set *set, berth_error *err);

/* ---- trivy_store.c: the plugin's objects in registry storage -------------- */

#define TRIVY_FILE_REPORT "report.json"
#define TRIVY_FILE_FINDINGS "findings.json"
#define TRIVY_FILE_GATE "gate.json"
#define TRIVY_FILE_SUMMARY "summary.json"

int trivy_store_write(struct scan_trivy *st, const char *digest, const char *file,
		      const void *data, size_t len, berth_error *err);
/* The whole object into a malloc'd NUL-terminated buffer; BERTH_E_NOT_FOUND when absent. */
int trivy_store_read(struct scan_trivy *st, const char *digest, const char *file,
		     uint64_t max, char **out, size_t *len, berth_error *err);
/* A stored JSON document; BERTH_E_NOT_FOUND when absent, BERTH_E_IO when it does not parse. */
int trivy_store_read_json(struct scan_trivy *st, const char *digest, const char *file,
			  json_t **out, berth_error *err);
int trivy_store_remove(struct scan_trivy *st, const char *digest, berth_error *err);

/* ---- trivy_manifest.c: what the plugin needs from a manifest ------------- */

enum trivy_manifest_kind {
	TRIVY_MANIFEST_OTHER = 0,  /* schema 1, or anything unparsable */
	TRIVY_MANIFEST_IMAGE,      /* OCI image manifest, Docker schema 2 */
	TRIVY_MANIFEST_INDEX       /* OCI index, Docker manifest list */
};

typedef struct trivy_descriptor {
	char *media_type;
	char *digest;
	int64_t size;
	char *platform;            /* "linux/amd64", children of an index only */
} trivy_descriptor;

typedef struct trivy_manifest {
	char *digest;
	char *media_type;
	int kind;                  /* enum trivy_manifest_kind */
	int has_subject;
	char *artifact_type;       /* artifactType, else config.mediaType */
	char *config_media_type;
	char *config_digest;
	trivy_descriptor *layers;  /* image: its layers; index: its image children */
	size_t n_layers;
} trivy_manifest;

/* Parse a manifest body (pure). 0 or BERTH_E_NOMEM; unknown shapes are TRIVY_MANIFEST_OTHER. */
int trivy_manifest_parse(const void *body, size_t len, const char *media_type,
			 const char *digest, trivy_manifest *m);
/* Resolve and parse repository:reference through the host. BERTH_E_NOT_FOUND when unknown. */
int trivy_manifest_read(struct scan_trivy *st, const char *repository, const char *reference,
			trivy_manifest *m, berth_error *err);
/* A runnable image (an image config, or an index), not a referrer or other artifact. */
int trivy_manifest_is_image(const trivy_manifest *m);
void trivy_manifest_clear(trivy_manifest *m);

/* ---- trivy_import.c: take a report in ------------------------------------ */

typedef struct trivy_import_request {
	const char *repository;
	const char *digest;        /* the manifest the report is for */
	const void *body;
	size_t len;
	const char *via;           /* "api" or "referrer" */
	const char *referrer;      /* the artifact manifest's digest, or NULL */
	const berth_request *req;  /* the API request (the event's identity), or NULL */
} trivy_import_request;

/*
 * Check, store and announce a report. 0 with the stored summary in
 * *summary (the caller's reference); otherwise BERTH_E_TOO_LARGE,
 * BERTH_E_NOT_FOUND (no such manifest), BERTH_E_INVALID (the report) or a
 * storage error, with a message. Failures are counted and logged here.
 */
int trivy_import(struct scan_trivy *st, const trivy_import_request *in, json_t **summary,
		 berth_error *err);

/* ---- trivy_view.c: reports as the API and report() show them -------------- */

typedef struct trivy_filter {
	unsigned severities;       /* bit per enum trivy_severity; 0: all */
	int fixable;               /* -1 any, 0 without a fix, 1 with one */
} trivy_filter;

/*
 * The summary of a manifest (an index's is the union of its own report and
 * its children's). 0 with *out; the manifest's having no report is not an
 * error ("scanned": false).
 */
int trivy_view_summary(struct scan_trivy *st, const char *repository, const char *tag,
		       const trivy_manifest *m, json_t **out, berth_error *err);
/* The findings, filtered. BERTH_E_NOT_FOUND when nothing was scanned. */
int trivy_view_vulnerabilities(struct scan_trivy *st, const char *repository, const char *tag,
			       const trivy_manifest *m, const trivy_filter *f, json_t **out,
			       berth_error *err);

/* ---- trivy_api.c, trivy_gate.c, trivy_prune.c: what the host calls -------- */

extern const berth_route *const trivy_routes[];
extern const berth_scan_ops trivy_scan_ops;
/* trivy_prune.c */
extern const berth_job *const trivy_jobs[];

#endif /* TRIVY_PLUGIN_H */

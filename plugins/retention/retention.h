/*
 * retention.h - the retention plugin's internals, shared by its source files.
 *
 * The plugin is built with -fvisibility=hidden: nothing declared here leaves
 * the .so, only berth_plugin_entry does.
 *
 * Data flow of a run:
 *   retention_config.c   the instance's config -> struct retention_rules
 *   retention_policy.c   its `policies:` list -> struct retention_policy[]
 *   retention_collect.c  one repository, read through the host ->
 *                        struct retention_repo_in (tags, manifests, times)
 *   retention_plan.c     rules + repo_in -> struct retention_plan (pure):
 *                        the tags; retention_graph.c the manifests;
 *                        retention_bytes.c what the deletes free
 *   retention_job.c      the job: prints the plan, deletes through the host
 *   retention_json.c     the plan as JSON, served by retention_route.c
 *   retention_immutable.c  the request hook that guards immutable tags
 *
 * Threads: everything in struct retention_state is fixed after create(), so
 * the job (job thread or a worker), the plan route and the request hook
 * (worker threads) read it concurrently without locks. Compiled regexes
 * are only passed to regexec(), which glibc makes safe on a shared regex_t
 * (it locks the pattern's DFA itself). The plan keeps all its state in the
 * call: no static variable is written after load.
 */
#ifndef RETENTION_H
#define RETENTION_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/plugin.h"

#define RETENTION_PLUGIN_NAME "retention"
#define RETENTION_PLUGIN_VERSION "0.1.0"
#define RETENTION_JOB_NAME "retention"

#define RETENTION_DAY_MS (24LL * 3600 * 1000)

int retention_fail(berth_error *err, int code, const char *fmt, ...) BERTH_PRINTF(3, 4);

/* Names copied from the host's listings (retention_names.c). */
struct retention_names {
	char **v;
	size_t n, cap;
	int failed;                     /* out of memory: the list is incomplete */
};

/* A berth_name_fn: ctx is a struct retention_names. */
int retention_names_add(void *ctx, const char *name);
void retention_names_free(struct retention_names *l);

/* ------------------------------------------------------------------------ */
/* Patterns (retention_pattern.c)                                           */
/* ------------------------------------------------------------------------ */

/*
 * A glob (`*` within a path segment, `**` across segments, `?` one
 * character other than '/') or, written "re:<ERE>", a POSIX extended
 * regular expression that must match the whole name.
 */
struct retention_pattern {
	char *text;                     /* as written, for messages */
	int is_regex;
	regex_t re;
};

struct retention_patterns {
	struct retention_pattern *v;
	size_t n;
};

/* 1 when the glob matches the whole of name. */
int retention_glob_match(const char *glob, const char *name);
/* Compile text and append it; BERTH_E_CONFIG with a message for a bad one. */
int retention_patterns_add(struct retention_patterns *ps, const char *text, berth_error *err);
/* The first pattern matching name, or NULL. */
const struct retention_pattern *retention_patterns_match(const struct retention_patterns *ps,
							 const char *name);
void retention_patterns_free(struct retention_patterns *ps);

/* ------------------------------------------------------------------------ */
/* SemVer (retention_semver.c)                                              */
/* ------------------------------------------------------------------------ */

struct retention_semver {
	uint64_t major, minor, patch;
	const char *pre;                /* into the parsed text, NULL when none */
	size_t pre_len;
};

/* SemVer 2.0.0, with an optional leading 'v' or 'V'; 0, or -1 when it is not one. */
int retention_semver_parse(const char *text, struct retention_semver *v);
/* <0, 0, >0 by SemVer precedence (build metadata ignored). */
int retention_semver_compare(const struct retention_semver *a, const struct retention_semver *b);

/* ------------------------------------------------------------------------ */
/* Policies (retention_policy.c)                                            */
/* ------------------------------------------------------------------------ */

enum retention_untagged_mode {
	RETENTION_UNTAGGED_NONE = 0,    /* the policy says nothing about untagged manifests */
	RETENTION_UNTAGGED_KEEP,        /* keep those pushed within untagged_keep_ms */
	RETENTION_UNTAGGED_DELETE       /* delete them all */
};

struct retention_policy {
	char *name;                     /* "ci", or "#2" for the second unnamed policy */
	struct retention_patterns repositories, exclude_repositories;
	struct retention_patterns tags, exclude_tags;   /* tags.n == 0: every tag */
	struct retention_patterns always_keep;
	/* -1 when the rule is absent. */
	int64_t keep_last_pushed, keep_last_pulled;
	int64_t keep_pushed_within_ms, keep_pulled_within_ms;
	int has_semver;
	int64_t keep_minors, keep_majors;               /* -1 when absent */
	int prereleases;
	int untagged;                   /* enum retention_untagged_mode */
	int64_t untagged_keep_ms;
};

/*
 * Read the `policies:` list of the instance's config (each item a map; see
 * README.md for every key). Messages start with FILE:LINE:COLUMN of the
 * mistake. On success rules->policies holds them (maybe none).
 */
struct retention_rules;
int retention_policies_load(const berth_host *h, const berth_config *cfg,
			    struct retention_rules *rules, berth_error *err);
void retention_policy_free(struct retention_policy *p);
/* "policy 'ci'" as messages show it, into buf. */
const char *retention_policy_label(const struct retention_policy *p, char *buf, size_t cap);
/* A duration: "30" (days), "30d", "12h", "90m", "45s", "1d12h"; ms into *out; 0 or -1. */
int retention_duration_parse(const char *text, int64_t *out);
/* 1 when the policy applies to the repository. */
int retention_policy_selects(const struct retention_policy *p, const char *repository);

/* Everything the plan needs besides the repository's content. */
struct retention_rules {
	struct retention_policy *policies;
	size_t n_policies;
	struct retention_patterns immutable_tags;
	struct retention_patterns immutable_repositories;
	int delete_referrers;
};

void retention_rules_free(struct retention_rules *r);
/* The immutable pattern protecting tag in repository, or NULL. */
const struct retention_pattern *retention_immutable_match(const struct retention_rules *r,
							  const char *repository,
							  const char *tag);

/* ------------------------------------------------------------------------ */
/* A repository's content (retention_manifest.c, retention_collect.c)       */
/* ------------------------------------------------------------------------ */

struct retention_blob_ref {
	char *digest;
	uint64_t size;
};

struct retention_manifest_in {
	char *digest;
	uint64_t size;                  /* bytes of the manifest itself */
	int64_t pushed_ms, pulled_ms;   /* pulled 0: never */
	char *subject;                  /* the manifest it refers to, or NULL */
	char **children;                /* manifests an index names */
	size_t n_children;
	struct retention_blob_ref *blobs;   /* config and layers */
	size_t n_blobs;
};

struct retention_tag_in {
	char *name;
	char *digest;                   /* the manifest the tag names */
	int64_t pushed_ms, pulled_ms;   /* pushed: when the tag was last set */
};

struct retention_repo_in {
	char *repository;
	int64_t now_ms;
	struct retention_tag_in *tags;
	size_t n_tags;
	struct retention_manifest_in *manifests;
	size_t n_manifests;
};

/* Largest manifest read for its references; larger ones count as opaque. */
#define RETENTION_MANIFEST_PARSE_MAX (16u * 1024 * 1024)

/*
 * Fill m->subject, children and blobs from a manifest body (an image
 * manifest, an index, a Docker schema 2 manifest or list, an OCI artifact).
 * Bodies that are not JSON, or name malformed digests, leave the
 * references empty: the manifest is then opaque, never an error.
 * 0 or BERTH_E_NOMEM.
 */
int retention_manifest_parse(const void *body, size_t len, struct retention_manifest_in *m);
void retention_manifest_in_clear(struct retention_manifest_in *m);
/* 1 when s looks like "alg:hex" as registries write digests. */
int retention_digest_valid(const char *s);

void retention_repo_in_free(struct retention_repo_in *in);
/* Read one repository through the host. BERTH_E_NOT_FOUND when it vanished. */
int retention_collect(const berth_host *host, const char *repository, struct retention_repo_in *in,
		      berth_error *err);

/* ------------------------------------------------------------------------ */
/* The plan (retention_plan.c): a pure function of rules and content        */
/* ------------------------------------------------------------------------ */

enum retention_tag_verdict {
	RETENTION_TAG_UNTOUCHED = 0,    /* no policy judges it */
	RETENTION_TAG_KEPT,             /* a rule of a policy judging it keeps it */
	RETENTION_TAG_IMMUTABLE,
	RETENTION_TAG_DELETE,           /* judged, kept by no rule */
	RETENTION_TAG_REFERRER_KEPT,    /* sha256-<hex>[.sig] naming a kept manifest */
	RETENTION_TAG_REFERRER_DELETE   /* ... naming a manifest that goes */
};

enum retention_manifest_reason {
	RETENTION_M_KEPT = 0,
	RETENTION_M_LAST_TAG_DELETED,   /* every tag it had is deleted */
	RETENTION_M_UNTAGGED_EXPIRED,   /* untagged, older than the untagged keep_days */
	RETENTION_M_UNTAGGED_DELETE,    /* untagged, the rule is delete: true */
	RETENTION_M_CHILD_OF_DELETED,   /* named only by an index that goes */
	RETENTION_M_REFERRER_OF_DELETED /* its subject goes (delete_referrers) */
};

struct retention_tag_out {
	int verdict;                    /* enum retention_tag_verdict */
	int policy;                     /* DELETE: a policy that judged it; else -1 */
	const struct retention_pattern *immutable;      /* IMMUTABLE: the pattern */
};

struct retention_manifest_out {
	int deleted;
	int reason;                     /* enum retention_manifest_reason */
	size_t related;                 /* CHILD_OF / REFERRER_OF: the index or subject */
};

struct retention_plan {
	struct retention_tag_out *tags;             /* parallel to in->tags */
	struct retention_manifest_out *manifests;   /* parallel to in->manifests */
	size_t *order;                  /* deleted manifests, those naming others first */
	size_t n_order;
	size_t n_tags_deleted;
	uint64_t bytes;                 /* retention_bytes_freed() of the deleted set */
};

/* 0 or BERTH_E_NOMEM. */
int retention_plan_make(const struct retention_rules *rules, const struct retention_repo_in *in,
			struct retention_plan *plan);
void retention_plan_free(struct retention_plan *plan);
/*
 * Bytes that deleting the manifests flagged in `deleted` (one byte per
 * manifest of in) leaves unreferenced in the repository: the deleted
 * manifests' own sizes, plus each config or layer blob they reference that
 * no remaining manifest of the repository references, counted once.
 */
uint64_t retention_bytes_freed(const struct retention_repo_in *in, const unsigned char *deleted);
/* What the plan says of a tag or manifest, for the table and the JSON. */
const char *retention_manifest_reason_text(int reason);
/* Index of digest among in->manifests, or -1. */
long retention_manifest_find(const struct retention_repo_in *in, const size_t *sorted,
			     const char *digest);

/* ------------------------------------------------------------------------ */
/* The instance                                                             */
/* ------------------------------------------------------------------------ */

enum retention_metric_index {
	RETENTION_METRIC_RUNS,
	RETENTION_METRIC_DELETED,
	RETENTION_METRIC_BYTES,
	RETENTION_METRIC_SKIPPED,
	RETENTION_N_METRICS
};

struct retention_state {
	const berth_host *host;
	const berth_instance *self;
	struct retention_rules rules;
	int enforce;                    /* 0: every run is a dry run */
	berth_metric *metrics[RETENTION_N_METRICS];
};

/* retention_config.c */
extern const berth_config_key retention_config_schema[];
int retention_config_load(const berth_host *host, const berth_config *cfg,
			  struct retention_state *st, berth_error *err);

/* 1 when a policy applies to the repository (else the job skips it). */
int retention_repository_selected(const struct retention_rules *r, const char *repository);

/* retention_job.c: the job's run(). */
int retention_job_run(void *state, berth_job_run *run, berth_error *err);

/* retention_json.c: one repository's plan as a new JSON object, or NULL. */
struct json_t;
struct json_t *retention_plan_json_repo(const struct retention_rules *rules,
					const struct retention_repo_in *in,
					const struct retention_plan *plan);
/* retention_route.c: GET /berth/v1/retention/plan. */
int retention_route_plan(void *state, berth_request *req, berth_error *err);

/* retention_immutable.c: the request hook. */
int retention_immutable_before(void *state, berth_request *req, berth_error *err);

/* retention_format.c: why a tag goes, into buf; sizes as "1.5 MiB". */
const char *retention_tag_reason(const struct retention_rules *rules,
				 const struct retention_tag_out *t, char *buf, size_t cap);
const char *retention_format_bytes(uint64_t bytes, char *buf, size_t cap);

#endif

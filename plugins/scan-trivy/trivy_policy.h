/*
 * trivy_policy.h - scan policies and the pull decision.
 *
 * A policy applies to the repositories its patterns match (the first
 * policy that matches wins). It blocks a manifest whose report has
 * vulnerabilities at or above a severity (optionally only those with a
 * fix), optionally blocks manifests without a report, waives the IDs of
 * its allowlist until their expiry date, and lets some identities or
 * groups through anyway.
 *
 * Everything here is pure: the gate hands in what the report index says
 * and the time, and gets a verdict and a message.
 */
#ifndef TRIVY_POLICY_H
#define TRIVY_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "trivy_report.h"

/* The first IDs a refusal names. */
#define TRIVY_VERDICT_IDS 5

typedef struct trivy_allow {
	char *id;
	int64_t expires_ms;        /* first instant it no longer applies; 0: never */
	char *reason;              /* or NULL */
} trivy_allow;

typedef struct trivy_policy {
	char *name;
	char **repositories;       /* patterns (trivy_glob.h) */
	size_t n_repositories;
	int block_severity;        /* enum trivy_severity, or -1: no severity blocks */
	int only_fixable;
	int block_unscanned;
	trivy_allow *allow;        /* sorted by id */
	size_t n_allow;
	char **bypass_identities;
	size_t n_bypass_identities;
	char **bypass_groups;
	size_t n_bypass_groups;
	char *contact;             /* who grants exceptions, or NULL */
} trivy_policy;

typedef struct trivy_policy_set {
	trivy_policy *v;
	size_t n;
} trivy_policy_set;

/* One distinct (ID, severity, fixable) of a report: a gate.json entry. */
typedef struct trivy_gate_entry {
	const char *id;
	int severity;
	int fixable;
} trivy_gate_entry;

typedef struct trivy_verdict {
	int blocked;
	int unscanned;             /* blocked because there is no report */
	size_t counts[TRIVY_SEV_COUNT]; /* distinct blocking IDs by severity */
	size_t total;
	size_t waived;             /* distinct IDs the allowlist let through */
	const char *ids[TRIVY_VERDICT_IDS]; /* the first blocking IDs, worst first */
	size_t n_ids;
} trivy_verdict;

/* The policy for a repository, or NULL. */
const trivy_policy *trivy_policy_match(const trivy_policy_set *set, const char *repository);
/* 1 when the policy blocks nothing (no severity, unscanned allowed). */
int trivy_policy_inert(const trivy_policy *p);
/* 1 when the identity (name, comma-separated groups; either may be NULL) may bypass. */
int trivy_policy_bypassed(const trivy_policy *p, const char *identity, const char *groups);
/* The allowlist entry in force for id at now_ms, or NULL. */
const trivy_allow *trivy_policy_allowed(const trivy_policy *p, const char *id, int64_t now_ms);

/*
 * The decision for one manifest: `scanned` says whether a report exists;
 * entries are sorted by severity (highest first), then ID, as gate.json
 * keeps them. IDs in the verdict point into entries.
 */
void trivy_policy_decide(const trivy_policy *p, int scanned, const trivy_gate_entry *entries,
			 size_t n, int64_t now_ms, trivy_verdict *v);
/* The refusal a person reads in `docker pull`: what, why, and how to get an exception. */
void trivy_verdict_message(const trivy_policy *p, const trivy_verdict *v,
			   const char *repository, const char *digest, char *out, size_t cap);

/*
 * "CVE-2022-22965", "CVE-2022-22965 until 2026-03-31" (valid through that
 * day, UTC). 0, or -1 with the reason in why.
 */
int trivy_allow_parse(const char *text, trivy_allow *out, char *why, size_t cap);
/* "YYYY-MM-DD" -> the first millisecond of the next day, UTC. 0 or -1. */
int trivy_date_end_ms(const char *date, int64_t *ms);
/* Sort the allowlist and refuse an ID listed twice. 0, or -1 with why. */
int trivy_policy_finish(trivy_policy *p, char *why, size_t cap);
/* 1 to 64 of [A-Za-z0-9._-]: a policy name shown in refusals. */
int trivy_policy_name_valid(const char *name);
/* "none" or a severity name (any case) -> -1 or the severity; -2 when neither. */
int trivy_block_severity_parse(const char *text);

void trivy_policy_free(trivy_policy *p);
void trivy_policy_set_free(trivy_policy_set *set);

#endif /* TRIVY_POLICY_H */

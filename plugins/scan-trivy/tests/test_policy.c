/*
 * test_policy.c - the pull decision and what it rests on: repository
 * patterns, policy matching, thresholds, fixable-only, allowlists with
 * expiry, unscanned images, bypass identities and groups, the refusal
 * message, the gate's cache, and the parsing of /berth/v1/scans/ paths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "trivy_cache.h"
#include "trivy_glob.h"
#include "trivy_policy.h"
#include "trivy_ref.h"

/* 2024-06-01T00:00:00Z */
#define JUNE_1_2024_MS 1717200000000LL
#define DAY_MS 86400000LL

static void test_glob(void)
{
	static const struct {
		const char *pattern, *name;
		int match;
	} cases[] = {
		{"team/app", "team/app", 1},
		{"team/app", "team/app2", 0},
		{"team/*", "team/app", 1},
		{"team/*", "team/a/b", 0},
		{"team/*", "team", 0},
		{"team/**", "team/a/b", 1},
		{"team/**", "team/a", 1},
		{"team/**", "team", 0},
		{"**", "anything/at/all", 1},
		{"**/app", "app", 1},
		{"**/app", "x/app", 1},
		{"**/app", "x/y/app", 1},
		{"**/app", "x/myapp", 0},
		{"*/app", "x/app", 1},
		{"*/app", "x/y/app", 0},
		{"prod-*", "prod-web", 1},
		{"prod-*", "prod/web", 0},
		{"a?c", "abc", 1},
		{"a?c", "a/c", 0},
		{"*", "", 1},
		{"team/*/cache", "team/x/cache", 1},
		{"team/**/cache", "team/cache", 1},
		{"team/**/cache", "team/a/b/cache", 1},
		{"*-*-*-*-*-*-*-*-*-*", "a-b-c-d-e-f-g-h-i-j", 1},
		{"*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = trivy_glob_match(cases[i].pattern, cases[i].name);
		if (got != cases[i].match)
			fprintf(stderr, "glob '%s' on '%s'\n", cases[i].pattern, cases[i].name);
		CHECK_INT(got, cases[i].match);
	}
}

static void test_glob_check(void)
{
	char why[200];

	CHECK_INT(trivy_glob_check("team/**", why, sizeof(why)), 0);
	CHECK_INT(trivy_glob_check("a.b_c-d/*?", why, sizeof(why)), 0);
	CHECK_INT(trivy_glob_check("", why, sizeof(why)), -1);
	CHECK_INT(trivy_glob_check("/team", why, sizeof(why)), -1);
	CHECK_INT(trivy_glob_check("team/", why, sizeof(why)), -1);
	CHECK_INT(trivy_glob_check("a//b", why, sizeof(why)), -1);
	CHECK_INT(trivy_glob_check("***", why, sizeof(why)), -1);
	CHECK_INT(trivy_glob_check("Team", why, sizeof(why)), -1);
	CHECK(strstr(why, "'T'") != NULL);
}

static char *dup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		exit(2);
	return d;
}

/* A policy on `pattern` blocking at `sev`, with an allowlist. */
static void make_policy(trivy_policy *p, const char *name, const char *pattern, int sev)
{
	memset(p, 0, sizeof(*p));
	p->name = dup(name);
	p->repositories = calloc(1, sizeof(char *));
	p->repositories[0] = dup(pattern);
	p->n_repositories = 1;
	p->block_severity = sev;
}

static void add_allow(trivy_policy *p, const char *text)
{
	char why[200];

	p->allow = realloc(p->allow, (p->n_allow + 1) * sizeof(*p->allow));
	CHECK_INT(trivy_allow_parse(text, &p->allow[p->n_allow], why, sizeof(why)), 0);
	p->n_allow++;
}

static const trivy_gate_entry entries[] = {
	{"CVE-2022-22965", TRIVY_SEV_CRITICAL, 1},
	{"CVE-2021-44228", TRIVY_SEV_CRITICAL, 0},
	{"CVE-2020-0001", TRIVY_SEV_HIGH, 1},
	{"CVE-2020-0001", TRIVY_SEV_HIGH, 0},   /* fixable in one package, not in another */
	{"CVE-2020-0002", TRIVY_SEV_HIGH, 0},
	{"CVE-2019-0003", TRIVY_SEV_MEDIUM, 1},
	{"CVE-2018-0004", TRIVY_SEV_LOW, 0},
};
#define N_ENTRIES (sizeof(entries) / sizeof(entries[0]))

static void test_decide(void)
{
	trivy_policy p;
	trivy_verdict v;
	char why[200];

	make_policy(&p, "prod", "prod/**", TRIVY_SEV_HIGH);
	trivy_policy_decide(&p, 1, entries, N_ENTRIES, JUNE_1_2024_MS, &v);
	CHECK_INT(v.blocked, 1);
	CHECK_INT(v.counts[TRIVY_SEV_CRITICAL], 2);
	CHECK_INT(v.counts[TRIVY_SEV_HIGH], 2);   /* CVE-2020-0001 counted once */
	CHECK_INT(v.counts[TRIVY_SEV_MEDIUM], 0);
	CHECK_INT(v.total, 4);
	CHECK_INT(v.n_ids, 4);
	CHECK_STR(v.ids[0], "CVE-2022-22965");

	/* Only fixable ones. */
	p.only_fixable = 1;
	trivy_policy_decide(&p, 1, entries, N_ENTRIES, JUNE_1_2024_MS, &v);
	CHECK_INT(v.total, 2);
	CHECK_INT(v.counts[TRIVY_SEV_CRITICAL], 1);
	CHECK_INT(v.counts[TRIVY_SEV_HIGH], 1);

	/* Allowlisted: forever, and until a day that has not ended yet. */
	add_allow(&p, "CVE-2022-22965");
	add_allow(&p, "CVE-2020-0001 until 2024-06-01");
	CHECK_INT(trivy_policy_finish(&p, why, sizeof(why)), 0);
	trivy_policy_decide(&p, 1, entries, N_ENTRIES, JUNE_1_2024_MS + DAY_MS - 1, &v);
	CHECK_INT(v.blocked, 0);
	CHECK_INT(v.waived, 2);
	/* The day after, the second entry has expired. */
	trivy_policy_decide(&p, 1, entries, N_ENTRIES, JUNE_1_2024_MS + DAY_MS, &v);
	CHECK_INT(v.blocked, 1);
	CHECK_INT(v.total, 1);
	CHECK_STR(v.ids[0], "CVE-2020-0001");
	CHECK(trivy_policy_allowed(&p, "CVE-2022-22965", JUNE_1_2024_MS * 2) != NULL);
	CHECK(trivy_policy_allowed(&p, "CVE-2020-0001", JUNE_1_2024_MS + DAY_MS) == NULL);
	CHECK(trivy_policy_allowed(&p, "CVE-1999-0001", 0) == NULL);

	/* Below the threshold nothing blocks. */
	p.block_severity = TRIVY_SEV_CRITICAL;
	p.only_fixable = 0;
	trivy_policy_decide(&p, 1, entries + 2, N_ENTRIES - 2, 0, &v);
	CHECK_INT(v.blocked, 0);

	/* Unscanned: blocked only when the policy says so. */
	trivy_policy_decide(&p, 0, NULL, 0, 0, &v);
	CHECK_INT(v.blocked, 0);
	p.block_unscanned = 1;
	trivy_policy_decide(&p, 0, NULL, 0, 0, &v);
	CHECK_INT(v.blocked, 1);
	CHECK_INT(v.unscanned, 1);
	/* A clean report is scanned, so not blocked. */
	trivy_policy_decide(&p, 1, NULL, 0, 0, &v);
	CHECK_INT(v.blocked, 0);

	/* An allowlist entry listed twice is a configuration error. */
	add_allow(&p, "CVE-2022-22965 until 2030-01-01");
	CHECK_INT(trivy_policy_finish(&p, why, sizeof(why)), -1);
	CHECK(strstr(why, "twice") != NULL);
	trivy_policy_free(&p);
}

static void test_match_and_bypass(void)
{
	trivy_policy_set set = {0};
	trivy_policy *p;

	set.v = calloc(3, sizeof(*set.v));
	make_policy(&set.v[0], "cache", "team/cache", -1);
	make_policy(&set.v[1], "team", "team/**", TRIVY_SEV_HIGH);
	make_policy(&set.v[2], "default", "**", TRIVY_SEV_CRITICAL);
	set.n = 3;
	CHECK_STR(trivy_policy_match(&set, "team/cache")->name, "cache");
	CHECK_STR(trivy_policy_match(&set, "team/app")->name, "team");
	CHECK_STR(trivy_policy_match(&set, "other")->name, "default");
	CHECK(trivy_policy_inert(trivy_policy_match(&set, "team/cache")));
	CHECK(!trivy_policy_inert(trivy_policy_match(&set, "team/app")));
	set.n = 2;
	CHECK(trivy_policy_match(&set, "other") == NULL);
	set.n = 3;

	p = &set.v[1];
	p->bypass_identities = calloc(1, sizeof(char *));
	p->bypass_identities[0] = dup("sec");
	p->n_bypass_identities = 1;
	p->bypass_groups = calloc(2, sizeof(char *));
	p->bypass_groups[0] = dup("security");
	p->bypass_groups[1] = dup("auditors");
	p->n_bypass_groups = 2;
	CHECK(trivy_policy_bypassed(p, "sec", NULL));
	CHECK(!trivy_policy_bypassed(p, "secx", NULL));
	CHECK(!trivy_policy_bypassed(p, "", ""));
	CHECK(!trivy_policy_bypassed(p, NULL, NULL));
	CHECK(trivy_policy_bypassed(p, "alice", "dev,security"));
	CHECK(trivy_policy_bypassed(p, "alice", "dev, auditors "));
	CHECK(!trivy_policy_bypassed(p, "alice", "dev,securityx,xsecurity"));
	CHECK(!trivy_policy_bypassed(p, "alice", ",,"));
	trivy_policy_set_free(&set);
}

static void test_message(void)
{
	const char *digest = "sha256:bf5961efe937dd21d44e8139a32f095ba90d920ab9f29f3fe6f2445024b7967b";
	char msg[512], longname[256];
	trivy_policy p;
	trivy_verdict v;
	static const trivy_gate_entry many[] = {
		{"CVE-1", 4, 1}, {"CVE-2", 4, 1}, {"CVE-3", 3, 1}, {"CVE-4", 3, 1},
		{"CVE-5", 3, 1}, {"CVE-6", 3, 1}, {"CVE-7", 3, 1},
	};

	make_policy(&p, "prod", "**", TRIVY_SEV_HIGH);
	trivy_policy_decide(&p, 1, many, 7, 0, &v);
	trivy_verdict_message(&p, &v, "team/app", digest, msg, sizeof(msg));
	CHECK(strstr(msg, "team/app@sha256:bf5961efe937 is blocked by scan policy 'prod'") == msg);
	CHECK(strstr(msg, "2 CRITICAL, 5 HIGH vulnerabilities at or above HIGH") != NULL);
	CHECK(strstr(msg, "(CVE-1, CVE-2, CVE-3, CVE-4, CVE-5 and 2 more)") != NULL);
	CHECK(strstr(msg, "ask a registry administrator to allowlist them in policy 'prod'") != NULL);
	CHECK(strstr(msg, "GET /berth/v1/scans/team/app@sha256:bf59") != NULL);

	p.contact = dup("security@example.com");
	p.only_fixable = 1;
	trivy_policy_decide(&p, 1, many, 1, 0, &v);
	trivy_verdict_message(&p, &v, "team/app", digest, msg, sizeof(msg));
	CHECK(strstr(msg, "1 CRITICAL vulnerability with a fix at or above HIGH (CVE-1)") != NULL);
	CHECK(strstr(msg, "ask security@example.com to allowlist it") != NULL);

	/* The longest repository name still leaves room for the IDs. */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	trivy_policy_decide(&p, 1, many, 7, 0, &v);
	trivy_verdict_message(&p, &v, longname, digest, msg, sizeof(msg));
	CHECK(strlen(msg) < sizeof(msg));
	CHECK(strstr(msg, "CVE-1") != NULL);
	CHECK(strstr(msg, "security@example.com") != NULL);

	trivy_policy_decide(&p, 0, NULL, 0, 0, &v);
	CHECK_INT(v.blocked, 0);
	p.block_unscanned = 1;
	trivy_policy_decide(&p, 0, NULL, 0, 0, &v);
	trivy_verdict_message(&p, &v, "team/app", digest, msg, sizeof(msg));
	CHECK(strstr(msg, "has no vulnerability report") != NULL);
	CHECK(strstr(msg, "PUT /berth/v1/scans/team/app@sha256:bf59") != NULL);
	CHECK(strstr(msg, "ask security@example.com for a bypass") != NULL);
	trivy_policy_free(&p);
}

static void test_allow_parse(void)
{
	trivy_allow a;
	char why[200];
	int64_t ms;

	CHECK_INT(trivy_allow_parse("CVE-2022-22965", &a, why, sizeof(why)), 0);
	CHECK_STR(a.id, "CVE-2022-22965");
	CHECK_INT(a.expires_ms, 0);
	free(a.id);
	CHECK_INT(trivy_allow_parse("GHSA-abcd until 2024-06-01", &a, why, sizeof(why)), 0);
	CHECK_INT(a.expires_ms, JUNE_1_2024_MS + DAY_MS);
	free(a.id);
	CHECK_INT(trivy_allow_parse("CVE-1 until tomorrow", &a, why, sizeof(why)), -1);
	CHECK(strstr(why, "not a date") != NULL);
	CHECK_INT(trivy_allow_parse("CVE-1 for 2024-06-01", &a, why, sizeof(why)), -1);
	CHECK_INT(trivy_allow_parse("CVE-1 until 2024-06-01 extra", &a, why, sizeof(why)), -1);
	CHECK_INT(trivy_allow_parse("", &a, why, sizeof(why)), -1);

	CHECK_INT(trivy_date_end_ms("1970-01-01", &ms), 0);
	CHECK_INT(ms, DAY_MS);
	CHECK_INT(trivy_date_end_ms("2024-02-29", &ms), 0);
	CHECK_INT(trivy_date_end_ms("2023-02-29", &ms), -1);
	CHECK_INT(trivy_date_end_ms("2100-02-29", &ms), -1);
	CHECK_INT(trivy_date_end_ms("2000-02-29", &ms), 0);
	CHECK_INT(trivy_date_end_ms("2024-13-01", &ms), -1);
	CHECK_INT(trivy_date_end_ms("2024-1-01", &ms), -1);
	CHECK_INT(trivy_date_end_ms("2024-01-01x", &ms), -1);

	CHECK_INT(trivy_block_severity_parse("none"), -1);
	CHECK_INT(trivy_block_severity_parse("high"), TRIVY_SEV_HIGH);
	CHECK_INT(trivy_block_severity_parse("CRITICAL"), TRIVY_SEV_CRITICAL);
	CHECK_INT(trivy_block_severity_parse("severe"), -2);
}

static void test_cache(void)
{
	trivy_cache *c = trivy_cache_new(2, 1000);
	const char *two = "{\"v\":1,\"entries\":[[\"CVE-2\",3,false],[\"CVE-1\",4,true]]}";
	const char *bad_entry = "{\"entries\":[[1,2]]}";
	trivy_gate_index *a = trivy_gate_index_parse(two, strlen(two));
	trivy_gate_index *none = trivy_gate_index_parse(NULL, 0), *got;
	uint64_t gen;

	CHECK(a != NULL);
	CHECK_INT(a->scanned, 1);
	CHECK_INT(a->n, 2);
	/* Sorted worst first whatever the file said. */
	CHECK_STR(a->entries[0].id, "CVE-1");
	CHECK_INT(a->entries[0].fixable, 1);
	CHECK_INT(none->scanned, 0);
	CHECK(trivy_gate_index_parse(bad_entry, strlen(bad_entry)) == NULL);
	CHECK(trivy_gate_index_parse("not json", 8) == NULL);

	gen = trivy_cache_generation(c);
	trivy_cache_put(c, "sha256:a", a, gen, 0);
	trivy_cache_put(c, "sha256:n", none, gen, 0);
	got = trivy_cache_get(c, "sha256:a", 999);
	CHECK(got == a);
	trivy_gate_index_release(got);
	/* Expired after the TTL. */
	CHECK(trivy_cache_get(c, "sha256:a", 1000) == NULL);
	CHECK_INT(trivy_cache_size(c), 1);

	/* A load that raced with an invalidation is not kept. */
	gen = trivy_cache_generation(c);
	trivy_cache_invalidate(c, "sha256:other");
	trivy_cache_put(c, "sha256:a", a, gen, 0);
	CHECK(trivy_cache_get(c, "sha256:a", 0) == NULL);

	/* Bounded: the least recently used entry goes. */
	gen = trivy_cache_generation(c);
	trivy_cache_put(c, "sha256:a", a, gen, 10);
	got = trivy_cache_get(c, "sha256:n", 10);
	trivy_gate_index_release(got);
	trivy_cache_put(c, "sha256:b", a, gen, 10);
	CHECK_INT(trivy_cache_size(c), 2);
	CHECK(trivy_cache_get(c, "sha256:a", 10) == NULL);
	got = trivy_cache_get(c, "sha256:n", 10);
	CHECK(got == none);
	trivy_gate_index_release(got);
	trivy_cache_invalidate(c, "sha256:n");
	CHECK(trivy_cache_get(c, "sha256:n", 10) == NULL);

	trivy_cache_free(c);
	trivy_gate_index_release(a);
	trivy_gate_index_release(none);

	/* TTL 0: nothing is kept. */
	c = trivy_cache_new(4, 0);
	a = trivy_gate_index_parse(NULL, 0);
	trivy_cache_put(c, "sha256:a", a, trivy_cache_generation(c), 0);
	CHECK(trivy_cache_get(c, "sha256:a", 0) == NULL);
	trivy_gate_index_release(a);
	trivy_cache_free(c);
}

static void test_target_parse(void)
{
	const char *d = "sha256:bf5961efe937dd21d44e8139a32f095ba90d920ab9f29f3fe6f2445024b7967b";
	char path[512];
	trivy_target t;
	berth_error err = {0};

	snprintf(path, sizeof(path), "team/app@%s", d);
	CHECK_INT(trivy_target_parse(path, &t, &err), 0);
	CHECK_STR(t.repository, "team/app");
	CHECK_STR(t.reference, d);
	CHECK_INT(t.by_digest, 1);
	CHECK_INT(t.view, TRIVY_VIEW_SUMMARY);
	snprintf(path, sizeof(path), "a/b/c@%s/vulnerabilities", d);
	CHECK_INT(trivy_target_parse(path, &t, &err), 0);
	CHECK_STR(t.repository, "a/b/c");
	CHECK_INT(t.view, TRIVY_VIEW_VULNERABILITIES);
	CHECK_INT(trivy_target_parse("my-org/raw:v1.2/raw", &t, &err), 0);
	CHECK_STR(t.repository, "my-org/raw");
	CHECK_STR(t.reference, "v1.2");
	CHECK_INT(t.by_digest, 0);
	CHECK_INT(t.view, TRIVY_VIEW_RAW);
	CHECK_INT(trivy_target_parse("localhost/app:latest", &t, &err), 0);

	CHECK_INT(trivy_target_parse("team/app", &t, &err), BERTH_E_INVALID);
	CHECK_INT(trivy_target_parse("team/../etc@sha256:00", &t, &err), BERTH_E_NAME);
	snprintf(path, sizeof(path), "team/../app@%s", d);
	CHECK_INT(trivy_target_parse(path, &t, &err), BERTH_E_NAME);
	snprintf(path, sizeof(path), "team/./app:v1");
	CHECK_INT(trivy_target_parse(path, &t, &err), BERTH_E_NAME);
	CHECK_INT(trivy_target_parse("Team/App:v1", &t, &err), BERTH_E_NAME);
	CHECK_INT(trivy_target_parse("team//app:v1", &t, &err), BERTH_E_NAME);
	CHECK_INT(trivy_target_parse("team/app@sha256:xyz", &t, &err), BERTH_E_DIGEST);
	CHECK_INT(trivy_target_parse("team/app@sha256:BF5961EFE937DD21D44E8139A32F095BA90D920AB9F29F3FE6F2445024B7967B",
				     &t, &err), BERTH_E_DIGEST);
	CHECK_INT(trivy_target_parse("team/app@md5:d41d8cd98f00b204e9800998ecf8427e", &t, &err),
		  BERTH_E_DIGEST);
	CHECK_INT(trivy_target_parse("team/app:-bad", &t, &err), BERTH_E_INVALID);
	CHECK_INT(trivy_target_parse("team/app:", &t, &err), BERTH_E_INVALID);

	CHECK(trivy_repository_valid("a"));
	CHECK(trivy_repository_valid("a.b_c__d--e/f-g"));
	CHECK(!trivy_repository_valid("a..b"));
	CHECK(!trivy_repository_valid("a___b"));
	CHECK(!trivy_repository_valid("-a"));
	CHECK(!trivy_repository_valid("a-"));
	CHECK(!trivy_repository_valid("a/"));
	CHECK(!trivy_repository_valid(""));
	CHECK(trivy_tag_valid("v1.2-rc_3"));
	CHECK(!trivy_tag_valid(".hidden"));
}

int main(void)
{
	test_glob();
	test_glob_check();
	test_decide();
	test_match_and_bypass();
	test_message();
	test_allow_parse();
	test_cache();
	test_target_parse();
	TEST_MAIN_END();
}

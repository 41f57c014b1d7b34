/*
 * test_policy.c - the policies' YAML as an operator writes it: every key
 * read, and every mistake refused with the line, the column and the key,
 * because a retention policy read wrong deletes what it should keep.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_host.h"
#include "retention.h"

static int failures;

#define CHECK(cond, ...)                                                          \
	do {                                                                      \
		if (!(cond)) {                                                    \
			failures++;                                               \
			fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);           \
			fprintf(stderr, __VA_ARGS__);                             \
			fputc('\n', stderr);                                      \
		}                                                                 \
	} while (0)

/* Load a whole config text, as create() does. */
static int load(const char *text, struct retention_state *st, berth_error *err)
{
	char yaml_err[256];
	const berth_config *cfg = config_host_parse(text, retention_config_schema, yaml_err,
						    sizeof(yaml_err));
	int rc;

	memset(st, 0, sizeof(*st));
	memset(err, 0, sizeof(*err));
	if (!cfg) {
		CHECK(0, "YAML: %s", yaml_err);
		return retention_fail(err, BERTH_E_INTERNAL, "%s", yaml_err);
	}
	rc = retention_config_load(config_host(), cfg, st, err);
	config_host_free(cfg);
	return rc;
}

/* The policies text follows "policies:" on line 1. */
static int parse(const char *policies, struct retention_rules *r, berth_error *err)
{
	struct retention_state st;
	char text[4096];
	int rc;

	snprintf(text, sizeof(text), "policies:\n%s", policies);
	rc = load(text, &st, err);
	*r = st.rules;
	return rc;
}

/* The text must be refused with a message containing `want`. */
static void refused(const char *text, const char *want)
{
	struct retention_rules r;
	berth_error err;
	int rc = parse(text, &r, &err);

	CHECK(rc == BERTH_E_CONFIG, "accepted (rc %d): %s", rc, text);
	CHECK(strstr(err.message, want) != NULL, "message '%s' lacks '%s'", err.message, want);
	retention_rules_free(&r);
}

static void test_full_policy(void)
{
	const char *text =
		"# every key\n"
		"- name: ci\n"
		"  repositories: ['team/**', 'ci/*']\n"
		"  exclude_repositories: [team/keep]\n"
		"  tags: ['ci-*', 're:pr-[0-9]+']\n"
		"  exclude_tags: ci-keep\n"
		"  keep_last_pushed: 5\n"
		"  keep_last_pulled: 3\n"
		"  keep_pushed_within: 30\n"
		"  keep_pulled_within: 12h\n"
		"  semver: {keep_minors: 3, keep_majors: 2, prereleases: yes}\n"
		"  always_keep: [latest]\n"
		"  untagged: {keep_days: 7}\n"
		"- repositories: '**'\n"
		"  untagged:\n"
		"    delete: true\n";
	struct retention_rules r;
	berth_error err;
	const struct retention_policy *p = NULL, *q = NULL;
	char label[80];

	CHECK(parse(text, &r, &err) == 0, "full policy refused: %s", err.message);
	CHECK(r.n_policies == 2, "%zu policies", r.n_policies);
	if (r.n_policies == 2) {
		p = &r.policies[0];
		q = &r.policies[1];
	}
	if (p && q) {
		CHECK(strcmp(p->name, "ci") == 0, "name %s", p->name);
		CHECK(p->repositories.n == 2 && p->exclude_repositories.n == 1, "repositories");
		CHECK(p->tags.n == 2 && p->tags.v[1].is_regex, "tags");
		CHECK(p->exclude_tags.n == 1, "a scalar is a list of one");
		CHECK(p->keep_last_pushed == 5 && p->keep_last_pulled == 3, "counts");
		CHECK(p->keep_pushed_within_ms == 30 * RETENTION_DAY_MS, "a bare number is days");
		CHECK(p->keep_pulled_within_ms == 12 * 3600 * 1000LL, "12h");
		CHECK(p->has_semver && p->keep_minors == 3 && p->keep_majors == 2 && p->prereleases,
		      "semver");
		CHECK(p->always_keep.n == 1, "always_keep");
		CHECK(p->untagged == RETENTION_UNTAGGED_KEEP &&
		      p->untagged_keep_ms == 7 * RETENTION_DAY_MS, "untagged keep_days");
		CHECK(strcmp(q->name, "#2") == 0, "unnamed policy is #2, not %s", q->name);
		CHECK(q->untagged == RETENTION_UNTAGGED_DELETE, "untagged delete");
		CHECK(q->keep_last_pushed == -1 && !q->has_semver, "absent rules are -1");
		CHECK(strcmp(retention_policy_label(p, label, sizeof(label)), "policy 'ci'") == 0,
		      "label %s", label);
		CHECK(strcmp(retention_policy_label(q, label, sizeof(label)), "policy #2") == 0,
		      "label %s", label);
		CHECK(retention_policy_selects(p, "team/app") && retention_policy_selects(p, "ci/x"),
		      "selects");
		CHECK(!retention_policy_selects(p, "team/keep") && !retention_policy_selects(p, "ci/x/y"),
		      "excludes");
	}
	retention_rules_free(&r);
}

static void test_empty(void)
{
	struct retention_rules r;
	berth_error err;

	CHECK(parse("", &r, &err) == 0 && r.n_policies == 0, "empty text: no policies");
	retention_rules_free(&r);
	CHECK(parse("# nothing yet\n", &r, &err) == 0 && r.n_policies == 0, "comment only");
	retention_rules_free(&r);
	CHECK(parse("  []", &r, &err) == 0 && r.n_policies == 0, "empty list");
	retention_rules_free(&r);
}

static void test_mistakes(void)
{
	/* The message names the place (policies:LINE:COL), the policy and the key. */
	refused("- repositories: ['**']\n  keep_last_push: 3\n",
		"test.yaml:3:3: policy #1: unknown key 'keep_last_push' (did you mean 'keep_last_pushed'?)");
	refused("- name: ci\n  repositories: ['**']\n  keep_lst_pushed: 3\n",
		"policy 'ci': unknown key 'keep_lst_pushed'");
	refused("- repositories: ['**']\n  frobnicate: 3\n", "unknown key 'frobnicate'");
	refused("- keep_last_pushed: 3\n", "'repositories' is required");
	refused("- repositories: ['**']\n", "no rule");
	refused("- repositories: ['**']\n  tags: [ci-*]\n", "no rule");
	refused("- repositories: ['**']\n  keep_last_pushed: -1\n", "whole number from 0");
	refused("- repositories: ['**']\n  keep_last_pushed: 3x\n", "whole number from 0");
	refused("- repositories: ['**']\n  keep_last_pushed: 99999999999\n", "whole number from 0");
	refused("- repositories: ['**']\n  keep_last_pushed: [1]\n", "'keep_last_pushed' needs a single value");
	refused("- repositories: ['**']\n  keep_last_pushed:\n", "'keep_last_pushed' needs a single value");
	refused("- repositories: ['**']\n  keep_pushed_within: 3 days\n", "number of days");
	refused("- repositories: ['**']\n  keep_pushed_within: 3y\n", "number of days");
	refused("- repositories: ['**']\n  keep_pushed_within: 1d2\n", "number of days");
	refused("- repositories: ['**']\n  semver: 3\n", "'semver' must be a map such as {keep_minors: 3}");
	refused("- repositories: ['**']\n  semver: {}\n", "needs keep_minors or keep_majors");
	refused("- repositories: ['**']\n  semver: {keep_minor: 3}\n",
		"unknown key 'keep_minor' in semver (did you mean 'keep_minors'?)");
	refused("- repositories: ['**']\n  semver: {keep_minors: 3, prereleases: maybe}\n",
		"true or false");
	refused("- repositories: ['**']\n  untagged: {delete: false}\n", "'delete' can only be true");
	refused("- repositories: ['**']\n  untagged: {keep_days: 3, delete: true}\n", "exactly one");
	refused("- repositories: ['**']\n  untagged: {}\n", "exactly one");
	refused("- repositories: ['**']\n  untagged: delete\n", "'untagged' must be");
	refused("- repositories: ['**']\n  tags: ['re:(']\n  keep_last_pushed: 1\n",
		"invalid regular expression '('");
	refused("- repositories: ['**']\n  tags: ['re:']\n  keep_last_pushed: 1\n",
		"empty regular expression");
	refused("- repositories: []\n  keep_last_pushed: 1\n", "non-empty list of patterns");
	refused("- repositories: {a: b}\n  keep_last_pushed: 1\n", "non-empty list of patterns");
	refused("- repositories: [[a]]\n  keep_last_pushed: 1\n", "'repositories': item 1 is not a pattern");
	refused("- just a string\n", "test.yaml:1:1: policy #1 is not a map");
	refused("- name: a\n  repositories: ['**']\n  keep_last_pushed: 1\n"
		"- name: a\n  repositories: ['**']\n  keep_last_pushed: 1\n",
		"test.yaml:5:3: two policies are named 'a'");
	refused("- name: '#1'\n  repositories: ['**']\n  keep_last_pushed: 1\n", "not start with '#'");
}

static void test_top_level(void)
{
	struct retention_state st;
	berth_error err;

	CHECK(load("{}", &st, &err) == 0, "empty config: %s", err.message);
	CHECK(st.enforce == 1 && st.rules.delete_referrers == 1, "switches default to true");
	CHECK(st.rules.immutable_repositories.n == 1 &&
	      strcmp(st.rules.immutable_repositories.v[0].text, "**") == 0,
	      "immutable_repositories defaults to **");
	CHECK(st.rules.immutable_tags.n == 0 && st.rules.n_policies == 0, "nothing else");
	retention_rules_free(&st.rules);

	CHECK(load("enforce: false\ndelete_referrers: no\nimmutable_tags: ['v*', 're:rel-[0-9]+']\n"
		   "immutable_repositories: [prod/**]\n", &st, &err) == 0, "%s", err.message);
	CHECK(st.enforce == 0 && st.rules.delete_referrers == 0, "switches off");
	CHECK(retention_immutable_match(&st.rules, "prod/app", "v1") != NULL, "v* in prod");
	CHECK(retention_immutable_match(&st.rules, "prod/app", "rel-12") != NULL, "regex in prod");
	CHECK(retention_immutable_match(&st.rules, "prod/app", "rel-x") == NULL, "regex is whole");
	CHECK(retention_immutable_match(&st.rules, "dev/app", "v1") == NULL, "not outside prod");
	retention_rules_free(&st.rules);

	CHECK(load("immutable_tags: ['re:(']\n", &st, &err) == BERTH_E_CONFIG &&
	      strstr(err.message, "test.yaml:1:1: 'immutable_tags': invalid regular expression"),
	      "a bad immutable pattern is refused: %s", err.message);
	retention_rules_free(&st.rules);
	CHECK(load("immutable_tags: [[x]]\n", &st, &err) == BERTH_E_CONFIG &&
	      strstr(err.message, "'immutable_tags': item 1 is not a pattern"),
	      "a list in a list is refused: %s", err.message);
	retention_rules_free(&st.rules);
}

static void test_durations(void)
{
	static const struct {
		const char *text;
		long long ms;           /* -1: refused */
	} cases[] = {
		{ "30", 30 * RETENTION_DAY_MS },
		{ "0", 0 },
		{ "30d", 30 * RETENTION_DAY_MS },
		{ "2w", 14 * RETENTION_DAY_MS },
		{ "12h", 12 * 3600 * 1000LL },
		{ "90m", 90 * 60 * 1000LL },
		{ "45s", 45000 },
		{ "1d12h", 36 * 3600 * 1000LL },
		{ "", -1 },
		{ "d", -1 },
		{ "1x", -1 },
		{ "1d2", -1 },
		{ "-1", -1 },
		{ "1.5d", -1 },
		{ "99999999999999999999", -1 },
		{ "40000d", -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -7;
		int rc = retention_duration_parse(cases[i].text, &ms);

		if (cases[i].ms < 0)
			CHECK(rc < 0, "duration '%s' accepted as %lld", cases[i].text, (long long)ms);
		else
			CHECK(rc == 0 && ms == cases[i].ms, "duration '%s': rc %d, %lld ms",
			      cases[i].text, rc, (long long)ms);
	}
}

int main(void)
{
	test_full_policy();
	test_empty();
	test_mistakes();
	test_top_level();
	test_durations();
	printf("%s\n", failures ? "FAIL" : "ok");
	return failures != 0;
}

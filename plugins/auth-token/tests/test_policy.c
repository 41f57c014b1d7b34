/*
 * test_policy.c - glob patterns, policy rules and robots' grants: the
 * matcher, "the most specific rule that names you wins", rule syntax
 * errors, and the actions each resource type knows.
 */
#include <stdio.h>
#include <string.h>

#include "auth_token.h"
#include "test.h"

static void test_glob(void)
{
	CHECK(atok_glob_match("team/app", "team/app"));
	CHECK(!atok_glob_match("team/app", "team/app2"));
	CHECK(atok_glob_match("team/*", "team/app"));
	CHECK(!atok_glob_match("team/*", "team/app/x"));
	CHECK(!atok_glob_match("team/*", "team"));
	CHECK(atok_glob_match("team/**", "team/app/x/y"));
	CHECK(atok_glob_match("team/**", "team/app"));
	CHECK(!atok_glob_match("team/**", "team"));
	CHECK(!atok_glob_match("team/**", "teams/app"));
	CHECK(atok_glob_match("**", "a/b/c"));
	CHECK(atok_glob_match("*", "abc"));
	CHECK(!atok_glob_match("*", "a/b"));
	CHECK(atok_glob_match("*/app", "team/app"));
	CHECK(!atok_glob_match("*/app", "x/team/app"));
	CHECK(atok_glob_match("**/app", "x/team/app"));
	CHECK(atok_glob_match("team/*-dev", "team/web-dev"));
	CHECK(!atok_glob_match("team/*-dev", "team/web/x-dev"));
	CHECK(atok_glob_match("a/**/z", "a/b/c/z"));
	CHECK(!atok_glob_match("a/**/z", "a/z"));
	CHECK(atok_glob_match("a*b*c", "aXbYc"));
	CHECK(!atok_glob_match("a*b*c", "aXbY"));
	/* Many stars against a long name stay linear (no backtracking blow-up). */
	{
		char name[256];
		memset(name, 'a', 254);
		name[254] = '\0';
		CHECK(!atok_glob_match("**a**a**a**a**a**a**a**a**a**a**a**a**b", name));
	}
}

static unsigned actions(const atok_rules *r, const char *user, const char *groups,
			const char *repo)
{
	atok_who who = {user, groups};

	return atok_policy_actions(r, &who, "repository", repo, NULL);
}

static void test_policy(void)
{
	atok_rules r = {0};
	char why[200];
	static const char *const rules[] = {
		"**                 group:admins        *",
		"public/**          anonymous,authenticated pull",
		"team-a/**          group:team-a        pull,push",
		"team-a/frozen/*    group:team-a        pull",
		"team-a/frozen/*    user:carol          delete",
		"team-a/*           user:dave           pull",
		"team-a/**          user:dave           push",
		"registry:catalog   authenticated       *",
		"route:/berth/v1/auth group:admins      DELETE,GET",
		"registry:jobs      user:ops            run",
	};
	int matched = 0;
	atok_who ops = {"ops", ""}, anon = {"", ""}, admin = {"root", "admins"};

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		CHECK_INT(atok_rules_add_policy(&r, rules[i], why, sizeof(why)), 0);

	CHECK_INT(actions(&r, "", "", "public/alpine"), ATOK_PULL);
	CHECK_INT(actions(&r, "", "", "team-a/app"), 0);
	CHECK_INT(actions(&r, "bob", "", "public/alpine"), ATOK_PULL);
	CHECK_INT(actions(&r, "alice", "team-a", "team-a/app"), ATOK_PULL | ATOK_PUSH);
	CHECK_INT(actions(&r, "alice", "devs,team-a", "team-a/x/y"), ATOK_PULL | ATOK_PUSH);
	/* The more specific pattern restricts team-a under frozen/. */
	CHECK_INT(actions(&r, "alice", "team-a", "team-a/frozen/base"), ATOK_PULL);
	/* Rules that do not name carol play no part: equally specific rules add up. */
	CHECK_INT(actions(&r, "carol", "team-a", "team-a/frozen/base"), ATOK_PULL | ATOK_DELETE);
	CHECK_INT(actions(&r, "carol", "", "team-a/frozen/base"), ATOK_DELETE);
	/* Same literal length: a pattern without ** beats one with it. */
	CHECK_INT(actions(&r, "dave", "", "team-a/app"), ATOK_PULL);
	CHECK_INT(actions(&r, "dave", "", "team-a/app/x"), ATOK_PUSH);
	/* The admins' rule on ** still applies where team rules do not name them. */
	CHECK_INT(actions(&r, "root", "admins", "team-a/frozen/base"), ATOK_ALL);
	CHECK_INT(actions(&r, "root", "admins-not", "team-a/app"), 0);
	CHECK(atok_actions_cover(actions(&r, "root", "admins", "x"), ATOK_DELETE));

	CHECK_INT(atok_policy_actions(&r, &admin, "registry", "catalog", NULL), ATOK_ALL);
	CHECK_INT(atok_policy_actions(&r, &anon, "registry", "catalog", &matched), 0);
	CHECK(matched);
	CHECK_INT(atok_policy_actions(&r, &admin, "route", "/berth/v1/auth", NULL),
		  ATOK_HTTP_DELETE | ATOK_GET);
	CHECK_INT(atok_policy_actions(&r, &ops, "registry", "jobs", NULL), ATOK_RUN);
	CHECK_INT(atok_policy_actions(&r, &ops, "route", "/other", &matched), 0);
	CHECK(!matched);
	/* Repository patterns never stand for other resource types. */
	CHECK_INT(atok_policy_actions(&r, &admin, "route", "/other", NULL), 0);
	atok_rules_free(&r);
}

static void test_rule_errors(void)
{
	static const char *const bad[] = {
		"",
		"team/**",
		"team/** user:x",
		"team/** user:x pull extra",
		"Team/** user:x pull",
		"team/*** user:x pull",
		"team/** user:x fly",
		"team/** user:x DELETE",
		"team/** someone pull",
		"team/** user: pull",
		"team/** user:a,,user:b pull",
		"team/** user:x pull,,push",
		"registry:catalog user:x pull",
		"registry:base user:x *",
		"registry:catalog user:x run",
		"route:/x user:x delete",
		"route:nopath user:x GET",
		"route:/x* user:x GET",
		"image:x user:x pull",
	};
	atok_rules r = {0};
	char why[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		if (atok_rules_add_policy(&r, bad[i], why, sizeof(why)) != BERTH_E_INVALID)
			fprintf(stderr, "rule accepted: '%s'\n", bad[i]);
		CHECK(why[0] != '\0');
	}
	CHECK_INT(r.n, 0);
	CHECK_INT(atok_rules_add_policy(&r, "team/**\tuser:x\t\tpull", why, sizeof(why)), 0);
	CHECK_INT(atok_rules_add_policy(&r, "registry:jobs user:x *", why, sizeof(why)), 0);
	atok_rules_free(&r);
}

static void test_grants(void)
{
	atok_rules g = {0};
	char why[200];
	int matched;

	CHECK_INT(atok_rules_add_grant(&g, "team/app:pull,push", why, sizeof(why)), 0);
	CHECK_INT(atok_rules_add_grant(&g, "team/**:pull", why, sizeof(why)), 0);
	CHECK_INT(atok_rules_add_grant(&g, "registry:catalog:*", why, sizeof(why)), 0);
	CHECK_INT(atok_grants_actions(&g, "repository", "team/app", NULL), ATOK_PULL | ATOK_PUSH);
	CHECK_INT(atok_grants_actions(&g, "repository", "team/lib/x", NULL), ATOK_PULL);
	CHECK_INT(atok_grants_actions(&g, "repository", "other", &matched), 0);
	CHECK(!matched);
	CHECK_INT(atok_grants_actions(&g, "registry", "catalog", NULL), ATOK_ALL);
	CHECK(atok_rules_add_grant(&g, "team/app", why, sizeof(why)) < 0);
	CHECK(atok_rules_add_grant(&g, "team/app:", why, sizeof(why)) < 0);
	CHECK(atok_rules_add_grant(&g, ":pull", why, sizeof(why)) < 0);
	CHECK(atok_rules_add_grant(&g, "team/app:pull,jump", why, sizeof(why)) < 0);
	CHECK_INT(g.n, 3);
	atok_rules_free(&g);
}

static void test_actions(void)
{
	CHECK_INT(atok_action_bit("repository", "pull"), ATOK_PULL);
	CHECK_INT(atok_action_bit("repository", "*"), ATOK_ALL);
	CHECK_INT(atok_action_bit("repository", "DELETE"), 0);
	CHECK_INT(atok_action_bit("route", "DELETE"), ATOK_HTTP_DELETE);
	CHECK_INT(atok_action_bit("route", "delete"), 0);
	CHECK_INT(atok_action_bit("registry", "run"), ATOK_RUN);
	CHECK_INT(atok_type_actions("repository"), ATOK_PULL | ATOK_PUSH | ATOK_DELETE);
	CHECK(atok_actions_cover(ATOK_ALL, ATOK_PUSH));
	CHECK(!atok_actions_cover(ATOK_PULL, ATOK_PUSH));
	CHECK(!atok_actions_cover(ATOK_PULL, 0));
	CHECK(!atok_actions_cover(ATOK_PULL | ATOK_PUSH, ATOK_ALL));
	CHECK_STR(atok_action_name("repository", ATOK_DELETE), "delete");
	CHECK_STR(atok_action_name("route", ATOK_HTTP_DELETE), "DELETE");
	CHECK(atok_repository_name_valid("library/alpine"));
	CHECK(atok_repository_name_valid("a.b_c__d---e/f"));
	CHECK(!atok_repository_name_valid("a___b"));
	CHECK(!atok_repository_name_valid("Upper"));
	CHECK(!atok_repository_name_valid("a//b"));
	CHECK(!atok_repository_name_valid("a/"));
	CHECK(!atok_repository_name_valid("../etc"));
	CHECK(!atok_repository_name_valid("localhost:5000/x"));
}

int main(void)
{
	test_glob();
	test_policy();
	test_rule_errors();
	test_grants();
	test_actions();
	TEST_MAIN_END();
}

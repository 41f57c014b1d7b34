/*
 * test_filter.c - repository globs (* within a segment, ** across, ?) and
 * the action and repository filters of an endpoint.
 */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "webhook.h"

static void test_globs(void)
{
	CHECK(webhook_glob_match("team/app", "team/app"));
	CHECK(!webhook_glob_match("team/app", "team/app2"));
	CHECK(!webhook_glob_match("team/app", "team/ap"));
	CHECK(webhook_glob_match("team/*", "team/app"));
	CHECK(!webhook_glob_match("team/*", "team/app/sub"));
	CHECK(!webhook_glob_match("team/*", "team"));
	CHECK(webhook_glob_match("team/*", "team/"));
	CHECK(webhook_glob_match("team/**", "team/app/sub/x"));
	CHECK(webhook_glob_match("team/**", "team/app"));
	CHECK(!webhook_glob_match("team/**", "team"));
	CHECK(!webhook_glob_match("team/**", "teams/app"));
	CHECK(webhook_glob_match("**/app", "app"));
	CHECK(webhook_glob_match("**/app", "a/b/c/app"));
	CHECK(!webhook_glob_match("**/app", "a/b/c/myapp"));
	CHECK(webhook_glob_match("a/**/z", "a/z"));
	CHECK(webhook_glob_match("a/**/z", "a/b/c/z"));
	CHECK(!webhook_glob_match("a/**/z", "a/bz"));
	CHECK(webhook_glob_match("**", "anything/at/all"));
	CHECK(webhook_glob_match("*", "top"));
	CHECK(!webhook_glob_match("*", "two/levels"));
	CHECK(webhook_glob_match("*-prod/*", "web-prod/api"));
	CHECK(!webhook_glob_match("*-prod/*", "web-dev/api"));
	CHECK(webhook_glob_match("app-?", "app-1"));
	CHECK(!webhook_glob_match("app-?", "app-12"));
	CHECK(!webhook_glob_match("a?b", "a/b"));
	CHECK(webhook_glob_match("*a*b", "xaxxb"));
	CHECK(!webhook_glob_match("x", ""));
	CHECK(webhook_glob_match("*", ""));
	/* No backtracking blow-up: this would take ages with a naive matcher. */
	{
		char name[4097];

		memset(name, 'a', 4096);
		name[4096] = '\0';
		CHECK(!webhook_glob_match("**a**a**a**a**a**a**a**a**a**a**b", name));
		CHECK(webhook_glob_match("**a**a**a**a**a**a**a**a**a**a**", name));
	}
	/* Longer than any event field: never matches, never overflows. */
	{
		char *huge = malloc(5000);

		memset(huge, 'a', 4999);
		huge[4999] = '\0';
		CHECK(!webhook_glob_match("**", huge));
		free(huge);
	}
}

static void test_filters(void)
{
	char *actions[] = { "push", "delete" };
	char *repos[] = { "team/**", "library/*" };
	struct webhook_config c = {0};

	CHECK(webhook_filter_pass(&c, "pull", "x"));
	CHECK(webhook_filter_pass(&c, "gc", NULL));
	c.actions = actions;
	c.n_actions = 2;
	CHECK(webhook_filter_pass(&c, "push", "x"));
	CHECK(webhook_filter_pass(&c, "delete", "x"));
	CHECK(!webhook_filter_pass(&c, "pull", "x"));
	CHECK(!webhook_filter_pass(&c, "blob.push", "x"));
	CHECK(!webhook_filter_pass(&c, "pushx", "x"));
	c.repositories = repos;
	c.n_repositories = 2;
	CHECK(webhook_filter_pass(&c, "push", "team/a/b"));
	CHECK(webhook_filter_pass(&c, "push", "library/alpine"));
	CHECK(!webhook_filter_pass(&c, "push", "library/x/y"));
	CHECK(!webhook_filter_pass(&c, "push", "other/app"));
	CHECK(!webhook_filter_pass(&c, "push", NULL));
	CHECK(!webhook_filter_pass(&c, "pull", "team/a"));
	c.n_actions = 0;
	CHECK(webhook_filter_pass(&c, "pull", "team/a"));
}

int main(void)
{
	test_globs();
	test_filters();
	TEST_MAIN_END();
}

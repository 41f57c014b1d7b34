/*
 * test_pattern.c - globs and regular expressions as policies and
 * immutable_tags use them on repository names and tags.
 */
#include <stdio.h>
#include <string.h>

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

static const struct {
	const char *pattern, *name;
	int match;
} cases[] = {
	{ "**", "a", 1 },
	{ "**", "a/b/c", 1 },
	{ "*", "a", 1 },
	{ "*", "a/b", 0 },
	{ "*", "", 1 },
	{ "team/*", "team/app", 1 },
	{ "team/*", "team/a/b", 0 },
	{ "team/*", "team", 0 },
	{ "team/*", "team/", 1 },
	{ "team/**", "team/a/b", 1 },
	{ "team/**", "team", 0 },
	{ "team/**", "teamx/a", 0 },
	{ "**/app", "app", 1 },
	{ "**/app", "a/b/app", 1 },
	{ "**/app", "a/bapp", 0 },
	{ "team/**/app", "team/app", 1 },
	{ "team/**/app", "team/x/y/app", 1 },
	{ "team/**/app", "team/xapp", 0 },
	{ "a*b*c", "abc", 1 },
	{ "a*b*c", "axxbyyc", 1 },
	{ "a*b*c", "axxbyy", 0 },
	{ "a*b*c", "ax/bc", 0 },
	{ "?", "a", 1 },
	{ "?", "/", 0 },
	{ "ci-?", "ci-1", 1 },
	{ "ci-?", "ci-12", 0 },
	{ "ci-*", "ci-", 1 },
	{ "release-*", "release-1.2", 1 },
	{ "latest", "latest", 1 },
	{ "latest", "latest2", 0 },
	{ "latest", "Latest", 0 },
	{ "", "", 1 },
	{ "", "a", 0 },
	{ "*********************************b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0 },
	{ "re:v[0-9]+", "v12", 1 },
	{ "re:v[0-9]+", "v12a", 0 },
	{ "re:v[0-9]+", "xv12", 0 },
	{ "re:a|b", "b", 1 },
	{ "re:a|b", "ab", 0 },
	{ "re:^v1$", "v1", 1 },
	{ "re:.*", "anything/at/all", 1 },
	{ "re:[0-9a-f]{7}", "abc1234", 1 },
	{ "re:[0-9a-f]{7}", "abc12345", 0 },
};

static void test_cases(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct retention_patterns ps = {0};
		berth_error err = {0};
		int got;

		if (cases[i].pattern[0] == '\0') {
			got = retention_glob_match("", cases[i].name);
		} else {
			CHECK(retention_patterns_add(&ps, cases[i].pattern, &err) == 0, "'%s': %s",
			      cases[i].pattern, err.message);
			got = retention_patterns_match(&ps, cases[i].name) != NULL;
		}
		CHECK(got == cases[i].match, "'%s' on '%s': %d, expected %d", cases[i].pattern,
		      cases[i].name, got, cases[i].match);
		retention_patterns_free(&ps);
	}
}

static void test_long_names(void)
{
	char name[600];

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	CHECK(retention_glob_match("**", name) == 0, "a name over 511 bytes matches nothing");
	name[511] = '\0';
	CHECK(retention_glob_match("**", name) == 1, "a 511-byte name matches **");
}

static void test_first_match(void)
{
	struct retention_patterns ps = {0};
	berth_error err = {0};
	const struct retention_pattern *p;

	retention_patterns_add(&ps, "v*", &err);
	retention_patterns_add(&ps, "re:v[0-9]+", &err);
	p = retention_patterns_match(&ps, "v1");
	CHECK(p && strcmp(p->text, "v*") == 0, "the first matching pattern is reported");
	CHECK(retention_patterns_match(&ps, "x") == NULL, "no match");
	CHECK(retention_patterns_add(&ps, "", &err) == BERTH_E_CONFIG, "empty pattern refused");
	CHECK(ps.n == 2, "a refused pattern is not added");
	retention_patterns_free(&ps);
}

int main(void)
{
	test_cases();
	test_long_names();
	test_first_match();
	printf("%s\n", failures ? "FAIL" : "ok");
	return failures != 0;
}

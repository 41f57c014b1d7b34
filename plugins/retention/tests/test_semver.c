/*
 * test_semver.c - SemVer 2.0.0 in tags: what is a version, and precedence
 * (semver.org section 11).
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

static void test_parse(void)
{
	static const char *const good[] = {
		"1.2.3", "v1.2.3", "V1.2.3", "0.0.0", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1",
		"1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0-x-y-z.--", "1.0.0+build.1",
		"1.0.0-rc.1+build.1", "999999999999999999.0.0",
	};
	static const char *const bad[] = {
		"", "v", "1", "1.2", "v1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "1.2.3-",
		"1.2.3-01", "1.2.3-a..b", "1.2.3+", "1.2.3-rc_1", "vv1.2.3", " 1.2.3", "1.2.3 ",
		"latest", "1.2.x", "-1.2.3", "1.2.3-rc.1+", "9999999999999999999.0.0",
	};
	struct retention_semver v;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(retention_semver_parse(good[i], &v) == 0, "'%s' is a version", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(retention_semver_parse(bad[i], &v) < 0, "'%s' is not a version", bad[i]);
	CHECK(retention_semver_parse("v1.22.333-rc.4", &v) == 0 && v.major == 1 && v.minor == 22 &&
	      v.patch == 333 && v.pre_len == 4 && strncmp(v.pre, "rc.4", 4) == 0, "fields");
}

static void test_order(void)
{
	/* Increasing, from the specification's examples and a few more. */
	static const char *const order[] = {
		"0.9.9", "1.0.0-0", "1.0.0-1", "1.0.0-2", "1.0.0-10", "1.0.0-alpha", "1.0.0-alpha.1",
		"1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",
		"1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0",
	};
	size_t n = sizeof(order) / sizeof(order[0]);

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			struct retention_semver a, b;
			int c, want = i < j ? -1 : i > j;

			retention_semver_parse(order[i], &a);
			retention_semver_parse(order[j], &b);
			c = retention_semver_compare(&a, &b);
			c = c < 0 ? -1 : c > 0;
			CHECK(c == want, "%s vs %s: %d, expected %d", order[i], order[j], c, want);
		}
}

static void test_equal(void)
{
	struct retention_semver a, b;

	retention_semver_parse("v1.2.3", &a);
	retention_semver_parse("1.2.3+build.7", &b);
	CHECK(retention_semver_compare(&a, &b) == 0, "the v and build metadata do not count");
}

int main(void)
{
	test_parse();
	test_order();
	test_equal();
	printf("%s\n", failures ? "FAIL" : "ok");
	return failures != 0;
}

/*
 * test.h - the unit tests' few assertion macros.
 *
 * A failed CHECK prints file:line and the expression and counts; the test
 * keeps going so one run shows every failure. TEST_MAIN_END prints the
 * totals and returns non-zero when anything failed.
 */
#ifndef BERTH_TEST_H
#define BERTH_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define CHECK(expr)                                                         \
	do {                                                                \
		test_checks++;                                              \
		if (!(expr)) {                                              \
			test_failures++;                                    \
			fprintf(stderr, "%s:%d: check failed: %s\n",        \
				__FILE__, __LINE__, #expr);                 \
		}                                                           \
	} while (0)

#define CHECK_INT(a, b)                                                     \
	do {                                                                \
		long long va_ = (long long)(a), vb_ = (long long)(b);       \
		test_checks++;                                              \
		if (va_ != vb_) {                                           \
			test_failures++;                                    \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", \
				__FILE__, __LINE__, #a, va_, vb_);          \
		}                                                           \
	} while (0)

#define CHECK_STR(a, b)                                                     \
	do {                                                                \
		const char *sa_ = (a), *sb_ = (b);                          \
		test_checks++;                                              \
		if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                \
			test_failures++;                                    \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", \
				__FILE__, __LINE__, #a, sa_ ? sa_ : "(null)", \
				sb_ ? sb_ : "(null)");                      \
		}                                                           \
	} while (0)

#define TEST_MAIN_END()                                                     \
	do {                                                                \
		printf("%d checks, %d failed\n", test_checks, test_failures); \
		return test_failures ? 1 : 0;                               \
	} while (0)

#endif

/*
 * test_range.c - Range, Content-Range and strict decimal numbers.
 */
#include <stdint.h>
#include <string.h>

#include "berth/error.h"
#include "range.h"
#include "test.h"

struct range_case {
	const char *in;
	uint64_t size;
	int rc;
	uint64_t start, end;
};

static const struct range_case range_cases[] = {
	{ "bytes=0-0", 10, 0, 0, 0 },
	{ "bytes=0-9", 10, 0, 0, 9 },
	{ "bytes=0-", 10, 0, 0, 9 },
	{ "bytes=3-", 10, 0, 3, 9 },
	{ "bytes=9-", 10, 0, 9, 9 },
	{ "bytes=2-5", 10, 0, 2, 5 },
	{ "bytes=5-5", 10, 0, 5, 5 },
	{ "bytes=0-100", 10, 0, 0, 9 },                 /* end clamped */
	{ "bytes=0-18446744073709551615", 10, 0, 0, 9 },
	{ "bytes=-1", 10, 0, 9, 9 },
	{ "bytes=-3", 10, 0, 7, 9 },
	{ "bytes=-10", 10, 0, 0, 9 },
	{ "bytes=-11", 10, 0, 0, 9 },                   /* suffix longer than the object */
	{ "bytes=-18446744073709551615", 10, 0, 0, 9 },
	{ "bytes=0-0", 1, 0, 0, 0 },
	{ "bytes=-1", 1, 0, 0, 0 },
	{ "bytes=18446744073709551614-", UINT64_MAX, 0, UINT64_MAX - 1, UINT64_MAX - 1 },
	{ "bytes=007-008", 10, 0, 7, 8 },
	{ "Bytes=1-2", 10, 0, 1, 2 },                   /* units are case-insensitive */
	{ "BYTES=1-2", 10, 0, 1, 2 },
	{ " bytes = 1 - 2 ", 10, 0, 1, 2 },             /* whitespace around tokens */
	{ "\tbytes=\t1-\t2\t", 10, 0, 1, 2 },
	{ "bytes= -2", 10, 0, 8, 9 },
	{ "bytes=- 2", 10, 0, 8, 9 },

	/* unsatisfiable */
	{ "bytes=10-", 10, BERTH_E_RANGE, 0, 0 },
	{ "bytes=10-20", 10, BERTH_E_RANGE, 0, 0 },
	{ "bytes=11-", 10, BERTH_E_RANGE, 0, 0 },
	{ "bytes=0-0", 0, BERTH_E_RANGE, 0, 0 },
	{ "bytes=0-", 0, BERTH_E_RANGE, 0, 0 },
	{ "bytes=-1", 0, BERTH_E_RANGE, 0, 0 },
	{ "bytes=-0", 10, BERTH_E_RANGE, 0, 0 },
	{ "bytes=18446744073709551615-", 10, BERTH_E_RANGE, 0, 0 },

	/* malformed */
	{ "bytes=5-2", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=5-2", 0, BERTH_E_INVALID, 0, 0 },
	{ "bytes=0-1,3-4", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=0-1, 3-4", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=0-1,", 10, BERTH_E_INVALID, 0, 0 },
	{ ",bytes=0-1", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=,0-1", 10, BERTH_E_INVALID, 0, 0 },
	{ "items=0-1", 10, BERTH_E_INVALID, 0, 0 },
	{ "byte=0-1", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytesx=0-1", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes 0-1", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=99999999999999999999999-", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=18446744073709551616-", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=0-18446744073709551616", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=-18446744073709551616", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=-99999999999999999999999", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=-", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes", 10, BERTH_E_INVALID, 0, 0 },
	{ "", 10, BERTH_E_INVALID, 0, 0 },
	{ "=0-1", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=--1", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=-1-", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=-1-2", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=+1-2", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=1-+2", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=1--2", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=-+2", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=1", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=1 2-3", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=1-2 3", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=0x1-2", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=1.5-2", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes==1-2", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=1-2\n", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=1-2;", 10, BERTH_E_INVALID, 0, 0 },
	{ "bytes=\xd9\xa1-2", 10, BERTH_E_INVALID, 0, 0 },  /* arabic-indic one */
};

static void test_range_parse(void)
{
	size_t i;
	uint64_t start, end;

	for (i = 0; i < sizeof(range_cases) / sizeof(range_cases[0]); i++) {
		const struct range_case *c = &range_cases[i];
		int rc;

		start = end = 12345;
		rc = range_parse(c->in, c->size, &start, &end);
		if (rc != c->rc)
			fprintf(stderr, "range \"%s\" size %llu\n", c->in,
				(unsigned long long)c->size);
		CHECK_INT(rc, c->rc);
		if (c->rc == 0) {
			CHECK(start == c->start);
			CHECK(end == c->end);
		} else {
			CHECK(start == 12345 && end == 12345);
		}
	}
	CHECK_INT(range_parse(NULL, 10, &start, &end), BERTH_E_INVALID);
	CHECK_INT(range_parse("bytes=0-1", 10, NULL, &end), BERTH_E_INVALID);
	CHECK_INT(range_parse("bytes=0-1", 10, &start, NULL), BERTH_E_INVALID);
}

static void test_content_range_parse(void)
{
	static const struct range_case cases[] = {
		{ "0-0", 0, 0, 0, 0 },
		{ "0-99", 0, 0, 0, 99 },
		{ "100-199", 0, 0, 100, 199 },
		{ "bytes 0-99/*", 0, 0, 0, 99 },
		{ "bytes 0-99/100", 0, 0, 0, 99 },
		{ "bytes 0-99/1000", 0, 0, 0, 99 },
		{ "bytes=0-99", 0, 0, 0, 99 },
		{ "bytes=0-99/*", 0, 0, 0, 99 },
		{ "Bytes 5-9/*", 0, 0, 5, 9 },
		{ " 0 - 99 ", 0, 0, 0, 99 },
		{ "bytes  0-99 / 100", 0, 0, 0, 99 },
		{ "0-18446744073709551615", 0, 0, 0, UINT64_MAX },
		{ "", 0, BERTH_E_INVALID, 0, 0 },
		{ "-", 0, BERTH_E_INVALID, 0, 0 },
		{ "0", 0, BERTH_E_INVALID, 0, 0 },
		{ "0-", 0, BERTH_E_INVALID, 0, 0 },
		{ "-99", 0, BERTH_E_INVALID, 0, 0 },
		{ "5-2", 0, BERTH_E_INVALID, 0, 0 },
		{ "0-1,3-4", 0, BERTH_E_INVALID, 0, 0 },
		{ "+0-99", 0, BERTH_E_INVALID, 0, 0 },
		{ "0-+99", 0, BERTH_E_INVALID, 0, 0 },
		{ "0--99", 0, BERTH_E_INVALID, 0, 0 },
		{ "0-99/100", 0, BERTH_E_INVALID, 0, 0 },     /* a length needs the unit */
		{ "bytes 0-99/99", 0, BERTH_E_INVALID, 0, 0 },/* length must exceed last-pos */
		{ "bytes 0-99/0", 0, BERTH_E_INVALID, 0, 0 },
		{ "bytes 0-99/", 0, BERTH_E_INVALID, 0, 0 },
		{ "bytes 0-99/-1", 0, BERTH_E_INVALID, 0, 0 },
		{ "bytes 0-99/**", 0, BERTH_E_INVALID, 0, 0 },
		{ "bytes */100", 0, BERTH_E_INVALID, 0, 0 },
		{ "bytes0-99", 0, BERTH_E_INVALID, 0, 0 },
		{ "bytes", 0, BERTH_E_INVALID, 0, 0 },
		{ "bytes ", 0, BERTH_E_INVALID, 0, 0 },
		{ "items 0-99", 0, BERTH_E_INVALID, 0, 0 },
		{ "items=0-99", 0, BERTH_E_INVALID, 0, 0 },
		{ "0-99 x", 0, BERTH_E_INVALID, 0, 0 },
		{ "0-18446744073709551616", 0, BERTH_E_INVALID, 0, 0 },
		{ "99999999999999999999999-99999999999999999999999", 0, BERTH_E_INVALID, 0, 0 },
		{ "bytes 0-99/99999999999999999999999", 0, BERTH_E_INVALID, 0, 0 },
	};
	size_t i;
	uint64_t start, end;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct range_case *c = &cases[i];
		int rc;

		start = end = 12345;
		rc = content_range_parse(c->in, &start, &end);
		if (rc != c->rc)
			fprintf(stderr, "content-range \"%s\"\n", c->in);
		CHECK_INT(rc, c->rc);
		if (c->rc == 0) {
			CHECK(start == c->start);
			CHECK(end == c->end);
		} else {
			CHECK(start == 12345 && end == 12345);
		}
	}
	CHECK_INT(content_range_parse(NULL, &start, &end), BERTH_E_INVALID);
	CHECK_INT(content_range_parse("0-1", NULL, &end), BERTH_E_INVALID);
}

static void test_parse_u64(void)
{
	static const char *const bad[] = {
		"", " ", "-1", "+1", " 1", "1 ", "1\n", "0x10", "1e3", "1.0", "1,000",
		"18446744073709551616", "99999999999999999999999", "abc",
		"\xef\xbc\x91", /* fullwidth one */
	};
	uint64_t v;
	size_t i;

	CHECK_INT(parse_u64("0", &v), 0);
	CHECK(v == 0);
	CHECK_INT(parse_u64("42", &v), 0);
	CHECK(v == 42);
	CHECK_INT(parse_u64("000123", &v), 0);
	CHECK(v == 123);
	CHECK_INT(parse_u64("18446744073709551615", &v), 0);
	CHECK(v == UINT64_MAX);
	CHECK_INT(parse_u64("18446744073709551610", &v), 0);
	CHECK(v == UINT64_MAX - 5);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 7;
		if (parse_u64(bad[i], &v) != BERTH_E_INVALID)
			fprintf(stderr, "u64 \"%s\"\n", bad[i]);
		CHECK_INT(parse_u64(bad[i], &v), BERTH_E_INVALID);
		CHECK(v == 7);
	}
	CHECK_INT(parse_u64(NULL, &v), BERTH_E_INVALID);
	CHECK_INT(parse_u64("1", NULL), BERTH_E_INVALID);
}

int main(void)
{
	test_range_parse();
	test_content_range_parse();
	test_parse_u64();
	TEST_MAIN_END();
}

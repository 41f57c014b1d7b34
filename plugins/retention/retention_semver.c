/*
 * retention_semver.c - SemVer 2.0.0 versions in tags (https://semver.org),
 * for the semver rule: "v1.2.3", "1.2.3", "1.2.3-rc.1". "1.2" or "latest"
 * are not versions. Build metadata ("+x") cannot appear in a tag, but is
 * accepted and ignored as the specification says.
 */
#include <string.h>

#include "retention.h"

/* 18 digits always fit in uint64_t. */
#define NUMBER_MAX_DIGITS 18

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_ident_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* A numeric identifier: 0, or digits without a leading zero. */
static const char *parse_number(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;

	if (!is_digit(s[0]) || (s[0] == '0' && is_digit(s[1])))
		return NULL;
	while (is_digit(s[n])) {
		if (n == NUMBER_MAX_DIGITS)
			return NULL;
		v = v * 10 + (uint64_t)(s[n] - '0');
		n++;
	}
	*out = v;
	return s + n;
}

/* Dot-separated identifiers [0-9A-Za-z-]+; numeric ones without leading zeros. */
static const char *parse_identifiers(const char *s, int numeric_rule)
{
	for (;;) {
		size_t n = 0;
		int all_digits = 1;

		while (is_ident_char(s[n])) {
			all_digits &= is_digit(s[n]);
			n++;
		}
		if (n == 0)
			return NULL;
		if (numeric_rule && all_digits && n > 1 && s[0] == '0')
			return NULL;
		s += n;
		if (*s != '.')
			return s;
		s++;
	}
}

int retention_semver_parse(const char *text, struct retention_semver *v)
{
	const char *s = text, *end;

	memset(v, 0, sizeof(*v));
	if (*s == 'v' || *s == 'V')
		s++;
	if (!(s = parse_number(s, &v->major)) || *s++ != '.' ||
	    !(s = parse_number(s, &v->minor)) || *s++ != '.' ||
	    !(s = parse_number(s, &v->patch)))
		return -1;
	if (*s == '-') {
		end = parse_identifiers(s + 1, 1);
		if (!end)
			return -1;
		v->pre = s + 1;
		v->pre_len = (size_t)(end - v->pre);
		s = end;
	}
	if (*s == '+') {
		s = parse_identifiers(s + 1, 0);
		if (!s)
			return -1;
	}
	return *s ? -1 : 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* One pre-release identifier of length n: numeric ones compare as numbers, below others. */
static int compare_identifier(const char *a, size_t an, const char *b, size_t bn)
{
	int a_num = 1, b_num = 1, c;
	size_t i;

	for (i = 0; i < an; i++)
		a_num &= is_digit(a[i]);
	for (i = 0; i < bn; i++)
		b_num &= is_digit(b[i]);
	if (a_num && b_num) {
		/* No leading zeros: the longer number is the larger. */
		if (an != bn)
			return an < bn ? -1 : 1;
		return memcmp(a, b, an) < 0 ? -1 : memcmp(a, b, an) > 0;
	}
	if (a_num != b_num)
		return a_num ? -1 : 1;
	c = memcmp(a, b, an < bn ? an : bn);
	if (c)
		return c < 0 ? -1 : 1;
	return an < bn ? -1 : an > bn;
}

/* SemVer 11.4: identifier by identifier; a shorter list that is a prefix is lower. */
static int compare_prerelease(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i = 0, j = 0;

	while (i < an && j < bn) {
		size_t ai = i, bj = j;
		int c;

		while (i < an && a[i] != '.')
			i++;
		while (j < bn && b[j] != '.')
			j++;
		c = compare_identifier(a + ai, i - ai, b + bj, j - bj);
		if (c)
			return c;
		i += i < an;
		j += j < bn;
	}
	if (i < an)
		return 1;
	return j < bn ? -1 : 0;
}

int retention_semver_compare(const struct retention_semver *a, const struct retention_semver *b)
{
	int c = cmp_u64(a->major, b->major);

	if (!c)
		c = cmp_u64(a->minor, b->minor);
	if (!c)
		c = cmp_u64(a->patch, b->patch);
	if (c)
		return c;
	/* A pre-release is lower than the release itself. */
	if (!a->pre || !b->pre)
		return a->pre ? -1 : b->pre ? 1 : 0;
	return compare_prerelease(a->pre, a->pre_len, b->pre, b->pre_len);
}

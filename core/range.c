/*
 * range.c - Range, Content-Range and decimal numbers from request headers.
 *
 * A small cursor scanner: every step looks at one byte and stops at the
 * terminating NUL, so no input can make it read past the string.
 */
#include "range.h"

#include <stddef.h>

#include "berth/error.h"

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 9110 OWS: spaces and horizontal tabs. */
static void skip_ows(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* 1*DIGIT at *p, advancing past it; BERTH_E_INVALID on no digit or overflow. */
static int scan_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (!is_digit(*s))
		return BERTH_E_INVALID;
	while (is_digit(*s)) {
		unsigned int d = (unsigned int)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return BERTH_E_INVALID;
		v = v * 10 + d;
		s++;
	}
	*p = s;
	*out = v;
	return 0;
}

/* Range units are compared case-insensitively (RFC 9110 14.1). */
static int scan_bytes_unit(const char **p)
{
	static const char unit[] = "bytes";
	const char *s = *p;
	size_t i;

	for (i = 0; i < sizeof(unit) - 1; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != unit[i])
			return 0;
	}
	*p = s + i;
	return 1;
}

int range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *end)
{
	const char *p = header;
	uint64_t a = 0, b = 0;
	int suffix = 0, has_last = 0;

	if (!header || !start || !end)
		return BERTH_E_INVALID;
	skip_ows(&p);
	if (!scan_bytes_unit(&p))
		return BERTH_E_INVALID;
	skip_ows(&p);
	if (*p++ != '=')
		return BERTH_E_INVALID;
	skip_ows(&p);
	if (*p == '-') {
		/* suffix-range: "-n" means the last n bytes */
		suffix = 1;
		p++;
		skip_ows(&p);
		if (scan_u64(&p, &b) != 0)
			return BERTH_E_INVALID;
	} else {
		if (scan_u64(&p, &a) != 0)
			return BERTH_E_INVALID;
		skip_ows(&p);
		if (*p++ != '-')
			return BERTH_E_INVALID;
		skip_ows(&p);
		if (is_digit(*p)) {
			if (scan_u64(&p, &b) != 0)
				return BERTH_E_INVALID;
			has_last = 1;
		}
	}
	skip_ows(&p);
	/* Anything left, a ',' in particular, is a second range we refuse. */
	if (*p != '\0')
		return BERTH_E_INVALID;
	if (has_last && b < a)
		return BERTH_E_INVALID;

	if (size == 0)
		return BERTH_E_RANGE;
	if (suffix) {
		if (b == 0)
			return BERTH_E_RANGE;
		*start = b >= size ? 0 : size - b;
		*end = size - 1;
		return 0;
	}
	if (a >= size)
		return BERTH_E_RANGE;
	*start = a;
	*end = has_last && b < size ? b : size - 1;
	return 0;
}

int content_range_parse(const char *header, uint64_t *start, uint64_t *end)
{
	const char *p = header;
	uint64_t a, b, total;
	int has_unit;

	if (!header || !start || !end)
		return BERTH_E_INVALID;
	skip_ows(&p);
	has_unit = scan_bytes_unit(&p);
	if (has_unit) {
		/* "bytes a-b/N" (RFC 9110 14.4) or the "bytes=a-b" some clients send */
		if (*p == '=')
			p++;
		else if (*p != ' ' && *p != '\t')
			return BERTH_E_INVALID;
		skip_ows(&p);
	}
	if (scan_u64(&p, &a) != 0)
		return BERTH_E_INVALID;
	skip_ows(&p);
	if (*p++ != '-')
		return BERTH_E_INVALID;
	skip_ows(&p);
	if (scan_u64(&p, &b) != 0 || b < a)
		return BERTH_E_INVALID;
	skip_ows(&p);
	if (has_unit && *p == '/') {
		p++;
		skip_ows(&p);
		if (*p == '*') {
			p++;
		} else {
			/* RFC 9110 14.4: a complete length must exceed last-pos. */
			if (scan_u64(&p, &total) != 0 || total <= b)
				return BERTH_E_INVALID;
		}
		skip_ows(&p);
	}
	if (*p != '\0')
		return BERTH_E_INVALID;
	*start = a;
	*end = b;
	return 0;
}

int parse_u64(const char *s, uint64_t *out)
{
	const char *p = s;
	uint64_t v;

	if (!s || !out)
		return BERTH_E_INVALID;
	if (scan_u64(&p, &v) != 0 || *p != '\0')
		return BERTH_E_INVALID;
	*out = v;
	return 0;
}

/*
 * webhook_values.c - durations, sizes, booleans and numbers written in an
 * endpoint's map. The host types the plugin's top-level keys from the
 * schema; the maps of the `endpoints` list have no schema, so their values
 * arrive as text and are read here, in exactly the forms the host accepts
 * elsewhere in the configuration.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "webhook.h"

/* Decimal digits into *v, advancing *p; at least one, no overflow. */
static int digits(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t n = 0;

	if (*s < '0' || *s > '9')
		return BERTH_E_INVALID;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return BERTH_E_INVALID;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*v = n;
	return 0;
}

int webhook_parse_int(const char *s, int64_t *out)
{
	const char *p = s;
	int neg = 0;
	uint64_t v;

	if (!s)
		return BERTH_E_INVALID;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (digits(&p, &v) < 0 || *p || v > (uint64_t)INT64_MAX)
		return BERTH_E_INVALID;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

int webhook_parse_duration_ms(const char *s, int64_t *out)
{
	const char *p = s;
	uint64_t total = 0, v, unit;

	if (!s || !*s)
		return BERTH_E_INVALID;
	if (digits(&p, &v) == 0 && *p == '\0') {
		if (v > (uint64_t)INT64_MAX / 1000)
			return BERTH_E_INVALID;
		*out = (int64_t)(v * 1000);
		return 0;
	}
	for (p = s; *p;) {
		if (digits(&p, &v) < 0)
			return BERTH_E_INVALID;
		if (p[0] == 'm' && p[1] == 's') {
			unit = 1;
			p += 2;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else if (*p == 'm') {
			unit = 60 * 1000;
			p++;
		} else if (*p == 'h') {
			unit = 3600 * 1000;
			p++;
		} else if (*p == 'd') {
			unit = 24ull * 3600 * 1000;
			p++;
		} else {
			return BERTH_E_INVALID;
		}
		if (v > (uint64_t)INT64_MAX / unit || total > (uint64_t)INT64_MAX - v * unit)
			return BERTH_E_INVALID;
		total += v * unit;
	}
	*out = (int64_t)total;
	return 0;
}

int webhook_parse_size(const char *s, int64_t *out)
{
	const char *p = s;
	unsigned shift = 0;
	uint64_t v;

	if (!s || digits(&p, &v) < 0)
		return BERTH_E_INVALID;
	while (*p == ' ')
		p++;
	switch (*p) {
	case '\0':
		break;
	case 'B':
		p++;
		break;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	case 't': case 'T':
		shift = 40;
		break;
	default:
		return BERTH_E_INVALID;
	}
	if (shift) {
		p++;
		if (strcmp(p, "i") == 0 || strcmp(p, "iB") == 0 || strcmp(p, "B") == 0)
			p += strlen(p);
	}
	if (*p || v > ((uint64_t)INT64_MAX >> shift))
		return BERTH_E_INVALID;
	*out = (int64_t)(v << shift);
	return 0;
}

int webhook_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };

	if (!s)
		return BERTH_E_INVALID;
	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return BERTH_E_INVALID;
}

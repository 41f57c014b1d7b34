/*
 * atok_encoding.c - the text encodings tokens and token requests use:
 * base64 and base64url (JWS), base32 (libtrust key ids), form and query
 * strings, RFC 3339 times; and a comparison that takes the same time
 * whatever matches.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth_token.h"

int atok_fail(berth_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return code;
}

static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_value(unsigned char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/*
 * The decoder both share. Padding is required for base64 and refused for
 * base64url (JWS section 2); leftover bits must be zero, so that one text
 * decodes from exactly one encoding (no token malleability).
 */
static long b64_decode(const char *in, size_t len, unsigned char *out, size_t cap, int url)
{
	unsigned bits = 0;
	int nbits = 0;
	size_t n = 0, i, data_len = len;

	if (!url) {
		if (len % 4 != 0)
			return -1;
		while (data_len > 0 && len - data_len < 2 && in[data_len - 1] == '=')
			data_len--;
	} else if (len % 4 == 1) {
		return -1;
	}
	for (i = 0; i < data_len; i++) {
		int v = b64_value((unsigned char)in[i], url);
		if (v < 0)
			return -1;
		bits = (bits << 6) | (unsigned)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			if (n >= cap)
				return -1;
			out[n++] = (unsigned char)((bits >> nbits) & 0xff);
		}
	}
	if (nbits > 0 && (bits & ((1u << nbits) - 1)) != 0)
		return -1;
	if (n < cap)
		out[n] = '\0';
	return (long)n;
}

long atok_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
	return b64_decode(in, len, out, cap, 0);
}

long atok_b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
	return b64_decode(in, len, out, cap, 1);
}

long atok_b64url_encode(const unsigned char *in, size_t len, char *out, size_t cap)
{
	size_t n = 0, i;
	unsigned bits = 0;
	int nbits = 0;

	for (i = 0; i < len; i++) {
		bits = (bits << 8) | in[i];
		nbits += 8;
		while (nbits >= 6) {
			nbits -= 6;
			if (n + 1 >= cap)
				return -1;
			out[n++] = b64_url[(bits >> nbits) & 0x3f];
		}
		bits &= 0xff;
	}
	if (nbits > 0) {
		if (n + 1 >= cap)
			return -1;
		out[n++] = b64_url[(bits << (6 - nbits)) & 0x3f];
	}
	if (n >= cap)
		return -1;
	out[n] = '\0';
	return (long)n;
}

long atok_b32_encode(const unsigned char *in, size_t len, char *out, size_t cap)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	size_t n = 0, i;
	unsigned bits = 0;
	int nbits = 0;

	for (i = 0; i < len; i++) {
		bits = (bits << 8) | in[i];
		nbits += 8;
		while (nbits >= 5) {
			nbits -= 5;
			if (n + 1 >= cap)
				return -1;
			out[n++] = alphabet[(bits >> nbits) & 0x1f];
		}
		bits &= 0xff;
	}
	if (nbits > 0) {
		if (n + 1 >= cap)
			return -1;
		out[n++] = alphabet[(bits << (5 - nbits)) & 0x1f];
	}
	if (n >= cap)
		return -1;
	out[n] = '\0';
	return (long)n;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode in[0..len) into out; -1 when malformed, holds a NUL, or does not fit. */
static int form_decode(const char *in, size_t len, char *out, size_t cap)
{
	size_t n = 0, i;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)in[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;
			if (i + 2 >= len)
				return -1;
			hi = hex_value(in[i + 1]);
			lo = hex_value(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || n + 1 >= cap)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

int atok_form_value(const char *form, size_t len, const char *name, size_t idx, char *out,
		    size_t cap)
{
	size_t pos = 0, name_len = strlen(name), seen = 0;

	if (!form || cap == 0)
		return 0;
	while (pos < len) {
		const char *pair = form + pos, *amp, *eq;
		size_t pair_len, key_len;
		char key[64];

		amp = memchr(pair, '&', len - pos);
		pair_len = amp ? (size_t)(amp - pair) : len - pos;
		pos += pair_len + 1;
		eq = memchr(pair, '=', pair_len);
		key_len = eq ? (size_t)(eq - pair) : pair_len;
		/* Keys are matched decoded: clients may escape them too. */
		if (key_len > 3 * sizeof(key) || form_decode(pair, key_len, key, sizeof(key)) < 0 ||
		    strlen(key) != name_len || memcmp(key, name, name_len) != 0)
			continue;
		if (seen++ != idx)
			continue;
		if (!eq) {
			out[0] = '\0';
			return 1;
		}
		return form_decode(eq + 1, pair_len - key_len - 1, out, cap) < 0 ? -1 : 1;
	}
	return 0;
}

void atok_rfc3339(int64_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, cap, "1970-01-01T00:00:00Z");
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int atok_rfc3339_parse(const char *s, int64_t *out)
{
	static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	const char *p;

	if (strlen(s) < 20 || digits(s, 4, &y) < 0 || s[4] != '-' || digits(s + 5, 2, &mo) < 0 ||
	    s[7] != '-' || digits(s + 8, 2, &d) < 0 || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &h) < 0 || s[13] != ':' || digits(s + 14, 2, &mi) < 0 ||
	    s[16] != ':' || digits(s + 17, 2, &sec) < 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > month_days[mo - 1] || h > 23 || mi > 59 || sec > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (digits(p + 1, 2, &oh) < 0 || p[3] != ':' || digits(p + 4, 2, &om) < 0 || oh > 23 ||
		    om > 59)
			return -1;
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	       sign * (oh * 3600 + om * 60);
	return 0;
}

int atok_same_bytes(const void *a, size_t a_len, const void *b, size_t b_len)
{
	const unsigned char *x = a, *y = b;
	unsigned char diff = a_len != b_len;
	size_t i;

	for (i = 0; i < a_len; i++)
		diff |= (unsigned char)(x[i] ^ (b_len ? y[i % b_len] : 0));
	return diff == 0;
}

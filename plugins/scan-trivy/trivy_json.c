/*
 * trivy_json.c - the pull reader for untrusted JSON (see trivy_json.h).
 *
 * Every byte is checked the way a strict parser would: the grammar of
 * RFC 8259, UTF-8 in strings (the report goes back out in API answers),
 * escapes and surrogate pairs, and a nesting limit so a hostile document
 * cannot exhaust anything. Skipping a value is iterative, with a small
 * stack of container kinds instead of recursion.
 */
#include "trivy_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void trivy_json_init(trivy_json *j, const void *buf, size_t len)
{
	memset(j, 0, sizeof(*j));
	j->start = j->p = buf ? buf : "";
	j->end = j->start + (buf ? len : 0);
}

void trivy_json_free(trivy_json *j)
{
	free(j->scratch);
	j->scratch = NULL;
	j->scratch_cap = 0;
}

int trivy_json_fail(trivy_json *j, const char *fmt, ...)
{
	char what[120];
	va_list ap;

	if (j->failed)
		return -1;
	j->failed = 1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(j->error, sizeof(j->error), "%s (at byte %zu)", what,
		 (size_t)(j->p - j->start));
	return -1;
}

int trivy_json_fail_message(trivy_json *j, const char *message)
{
	if (j->failed)
		return -1;
	j->failed = 1;
	snprintf(j->error, sizeof(j->error), "%s", message);
	return -1;
}

int trivy_json_oom(trivy_json *j)
{
	if (!j->failed)
		j->out_of_memory = 1;
	return trivy_json_fail_message(j, "out of memory");
}

const char *trivy_json_error(const trivy_json *j)
{
	return j->failed ? j->error : "";
}

int trivy_json_key_is(const char *key, size_t key_len, const char *name)
{
	return strlen(name) == key_len && memcmp(key, name, key_len) == 0;
}

size_t trivy_json_utf8_len(const unsigned char *p, size_t avail)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (avail == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		lo = p[0] == 0xe0 ? 0xa0 : 0x80;
		hi = p[0] == 0xed ? 0x9f : 0xbf;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		lo = p[0] == 0xf0 ? 0x90 : 0x80;
		hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (avail < len || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

static void skip_space(trivy_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

int trivy_json_peek(trivy_json *j)
{
	if (j->failed)
		return TRIVY_JSON_NONE;
	skip_space(j);
	if (j->p >= j->end)
		return TRIVY_JSON_NONE;
	switch (*j->p) {
	case '{':
		return TRIVY_JSON_OBJECT;
	case '[':
		return TRIVY_JSON_ARRAY;
	case '"':
		return TRIVY_JSON_STRING;
	case 't':
		return TRIVY_JSON_TRUE;
	case 'f':
		return TRIVY_JSON_FALSE;
	case 'n':
		return TRIVY_JSON_NULL;
	default:
		if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
			return TRIVY_JSON_NUMBER;
		return TRIVY_JSON_NONE;
	}
}

/* A value was expected here and is missing or unknown. */
static int bad_value(trivy_json *j)
{
	if (j->failed)
		return -1;
	if (j->p >= j->end)
		return trivy_json_fail(j, "malformed JSON: the document ends early");
	return trivy_json_fail(j, "malformed JSON: unexpected character '%c'",
			       (*j->p >= 0x20 && *j->p < 0x7f) ? *j->p : '?');
}

int trivy_json_expected(trivy_json *j, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	if (j->failed)
		return -1;
	if (trivy_json_peek(j) == TRIVY_JSON_NONE)
		return bad_value(j);
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return trivy_json_fail(j, "%s", what);
}

static int scratch_reserve(trivy_json *j, size_t need)
{
	char *nb;
	size_t cap = j->scratch_cap ? j->scratch_cap : 256;

	if (need <= j->scratch_cap)
		return 0;
	while (cap < need)
		cap *= 2;
	nb = realloc(j->scratch, cap);
	if (!nb)
		return trivy_json_oom(j);
	j->scratch = nb;
	j->scratch_cap = cap;
	return 0;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t utf8_encode(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A \u escape at p (after the backslash and 'u'), surrogate pairs joined. */
static int read_unicode_escape(trivy_json *j, unsigned *cp)
{
	unsigned hi, lo;

	if (j->end - j->p < 4 || hex4(j->p, &hi) < 0)
		return trivy_json_fail(j, "malformed JSON: bad \\u escape");
	j->p += 4;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return trivy_json_fail(j, "malformed JSON: lone low surrogate in a \\u escape");
	if (hi >= 0xd800 && hi <= 0xdbff) {
		if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
		    hex4(j->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
			return trivy_json_fail(j, "malformed JSON: high surrogate without its low half");
		j->p += 6;
		*cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
		return 0;
	}
	*cp = hi;
	return 0;
}

/*
 * The string at j->p (which is '"'). With decode, its value goes to
 * scratch; without, it is only checked (a NUL escape is fine there: the
 * value is never used as a C string).
 */
static int read_string(trivy_json *j, int decode, size_t *out_len)
{
	size_t n = 0;

	j->p++;
	for (;;) {
		unsigned char c;
		char enc[4];
		size_t len;

		if (j->p >= j->end)
			return trivy_json_fail(j, "malformed JSON: unterminated string");
		c = (unsigned char)*j->p;
		if (c == '"') {
			j->p++;
			break;
		}
		if (c < 0x20)
			return trivy_json_fail(j, "malformed JSON: control character in a string");
		if (c == '\\') {
			unsigned cp = 0;
			if (j->end - j->p < 2)
				return trivy_json_fail(j, "malformed JSON: unterminated string");
			j->p += 2;
			switch (j->p[-1]) {
			case '"': cp = '"'; break;
			case '\\': cp = '\\'; break;
			case '/': cp = '/'; break;
			case 'b': cp = '\b'; break;
			case 'f': cp = '\f'; break;
			case 'n': cp = '\n'; break;
			case 'r': cp = '\r'; break;
			case 't': cp = '\t'; break;
			case 'u':
				if (read_unicode_escape(j, &cp) < 0)
					return -1;
				break;
			default:
				j->p--;
				return trivy_json_fail(j, "malformed JSON: unknown escape in a string");
			}
			if (!decode)
				continue;
			if (cp == 0)
				return trivy_json_fail(j, "a string holds a NUL character (\\u0000)");
			len = utf8_encode(cp, enc);
			if (scratch_reserve(j, n + len + 1) < 0)
				return -1;
			memcpy(j->scratch + n, enc, len);
			n += len;
			continue;
		}
		len = trivy_json_utf8_len((const unsigned char *)j->p, (size_t)(j->end - j->p));
		if (len == 0)
			return trivy_json_fail(j, "malformed JSON: a string is not valid UTF-8");
		if (decode) {
			/* Copy the run of plain bytes at once: most of a report is text. */
			const char *run = j->p + len;
			while (run < j->end && (unsigned char)*run >= 0x20 && *run != '"' &&
			       *run != '\\' && (unsigned char)*run < 0x80)
				run++;
			len = (size_t)(run - j->p);
			if (scratch_reserve(j, n + len + 1) < 0)
				return -1;
			memcpy(j->scratch + n, j->p, len);
			n += len;
		}
		j->p += len;
	}
	if (decode) {
		if (scratch_reserve(j, n + 1) < 0)
			return -1;
		j->scratch[n] = '\0';
	}
	if (out_len)
		*out_len = n;
	return 0;
}

/* A number per RFC 8259 section 6; *integral is 0 when it has a fraction or exponent. */
static int read_number(trivy_json *j, const char **text, size_t *len, int *integral)
{
	const char *s = j->p;

	*integral = 1;
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return trivy_json_fail(j, "malformed JSON: bad number");
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	if (j->p < j->end && *j->p == '.') {
		*integral = 0;
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return trivy_json_fail(j, "malformed JSON: bad number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		*integral = 0;
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return trivy_json_fail(j, "malformed JSON: bad number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	*text = s;
	*len = (size_t)(j->p - s);
	return 0;
}

static int read_literal(trivy_json *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return bad_value(j);
	j->p += n;
	return 0;
}

/* A key and its ':' (j->p at the key's opening quote, or not). */
static int read_key(trivy_json *j, size_t *len)
{
	skip_space(j);
	if (j->p >= j->end || *j->p != '"')
		return trivy_json_fail(j, "malformed JSON: expected a key in quotes");
	if (read_string(j, 1, len) < 0)
		return -1;
	skip_space(j);
	if (j->p >= j->end || *j->p != ':')
		return trivy_json_fail(j, "malformed JSON: expected ':' after a key");
	j->p++;
	return 0;
}

static int enter(trivy_json *j, char open)
{
	skip_space(j);
	if (j->p >= j->end || *j->p != open)
		return trivy_json_fail(j, open == '{' ? "expected an object" : "expected an array");
	if (j->depth >= TRIVY_JSON_DEPTH_MAX)
		return trivy_json_fail(j, "JSON nested deeper than %d levels", TRIVY_JSON_DEPTH_MAX);
	j->p++;
	j->depth++;
	return 0;
}

int trivy_json_object_next(trivy_json *j, int *first, const char **key, size_t *key_len)
{
	if (j->failed)
		return -1;
	if (*first) {
		if (enter(j, '{') < 0)
			return -1;
		*first = 0;
		skip_space(j);
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			j->depth--;
			return 0;
		}
	} else {
		skip_space(j);
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			j->depth--;
			return 0;
		}
		if (j->p >= j->end || *j->p != ',')
			return trivy_json_fail(j, "malformed JSON: expected ',' or '}'");
		j->p++;
	}
	if (read_key(j, key_len) < 0)
		return -1;
	*key = j->scratch;
	return 1;
}

int trivy_json_array_next(trivy_json *j, int *first)
{
	if (j->failed)
		return -1;
	if (*first) {
		if (enter(j, '[') < 0)
			return -1;
		*first = 0;
		skip_space(j);
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			j->depth--;
			return 0;
		}
		return 1;
	}
	skip_space(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		j->depth--;
		return 0;
	}
	if (j->p >= j->end || *j->p != ',')
		return trivy_json_fail(j, "malformed JSON: expected ',' or ']'");
	j->p++;
	return 1;
}

int trivy_json_string(trivy_json *j, const char **s, size_t *len)
{
	size_t n = 0;

	if (trivy_json_peek(j) != TRIVY_JSON_STRING)
		return trivy_json_expected(j, "expected a string");
	if (read_string(j, 1, &n) < 0)
		return -1;
	*s = j->scratch;
	if (len)
		*len = n;
	return 0;
}

int trivy_json_int(trivy_json *j, int64_t *v)
{
	const char *text;
	size_t len, i = 0;
	int integral, neg = 0;
	uint64_t acc = 0;

	if (trivy_json_peek(j) != TRIVY_JSON_NUMBER)
		return trivy_json_expected(j, "expected a number");
	if (read_number(j, &text, &len, &integral) < 0)
		return -1;
	if (!integral)
		return trivy_json_fail(j, "expected a whole number");
	if (text[0] == '-') {
		neg = 1;
		i = 1;
	}
	for (; i < len; i++) {
		unsigned d = (unsigned)(text[i] - '0');
		if (acc > (UINT64_C(9223372036854775807) - d) / 10)
			return trivy_json_fail(j, "number out of range");
		acc = acc * 10 + d;
	}
	*v = neg ? -(int64_t)acc : (int64_t)acc;
	return 0;
}

int trivy_json_skip(trivy_json *j)
{
	/* The kinds of the containers opened by this call, innermost last. */
	char stack[TRIVY_JSON_DEPTH_MAX];
	int sp = 0;
	const char *text;
	size_t len;
	int integral;

value:
	switch (trivy_json_peek(j)) {
	case TRIVY_JSON_OBJECT:
	case TRIVY_JSON_ARRAY:
		if (j->depth + sp >= TRIVY_JSON_DEPTH_MAX)
			return trivy_json_fail(j, "JSON nested deeper than %d levels",
					       TRIVY_JSON_DEPTH_MAX);
		stack[sp++] = *j->p++;
		skip_space(j);
		if (j->p < j->end && *j->p == (stack[sp - 1] == '{' ? '}' : ']')) {
			j->p++;
			sp--;
			goto after;
		}
		if (stack[sp - 1] == '{' && read_key(j, NULL) < 0)
			return -1;
		goto value;
	case TRIVY_JSON_STRING:
		if (read_string(j, 0, NULL) < 0)
			return -1;
		goto after;
	case TRIVY_JSON_NUMBER:
		if (read_number(j, &text, &len, &integral) < 0)
			return -1;
		goto after;
	case TRIVY_JSON_TRUE:
		if (read_literal(j, "true") < 0)
			return -1;
		goto after;
	case TRIVY_JSON_FALSE:
		if (read_literal(j, "false") < 0)
			return -1;
		goto after;
	case TRIVY_JSON_NULL:
		if (read_literal(j, "null") < 0)
			return -1;
		goto after;
	default:
		return bad_value(j);
	}
after:
	if (sp == 0)
		return 0;
	skip_space(j);
	if (j->p < j->end && *j->p == ',') {
		j->p++;
		if (stack[sp - 1] == '{' && read_key(j, NULL) < 0)
			return -1;
		goto value;
	}
	if (j->p < j->end && *j->p == (stack[sp - 1] == '{' ? '}' : ']')) {
		j->p++;
		sp--;
		goto after;
	}
	return trivy_json_fail(j, stack[sp - 1] == '{' ? "malformed JSON: expected ',' or '}'"
						  : "malformed JSON: expected ',' or ']'");
}

int trivy_json_finish(trivy_json *j)
{
	if (j->failed)
		return -1;
	skip_space(j);
	if (j->p != j->end)
		return trivy_json_fail(j, "malformed JSON: more data after the document");
	return 0;
}

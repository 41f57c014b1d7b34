/*
 * audit_line.c - one audit record as one line of JSON.
 *
 * Written by hand rather than with jansson so that hostile bytes never
 * make a line fail: names, identities and paths come from clients and
 * plugins, and a byte that is not UTF-8 becomes U+FFFD instead of costing
 * the whole line. Control characters, U+2028 and U+2029 are escaped, so a
 * line is always one line whatever reads it (jq, a JavaScript viewer, a
 * shell's `read`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"

/* A growing output buffer; once an allocation fails it stays failed. */
struct line_buf {
	char *data;
	size_t len, cap;
	int failed;
};

static void put(struct line_buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		char *p;

		while (b->len + n + 1 > cap)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p) {
			b->failed = 1;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void puts_raw(struct line_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/*
 * Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0
 * when there is none: overlong forms, surrogates and code points past
 * U+10FFFF are not UTF-8 (RFC 3629).
 */
static size_t utf8_sequence(const unsigned char *s, size_t n, unsigned *cp)
{
	size_t len, i;
	unsigned c = s[0], min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/*
 * A JSON string of at most AUDIT_FIELD_MAX input bytes; longer text is cut
 * at a character boundary and marked with "...", so one runaway field
 * cannot make a line of megabytes.
 */
static void put_string(struct line_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;
	int cut = 0;

	if (n > AUDIT_FIELD_MAX) {
		size_t back = 0;

		/* Cut before a character that p[AUDIT_FIELD_MAX] continues (at most
		 * 3 bytes back); a longer run of continuation bytes is not UTF-8. */
		while (back < 3 && (p[AUDIT_FIELD_MAX - back] & 0xc0) == 0x80)
			back++;
		n = (p[AUDIT_FIELD_MAX - back] & 0xc0) == 0x80 ? AUDIT_FIELD_MAX
								 : AUDIT_FIELD_MAX - back;
		cut = 1;
	}
	put(b, "\"", 1);
	while (i < n) {
		unsigned cp = 0;
		size_t len = utf8_sequence(p + i, n - i, &cp);
		char esc[8];

		if (len == 0) {
			put(b, "\\ufffd", 6);
			i++;
			continue;
		}
		if (cp == '"' || cp == '\\') {
			esc[0] = '\\';
			esc[1] = (char)cp;
			put(b, esc, 2);
		} else if (cp == '\n') {
			put(b, "\\n", 2);
		} else if (cp == '\r') {
			put(b, "\\r", 2);
		} else if (cp == '\t') {
			put(b, "\\t", 2);
		} else if (cp < 0x20 || cp == 0x7f || cp == 0x2028 || cp == 0x2029) {
			snprintf(esc, sizeof(esc), "\\u%04x", cp);
			put(b, esc, 6);
		} else {
			put(b, (const char *)p + i, len);
		}
		i += len;
	}
	if (cut)
		put(b, "...", 3);
	put(b, "\"", 1);
}

static void put_key(struct line_buf *b, const char *key)
{
	/* Every line starts with "{": anything longer already holds a field. */
	if (b->len > 1)
		put(b, ",", 1);
	put(b, "\"", 1);
	puts_raw(b, key);
	put(b, "\":", 2);
}

/* A string field; NULL and "" are written as null. */
static void put_field(struct line_buf *b, const char *key, const char *value)
{
	put_key(b, key);
	if (value && *value)
		put_string(b, value);
	else
		put(b, "null", 4);
}

void audit_time_format(int64_t time_ms, char *out, size_t cap)
{
	int64_t secs = time_ms / 1000, ms = time_ms % 1000;
	time_t t;
	struct tm tm;

	/* Floor division: a time before 1970 still gets ms in 0..999. */
	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm)) {
		snprintf(out, cap, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
}

char *audit_line_format(const struct audit_record *r, size_t *len)
{
	struct line_buf b = {0};
	char when[AUDIT_TIME_MAX];

	audit_time_format(r->time_ms, when, sizeof(when));
	put(&b, "{", 1);
	put_field(&b, "time", when);
	put_field(&b, "action", r->action);
	put_field(&b, "outcome", r->outcome);
	put_field(&b, "identity", r->identity && *r->identity ? r->identity : "anonymous");
	put_field(&b, "client", r->client);
	put_field(&b, "repository", r->repository);
	put_field(&b, "reference", r->reference);
	put_field(&b, "digest", r->digest);
	put_field(&b, "reason", r->reason);
	if (r->status > 0) {
		char status[16];

		put_field(&b, "message", r->message);
		put_key(&b, "status");
		snprintf(status, sizeof(status), "%d", r->status);
		puts_raw(&b, status);
	}
	if (r->path)
		put_field(&b, "path", r->path);
	if (r->has_scopes) {
		put_key(&b, "scopes");
		put(&b, "[", 1);
		for (size_t i = 0; i < r->n_scopes && i < AUDIT_SCOPES_MAX; i++) {
			if (i)
				put(&b, ",", 1);
			put_string(&b, r->scopes[i] ? r->scopes[i] : "");
		}
		put(&b, "]", 1);
	}
	put(&b, "}\n", 2);
	if (b.failed) {
		free(b.data);
		return NULL;
	}
	*len = b.len;
	return b.data;
}

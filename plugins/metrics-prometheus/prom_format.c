/*
 * prom_format.c - Prometheus' text exposition format 0.0.4: the buffer a
 * page is built in, escaping, values and sample lines.
 *
 * Label values come from clients (repository names) and from other
 * plugins (metrics registered through the host), so every byte is escaped
 * or replaced here: whatever they hold, each sample stays one valid line.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

void prom_buf_init(struct prom_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = 0;
}

void prom_buf_free(struct prom_buf *b)
{
	free(b->data);
	prom_buf_init(b);
}

char *prom_buf_take(struct prom_buf *b, size_t *len)
{
	char *s;

	prom_buf_put(b, "", 0);
	if (b->failed) {
		prom_buf_free(b);
		return NULL;
	}
	s = b->data;
	*len = b->len;
	prom_buf_init(b);
	return s;
}

/* Room for n more bytes and a NUL. */
static int reserve(struct prom_buf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (b->failed)
		return -1;
	if (n > PROM_PAGE_MAX || b->len > PROM_PAGE_MAX - n) {
		b->failed = 1;
		return -1;
	}
	want = b->len + n + 1;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < want)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->failed = 1;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

void prom_buf_put(struct prom_buf *b, const char *s, size_t n)
{
	if (reserve(b, n) < 0)
		return;
	if (n)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void prom_buf_puts(struct prom_buf *b, const char *s)
{
	prom_buf_put(b, s, strlen(s));
}

void prom_buf_printf(struct prom_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (reserve(b, 64) < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (reserve(b, (size_t)n) < 0)
			return;
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/*
 * Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. p is NUL-terminated
 * and NUL is never a continuation byte, so this never reads past the end.
 */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

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
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/*
 * The format escapes backslash and newline everywhere, and the double
 * quote only inside label values (a HELP line is not quoted).
 */
static void put_escaped(struct prom_buf *b, const char *s, int quote)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t len = utf8_len(p);

		if (len == 0) {
			prom_buf_put(b, "?", 1);
			p++;
		} else if (*p == '\\') {
			prom_buf_put(b, "\\\\", 2);
			p++;
		} else if (*p == '\n') {
			prom_buf_put(b, "\\n", 2);
			p++;
		} else if (*p == '"' && quote) {
			prom_buf_put(b, "\\\"", 2);
			p++;
		} else {
			prom_buf_put(b, (const char *)p, len);
			p += len;
		}
	}
}

void prom_put_label_value(struct prom_buf *b, const char *v)
{
	put_escaped(b, v ? v : "", 1);
}

void prom_put_help(struct prom_buf *b, const char *help)
{
	put_escaped(b, help ? help : "", 0);
}

/* The shortest text of v that reads back as v; NaN, +Inf, -Inf as the format spells them. */
static void value_text(char *out, size_t cap, double v)
{
	if (isnan(v)) {
		snprintf(out, cap, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, cap, "%s", v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* 15 digits reads well (0.1, not 0.10000000000000001); 17 always reads back exactly. */
	snprintf(out, cap, "%.15g", v);
	if (strtod(out, NULL) != v)
		snprintf(out, cap, "%.17g", v);
}

void prom_put_value(struct prom_buf *b, double v)
{
	char text[64];

	value_text(text, sizeof(text), v);
	prom_buf_puts(b, text);
}

void prom_put_header(struct prom_buf *b, const char *name, const char *help, const char *type)
{
	prom_buf_puts(b, "# HELP ");
	prom_buf_puts(b, name);
	prom_buf_puts(b, " ");
	prom_put_help(b, help);
	prom_buf_puts(b, "\n# TYPE ");
	prom_buf_puts(b, name);
	prom_buf_puts(b, " ");
	prom_buf_puts(b, type);
	prom_buf_puts(b, "\n");
}

void prom_put_sample(struct prom_buf *b, const char *name, const char *suffix,
		     const char *const *names, const char *const *values, size_t n,
		     const char *le, double value)
{
	size_t i;

	prom_buf_puts(b, name);
	prom_buf_puts(b, suffix);
	if (n || le) {
		prom_buf_puts(b, "{");
		for (i = 0; i < n; i++) {
			if (i)
				prom_buf_puts(b, ",");
			prom_buf_puts(b, names[i]);
			prom_buf_puts(b, "=\"");
			prom_put_label_value(b, values[i]);
			prom_buf_puts(b, "\"");
		}
		if (le) {
			prom_buf_puts(b, n ? ",le=\"" : "le=\"");
			prom_put_label_value(b, le);
			prom_buf_puts(b, "\"");
		}
		prom_buf_puts(b, "}");
	}
	prom_buf_puts(b, " ");
	prom_put_value(b, value);
	prom_buf_puts(b, "\n");
}

void prom_put_single(struct prom_buf *b, const char *name, const char *help, const char *type,
		     double value)
{
	prom_put_header(b, name, help, type);
	prom_put_sample(b, name, "", NULL, NULL, 0, NULL, value);
}

int prom_valid_name(const char *name)
{
	size_t i;

	if (!name || !name[0])
		return 0;
	for (i = 0; name[i]; i++) {
		char c = name[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			 c == ':' || (i > 0 && c >= '0' && c <= '9');

		if (!ok)
			return 0;
	}
	return 1;
}

static const char *type_name(int type)
{
	return type == PROM_HISTOGRAM ? "histogram" : "counter";
}

void prom_format_snapshot(struct prom_buf *b, const struct prom_snapshot *s)
{
	const struct prom_family_def *def = s->def;
	char le[64];
	size_t i, k;

	prom_put_header(b, def->name, def->help, type_name(def->type));
	for (i = 0; i < s->n; i++) {
		const struct prom_sample *sm = &s->samples[i];
		uint64_t cumulative = 0;

		if (def->type != PROM_HISTOGRAM) {
			prom_put_sample(b, def->name, "", def->label_names, sm->values,
					def->n_labels, NULL, sm->value);
			continue;
		}
		for (k = 0; k <= def->n_bounds; k++) {
			cumulative += sm->buckets[k];
			/* le values are written like sample values: "0.005", "1", "+Inf". */
			value_text(le, sizeof(le), k < def->n_bounds ? def->bounds[k] : INFINITY);
			prom_put_sample(b, def->name, "_bucket", def->label_names, sm->values,
					def->n_labels, le, (double)cumulative);
		}
		prom_put_sample(b, def->name, "_sum", def->label_names, sm->values,
				def->n_labels, NULL, sm->sum);
		prom_put_sample(b, def->name, "_count", def->label_names, sm->values,
				def->n_labels, NULL, (double)sm->count);
	}
}

/*
 * s3_xml.c - reading the XML answers of an S3 service.
 *
 * S3 answers with small, flat documents. This is not a general XML parser:
 * it walks elements, keeps the path of names from the root, decodes the
 * five predefined entities and numeric references in text, skips the
 * prolog, comments, processing instructions and attributes, and calls back
 * once per closed element with its text. Anything it does not understand
 * stops it with BERTH_E_INVALID; it never reads past `len` and needs no
 * NUL terminator, because the bytes come from the network.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

#define XML_DEPTH 16
#define XML_NAME 64
#define XML_TEXT (64 * 1024)

struct walker {
	const char *p, *end;
	char names[XML_DEPTH][XML_NAME];
	const char *path[XML_DEPTH + 1];
	int depth;
	char *text;
	size_t text_len;
	int text_over;          /* text longer than XML_TEXT: cut, still reported */
};

static int starts(const struct walker *w, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(w->end - w->p) >= n && memcmp(w->p, s, n) == 0;
}

/* Move past the first occurrence of `s`; -1 when it never comes. */
static int skip_past(struct walker *w, const char *s)
{
	size_t n = strlen(s);

	while ((size_t)(w->end - w->p) >= n) {
		if (memcmp(w->p, s, n) == 0) {
			w->p += n;
			return 0;
		}
		w->p++;
	}
	return -1;
}

static void text_add(struct walker *w, const char *s, size_t n)
{
	if (w->text_len + n > XML_TEXT) {
		n = XML_TEXT - w->text_len;
		w->text_over = 1;
	}
	memcpy(w->text + w->text_len, s, n);
	w->text_len += n;
}

static void utf8_add(struct walker *w, unsigned long cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	text_add(w, b, n);
}

/* At '&': decode one reference into the text. */
static int entity(struct walker *w)
{
	static const struct { const char *name; char c; } named[] = {
		{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''},
	};
	unsigned long cp = 0;
	size_t i;
	int digits = 0, hex;

	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (starts(w, named[i].name)) {
			text_add(w, &named[i].c, 1);
			w->p += strlen(named[i].name);
			return 0;
		}
	}
	if (!starts(w, "&#"))
		return -1;
	w->p += 2;
	hex = w->p < w->end && (*w->p == 'x' || *w->p == 'X');
	if (hex)
		w->p++;
	for (; w->p < w->end && *w->p != ';'; w->p++, digits++) {
		char c = *w->p;
		unsigned v;

		if (c >= '0' && c <= '9')
			v = (unsigned)(c - '0');
		else if (hex && c >= 'a' && c <= 'f')
			v = (unsigned)(c - 'a' + 10);
		else if (hex && c >= 'A' && c <= 'F')
			v = (unsigned)(c - 'A' + 10);
		else
			return -1;
		cp = cp * (hex ? 16 : 10) + v;
		if (cp > 0x10ffff || digits > 8)
			return -1;
	}
	if (w->p >= w->end || digits == 0 || cp == 0)
		return -1;
	w->p++;
	utf8_add(w, cp);
	return 0;
}

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == ':';
}

/* Read a tag name at p into out (cut at XML_NAME - 1). */
static int read_name(struct walker *w, char *out)
{
	size_t n = 0;

	while (w->p < w->end && name_char(*w->p)) {
		if (n < XML_NAME - 1)
			out[n++] = *w->p;
		w->p++;
	}
	out[n] = '\0';
	return n ? 0 : -1;
}

/* Skip attributes up to '>' or "/>"; *empty is set for "/>". */
static int skip_attributes(struct walker *w, int *empty)
{
	char quote = 0;

	for (; w->p < w->end; w->p++) {
		char c = *w->p;

		if (quote) {
			if (c == quote)
				quote = 0;
			continue;
		}
		if (c == '"' || c == '\'') {
			quote = c;
		} else if (c == '>') {
			w->p++;
			*empty = 0;
			return 0;
		} else if (c == '/' && w->p + 1 < w->end && w->p[1] == '>') {
			w->p += 2;
			*empty = 1;
			return 0;
		} else if (c == '<') {
			return -1;
		}
	}
	return -1;
}

static int close_element(struct walker *w, s3_xml_fn fn, void *ctx)
{
	int stop;

	w->path[w->depth] = NULL;
	w->text[w->text_len] = '\0';
	stop = fn(ctx, w->path, w->depth, w->text, w->text_len);
	w->depth--;
	w->text_len = 0;
	w->text_over = 0;
	return stop;
}

static int open_element(struct walker *w, s3_xml_fn fn, void *ctx)
{
	int empty = 0;

	if (w->depth >= XML_DEPTH)
		return -1;
	if (read_name(w, w->names[w->depth]) < 0)
		return -1;
	w->path[w->depth] = w->names[w->depth];
	w->depth++;
	w->text_len = 0;
	if (skip_attributes(w, &empty) < 0)
		return -1;
	if (empty)
		return close_element(w, fn, ctx) ? 1 : 0;
	return 0;
}

static int end_tag(struct walker *w, s3_xml_fn fn, void *ctx)
{
	char name[XML_NAME];

	w->p += 2;
	if (read_name(w, name) < 0 || w->depth == 0 ||
	    strcmp(name, w->names[w->depth - 1]) != 0)
		return -1;
	while (w->p < w->end && (*w->p == ' ' || *w->p == '\t' || *w->p == '\r' || *w->p == '\n'))
		w->p++;
	if (w->p >= w->end || *w->p != '>')
		return -1;
	w->p++;
	return close_element(w, fn, ctx) ? 1 : 0;
}

/*
 * Call fn for every closed element with the names from the root down to it
 * (path[depth - 1] is its own name) and its text (the text since the last
 * tag, so a container's is only whitespace). fn returns non-zero to stop.
 * Returns 0, or BERTH_E_INVALID for a malformed or truncated document.
 */
int s3_xml_walk(const char *xml, size_t len, s3_xml_fn fn, void *ctx)
{
	struct walker w;
	int rc = 0, seen_root = 0;

	memset(&w, 0, sizeof(w));
	w.p = xml;
	w.end = xml + len;
	w.text = malloc(XML_TEXT + 1);
	if (!w.text)
		return BERTH_E_NOMEM;
	while (w.p < w.end) {
		int r = 0;

		if (*w.p != '<') {
			if (w.depth == 0) {
				if (*w.p != ' ' && *w.p != '\t' && *w.p != '\r' && *w.p != '\n')
					goto bad;
				w.p++;
			} else if (*w.p == '&') {
				if (entity(&w) < 0)
					goto bad;
			} else {
				text_add(&w, w.p, 1);
				w.p++;
			}
			continue;
		}
		if (starts(&w, "<?"))
			r = skip_past(&w, "?>");
		else if (starts(&w, "<!--"))
			r = skip_past(&w, "-->");
		else if (starts(&w, "<![CDATA[")) {
			const char *start = w.p + 9;

			w.p = start;
			if (w.depth == 0 || skip_past(&w, "]]>") < 0)
				goto bad;
			text_add(&w, start, (size_t)(w.p - 3 - start));
		} else if (starts(&w, "<!"))
			r = skip_past(&w, ">");
		else if (starts(&w, "</")) {
			r = end_tag(&w, fn, ctx);
			if (r > 0)
				goto out;
			if (w.depth == 0)
				seen_root = 1;
		} else {
			if (seen_root && w.depth == 0)
				goto bad;
			w.p++;
			r = open_element(&w, fn, ctx);
			if (r > 0)
				goto out;
			if (w.depth == 0)
				seen_root = 1;
		}
		if (r < 0)
			goto bad;
	}
	if (w.depth != 0 || !seen_root)
		goto bad;
	goto out;
bad:
	rc = BERTH_E_INVALID;
out:
	free(w.text);
	return rc;
}

static void copy_text(char *out, size_t cap, const char *text, size_t len)
{
	if (cap == 0)
		return;
	if (len >= cap)
		len = cap - 1;
	memcpy(out, text, len);
	out[len] = '\0';
}

struct text_find {
	const char *root, *leaf;
	char *out;
	size_t cap;
	int found;
};

static int text_cb(void *ctx, const char *const *path, int depth, const char *text, size_t len)
{
	struct text_find *f = ctx;

	if (depth == 2 && strcmp(path[0], f->root) == 0 && strcmp(path[1], f->leaf) == 0) {
		copy_text(f->out, f->cap, text, len);
		f->found = 1;
		return 1;
	}
	return 0;
}

/* The text of <root><leaf>; BERTH_E_NOT_FOUND when the document has none. */
int s3_xml_text(const char *xml, size_t len, const char *root, const char *leaf, char *out,
		size_t cap)
{
	struct text_find f = {root, leaf, out, cap, 0};
	int rc = s3_xml_walk(xml, len, text_cb, &f);

	if (f.found)
		return 0;
	return rc ? rc : BERTH_E_NOT_FOUND;
}

static int error_cb(void *ctx, const char *const *path, int depth, const char *text, size_t len)
{
	struct s3_xml_error *e = ctx;

	if (depth != 2 || strcmp(path[0], "Error") != 0)
		return 0;
	if (strcmp(path[1], "Code") == 0)
		copy_text(e->code, sizeof(e->code), text, len);
	else if (strcmp(path[1], "Message") == 0)
		copy_text(e->message, sizeof(e->message), text, len);
	return 0;
}

/* Code and Message of an <Error> document; BERTH_E_NOT_FOUND when it is not one. */
int s3_xml_error(const char *xml, size_t len, struct s3_xml_error *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = s3_xml_walk(xml, len, error_cb, out);
	if (out->code[0])
		return 0;
	return rc ? rc : BERTH_E_NOT_FOUND;
}

struct list_walk {
	struct s3_list_page *page;
	char key[1024];
	uint64_t size;
	int64_t mtime_ms;
	int key_over;
};

static uint64_t parse_u64(const char *s, size_t len)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return UINT64_MAX;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v;
}

static int list_cb(void *ctx, const char *const *path, int depth, const char *text, size_t len)
{
	struct list_walk *l = ctx;
	struct s3_list_page *pg = l->page;

	if (depth < 2 || strcmp(path[0], "ListBucketResult") != 0)
		return 0;
	if (depth == 2) {
		if (strcmp(path[1], "IsTruncated") == 0)
			pg->truncated = len == 4 && memcmp(text, "true", 4) == 0;
		else if (strcmp(path[1], "NextContinuationToken") == 0)
			copy_text(pg->next_token, sizeof(pg->next_token), text, len);
		else if (strcmp(path[1], "Contents") == 0 || strcmp(path[1], "CommonPrefixes") == 0) {
			int prefix = strcmp(path[1], "CommonPrefixes") == 0;

			if (l->key[0] && !l->key_over &&
			    pg->entry(pg->ctx, l->key, prefix, l->size, l->mtime_ms)) {
				pg->stopped = 1;
				return 1;
			}
			l->key[0] = '\0';
			l->size = 0;
			l->mtime_ms = 0;
			l->key_over = 0;
		}
		return 0;
	}
	if (depth == 3 && (strcmp(path[2], "Key") == 0 || strcmp(path[2], "Prefix") == 0)) {
		/* A key too long for us is not one Berth wrote: skip it whole. */
		l->key_over = len >= sizeof(l->key) || memchr(text, '\0', len) != NULL;
		copy_text(l->key, sizeof(l->key), text, len);
	} else if (depth == 3 && strcmp(path[2], "Size") == 0) {
		l->size = parse_u64(text, len);
	} else if (depth == 3 && strcmp(path[2], "LastModified") == 0 && len < 64) {
		char when[64];

		copy_text(when, sizeof(when), text, len);
		l->mtime_ms = s3_parse_iso_date(when);
	}
	return 0;
}

/* One page of ListObjectsV2: entries through page->entry, then truncation and token. */
int s3_xml_list(const char *xml, size_t len, struct s3_list_page *page)
{
	struct list_walk *l = calloc(1, sizeof(*l));
	int rc;

	if (!l)
		return BERTH_E_NOMEM;
	l->page = page;
	page->truncated = 0;
	page->stopped = 0;
	page->next_token[0] = '\0';
	rc = s3_xml_walk(xml, len, list_cb, l);
	free(l);
	if (rc == 0 && page->truncated && !page->next_token[0] && !page->stopped)
		return BERTH_E_INVALID;
	return rc;
}

/* AWS quotes ETags, RGW's copy answers do not: keep the bare value. */
void s3_etag_unquote(char *etag)
{
	size_t n = strlen(etag);

	if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
		memmove(etag, etag + 1, n - 2);
		etag[n - 2] = '\0';
	}
}

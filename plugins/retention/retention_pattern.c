/*
 * retention_pattern.c - the patterns that select repositories and tags:
 * globs (`*` within a path segment, `**` across segments, `?`) and POSIX
 * extended regular expressions written "re:<ERE>".
 *
 * Globs are matched with a table over (pattern token, name position), so a
 * pattern full of stars costs O(pattern x name), never backtracking.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retention.h"

/* Names longer than this match nothing (repositories are at most 255 bytes). */
#define NAME_MAX_BYTES 511
#define PATTERN_MAX_BYTES 1024
#define REGEX_PREFIX "re:"

int retention_fail(berth_error *err, int code, const char *fmt, ...)
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

enum glob_token {
	GLOB_STAR,          /* any run of characters other than '/' */
	GLOB_DSTAR,         /* any run of characters */
	GLOB_DSTAR_SLASH,   /* "**\/": nothing, or any run of characters ending in '/' */
	GLOB_ONE,           /* one character other than '/' */
	GLOB_LITERAL
};

/* The next token of the glob at *p; advances *p. */
static int glob_next(const char **p, char *literal)
{
	const char *s = *p;

	if (s[0] == '*' && s[1] == '*') {
		if (s[2] == '/') {
			*p = s + 3;
			return GLOB_DSTAR_SLASH;
		}
		*p = s + 2;
		return GLOB_DSTAR;
	}
	*p = s + 1;
	if (s[0] == '*')
		return GLOB_STAR;
	if (s[0] == '?')
		return GLOB_ONE;
	*literal = s[0];
	return GLOB_LITERAL;
}

int retention_glob_match(const char *glob, const char *name)
{
	/* cur[j]: the tokens read so far match name[0..j). */
	unsigned char a[NAME_MAX_BYTES + 2], b[NAME_MAX_BYTES + 2];
	unsigned char *cur = a, *next = b, *swap;
	size_t n = strlen(name), j;
	const char *p = glob;

	if (n > NAME_MAX_BYTES)
		return 0;
	memset(cur, 0, n + 1);
	cur[0] = 1;
	while (*p) {
		char lit = 0;
		int tok = glob_next(&p, &lit), any = 0, alive = 0;

		for (j = 0; j <= n; j++) {
			unsigned char v = 0;

			switch (tok) {
			case GLOB_LITERAL:
				v = j > 0 && cur[j - 1] && name[j - 1] == lit;
				break;
			case GLOB_ONE:
				v = j > 0 && cur[j - 1] && name[j - 1] != '/';
				break;
			case GLOB_STAR:
				v = cur[j] || (j > 0 && next[j - 1] && name[j - 1] != '/');
				break;
			case GLOB_DSTAR:
				v = cur[j] || (j > 0 && next[j - 1]);
				break;
			case GLOB_DSTAR_SLASH:
				/* any: some cur[k] with k < j */
				v = cur[j] || (j > 0 && any && name[j - 1] == '/');
				any |= cur[j];
				break;
			}
			next[j] = v;
			alive |= v;
		}
		if (!alive)
			return 0;
		swap = cur;
		cur = next;
		next = swap;
	}
	return cur[n];
}

static int pattern_compile(struct retention_pattern *p, const char *text, berth_error *err)
{
	char msg[160];
	char *anchored = NULL;
	size_t len;
	int rc;

	memset(p, 0, sizeof(*p));
	if (!text || !*text)
		return retention_fail(err, BERTH_E_CONFIG, "empty pattern");
	len = strlen(text);
	if (len > PATTERN_MAX_BYTES)
		return retention_fail(err, BERTH_E_CONFIG, "pattern of %zu bytes is over the %d allowed",
				      len, PATTERN_MAX_BYTES);
	p->text = strdup(text);
	if (!p->text)
		return retention_fail(err, BERTH_E_NOMEM, "out of memory");
	if (strncmp(text, REGEX_PREFIX, strlen(REGEX_PREFIX)) != 0)
		return 0;
	text += strlen(REGEX_PREFIX);
	if (!*text) {
		rc = retention_fail(err, BERTH_E_CONFIG, "pattern '%s' has an empty regular expression",
				    p->text);
		goto fail;
	}
	/* The expression must match the whole name, as a glob does. */
	anchored = malloc(strlen(text) + 5);
	if (!anchored) {
		rc = retention_fail(err, BERTH_E_NOMEM, "out of memory");
		goto fail;
	}
	sprintf(anchored, "^(%s)$", text);
	rc = regcomp(&p->re, anchored, REG_EXTENDED | REG_NOSUB);
	free(anchored);
	if (rc != 0) {
		regerror(rc, &p->re, msg, sizeof(msg));
		rc = retention_fail(err, BERTH_E_CONFIG, "invalid regular expression '%s': %s", text,
				    msg);
		goto fail;
	}
	p->is_regex = 1;
	return 0;
fail:
	free(p->text);
	p->text = NULL;
	return rc;
}

static int pattern_match(const struct retention_pattern *p, const char *name)
{
	if (p->is_regex)
		return regexec(&p->re, name, 0, NULL, 0) == 0;
	return retention_glob_match(p->text, name);
}

int retention_patterns_add(struct retention_patterns *ps, const char *text, berth_error *err)
{
	struct retention_pattern *v = realloc(ps->v, (ps->n + 1) * sizeof(*v));
	int rc;

	if (!v)
		return retention_fail(err, BERTH_E_NOMEM, "out of memory");
	ps->v = v;
	rc = pattern_compile(&v[ps->n], text, err);
	if (rc < 0)
		return rc;
	ps->n++;
	return 0;
}

const struct retention_pattern *retention_patterns_match(const struct retention_patterns *ps,
							 const char *name)
{
	for (size_t i = 0; i < ps->n; i++)
		if (pattern_match(&ps->v[i], name))
			return &ps->v[i];
	return NULL;
}

void retention_patterns_free(struct retention_patterns *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		if (ps->v[i].is_regex)
			regfree(&ps->v[i].re);
		free(ps->v[i].text);
	}
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

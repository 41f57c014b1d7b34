#include "name_list.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "storage.h"

int name_list_add(name_list *l, const char *name)
{
	char *copy;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **nv = realloc(l->v, cap * sizeof(*nv));
		if (!nv)
			goto fail;
		l->v = nv;
		l->cap = cap;
	}
	copy = strdup(name);
	if (!copy)
		goto fail;
	l->v[l->n++] = copy;
	return 0;
fail:
	l->failed = 1;
	return -1;
}

static int by_bytes(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void name_list_sort(name_list *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), by_bytes);
}

void name_list_free(name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int name_list_collect_dirs(void *ctx, const char *name, int is_dir)
{
	return is_dir ? (name_list_add(ctx, name) < 0) : 0;
}

int name_list_collect_files(void *ctx, const char *name, int is_dir)
{
	return is_dir ? 0 : (name_list_add(ctx, name) < 0);
}

void name_list_dedupe(name_list *l)
{
	size_t kept = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (kept > 0 && strcmp(l->v[kept - 1], l->v[i]) == 0)
			free(l->v[i]);
		else
			l->v[kept++] = l->v[i];
	}
	l->n = kept;
}

size_t name_list_bound(const name_list *l, const char *name, int after)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l->v[mid], name);

		if (c < 0 || (after && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int name_list_has(const name_list *l, const char *name)
{
	size_t at = name_list_bound(l, name, 0);

	return at < l->n && strcmp(l->v[at], name) == 0;
}

int name_list_parse_lines(name_list *out, const char *text, size_t len, size_t max_len,
			  int (*valid)(const char *name))
{
	const char *p = text, *end = text + len;
	char line[NAME_LIST_LINE_MAX + 1];

	if (max_len > NAME_LIST_LINE_MAX)
		max_len = NAME_LIST_LINE_MAX;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (n > 0 && n <= max_len) {
			memcpy(line, p, n);
			line[n] = '\0';
			if (valid(line) && name_list_add(out, line) != 0)
				return BERTH_E_NOMEM;
		}
		p += n + 1;
	}
	name_list_sort(out);
	name_list_dedupe(out);
	return 0;
}

int name_list_write_lines(const char *key, const name_list *l, const char *what,
			  berth_error *err)
{
	size_t len = 0, off = 0;
	char *buf;
	int rc;

	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->v[i]) + 1;
	buf = malloc(len ? len : 1);
	if (!buf)
		return error_set(err, BERTH_E_NOMEM, "out of memory writing %s", what);
	for (size_t i = 0; i < l->n; i++) {
		size_t n = strlen(l->v[i]);

		memcpy(buf + off, l->v[i], n);
		buf[off + n] = '\n';
		off += n + 1;
	}
	rc = storage_write_all(key, buf, len, err);
	free(buf);
	return rc;
}

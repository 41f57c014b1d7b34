#include "name_list.h"

#include <stdlib.h>
#include <string.h>

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

/*
 * retention_names.c - a growing list of names copied out of the host's
 * listing callbacks, whose strings only live for the call.
 */
#include <stdlib.h>
#include <string.h>

#include "retention.h"

int retention_names_add(void *ctx, const char *name)
{
	struct retention_names *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->failed = 1;
			return 1;       /* non-zero stops the listing */
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = strdup(name);
	if (!l->v[l->n]) {
		l->failed = 1;
		return 1;
	}
	l->n++;
	return 0;
}

void retention_names_free(struct retention_names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

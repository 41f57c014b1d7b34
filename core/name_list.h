/*
 * name_list.h - a growable, sortable list of names, filled from storage
 * listings (tags, repositories, referrer entries).
 */
#ifndef BERTH_NAME_LIST_H
#define BERTH_NAME_LIST_H

#include <stddef.h>

#include "berth/error.h"

/* The longest line name_list_parse_lines() keeps (a repository name). */
#define NAME_LIST_LINE_MAX 255

typedef struct name_list {
	char **v;
	size_t n, cap;
	int failed;      /* an allocation failed; the list is incomplete */
} name_list;

int name_list_add(name_list *l, const char *name);
void name_list_sort(name_list *l);
void name_list_free(name_list *l);
/* Drop repeats from a sorted list. */
void name_list_dedupe(name_list *l);
/* In a sorted list, the first position whose name is > name (after = 1) or >= name (after = 0). */
size_t name_list_bound(const name_list *l, const char *name, int after);
/* name is in the sorted list. */
int name_list_has(const name_list *l, const char *name);

/*
 * Index files (the catalog, a repository's tags): one name per line,
 * sorted by bytes. Parsing adds the lines of text that valid() accepts and
 * are at most max_len (<= NAME_LIST_LINE_MAX) bytes, then sorts and drops
 * repeats: a damaged file loses its bad lines, never the good ones.
 * BERTH_E_NOMEM on failure.
 */
int name_list_parse_lines(name_list *out, const char *text, size_t len, size_t max_len,
			  int (*valid)(const char *name));
/* Store the list at key as such a file, replacing it atomically. */
int name_list_write_lines(const char *key, const name_list *l, const char *what,
			  berth_error *err);

/* berth_list_fn callbacks: keep directories / keep files. */
int name_list_collect_dirs(void *ctx, const char *name, int is_dir);
int name_list_collect_files(void *ctx, const char *name, int is_dir);

#endif

/*
 * name_list.h - a growable, sortable list of names, filled from storage
 * listings (tags, repositories, referrer entries).
 */
#ifndef BERTH_NAME_LIST_H
#define BERTH_NAME_LIST_H

#include <stddef.h>

typedef struct name_list {
	char **v;
	size_t n, cap;
	int failed;      /* an allocation failed; the list is incomplete */
} name_list;

int name_list_add(name_list *l, const char *name);
void name_list_sort(name_list *l);
void name_list_free(name_list *l);
/* berth_list_fn callbacks: keep directories / keep files. */
int name_list_collect_dirs(void *ctx, const char *name, int is_dir);
int name_list_collect_files(void *ctx, const char *name, int is_dir);

#endif

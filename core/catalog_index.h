/*
 * catalog_index.h - the sorted list of repositories, kept in storage at
 * _berth/catalog and in memory, so that a catalog page costs neither a
 * walk of the storage nor time proportional to the number of repositories
 * beyond one binary search.
 *
 * A repository enters the index when it first gets content (a manifest, a
 * finished upload, a mount): the in-memory check is a binary search under
 * a read lock; only a new name rewrites the file. A root written by another
 * registry has no index: the first use walks it once and writes one. Nodes
 * sharing a storage see each other's additions through the file's mtime;
 * garbage collection, which walks everything anyway, writes the index from
 * its walk, correcting any addition two nodes raced on.
 */
#ifndef BERTH_CATALOG_INDEX_H
#define BERTH_CATALOG_INDEX_H

#include "berth/error.h"
#include "name_list.h"

/*
 * Names after `last` (all when NULL), in order, for which keep(ctx, name)
 * is 1 (all when keep is NULL), at most `max` of them (no limit when
 * max < 0).
 */
int catalog_index_page(const char *last, long max, int (*keep)(void *ctx, const char *name),
		       void *ctx, name_list *out, berth_error *err);

/* The repository got content: make sure the index has it. */
void catalog_index_note(const char *name);

/* Replace the index with the names a full walk found (sorted). */
int catalog_index_replace(const name_list *walked, berth_error *err);

/* Forget what is in memory (tests, a new storage). */
void catalog_index_reset(void);

#endif

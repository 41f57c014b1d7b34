/*
 * tag_index.h - the sorted list of a repository's tag names, kept in
 * storage at repositories/<name>/_berth/tags and cached in memory, so that
 * a tag-list page costs one stat, one binary search and the page's own
 * lookups, whatever the number of tags.
 *
 * The index may name a tag that does not exist, never miss one that does:
 * a name is added before the tag's current link is written and removed
 * after the tag is deleted, both under the repository lock, and pages check
 * every candidate (core/tags.c). A repository without the file (a root
 * written by Distribution) is walked once, under the repository lock, and
 * gets one. Garbage collection and `fsck --repair` rewrite it from a walk.
 *
 * The cache holds the last TAG_INDEX_CACHED repositories used (memory stays
 * bounded with many repositories) and each use compares the file's mtime
 * and size with what was cached (another node or `berth gc` may have
 * rewritten it): one stat per request instead of reading the file.
 */
#ifndef BERTH_TAG_INDEX_H
#define BERTH_TAG_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "berth/error.h"
#include "name_list.h"

#define TAG_INDEX_CACHED 64

/*
 * Tags of the repository after `last` (all when NULL), in order, for which
 * keep(ctx, tag) is 1 (all when keep is NULL), at most `max` of them (no
 * limit when max < 0). BERTH_E_NOT_FOUND for a repository that does not
 * exist. keep is called without any lock held.
 */
int tag_index_page(const char *name, const char *last, long max,
		   int (*keep)(void *ctx, const char *tag), void *ctx, name_list *out,
		   berth_error *err);

/*
 * The tag is about to be written: make sure the index names it. The caller
 * holds the repository lock; an error means the tag must not be written.
 */
int tag_index_add(const char *name, const char *tag, berth_error *err);

/* The tags were deleted (the caller holds the repository lock). */
void tag_index_remove(const char *name, const name_list *tags);

/*
 * Rewrite the index from a walk of the repository's tags, under the
 * repository lock (gc, fsck --repair); the number of tags into *count.
 * Names the walk did not find are dropped only when the file was last
 * written before `settled_ms` (ms since the epoch): a younger file may hold
 * the name of a tag another process is writing right now, so it is kept.
 */
int tag_index_rebuild(const char *name, int64_t settled_ms, size_t *count, berth_error *err);

/* The names in the index file as it is (no walk): BERTH_E_NOT_FOUND when none. */
int tag_index_read(const char *name, name_list *out, berth_error *err);

/* Forget what is in memory (tests, a new storage). */
void tag_index_reset(void);

#endif

/*
 * manifest_cache.h - the bytes of recently served manifests, by digest.
 *
 * A manifest's bytes are named by their digest, so the bytes a digest names
 * never change: a cached copy can only be wrong once the manifest is gone.
 * The cache therefore never answers "which manifest": a GET still resolves
 * the tag or the revision link in storage on every request (so a push, a
 * tag move, a delete or another node's write is seen at once), and the
 * cache only replaces reading and parsing the manifest's data object.
 * Deletes and garbage collection in this process drop the digests they
 * remove (manifest_cache_forget); another process that deletes a manifest
 * removes the links a GET must pass first (see docs/architecture.md).
 *
 * Bounded: MANIFEST_CACHE_MAX_BYTES in all, entries of at most
 * MANIFEST_CACHE_MAX_ENTRY bytes, least recently used evicted first.
 * Thread-safe: one mutex, held only to look up, copy or link an entry.
 */
#ifndef BERTH_MANIFEST_CACHE_H
#define BERTH_MANIFEST_CACHE_H

#include <stddef.h>

#include "digest.h"

#define MANIFEST_CACHE_MAX_BYTES (4u * 1024 * 1024)
#define MANIFEST_CACHE_MAX_ENTRY (256u * 1024)

/*
 * 1 and a malloc'd copy of the bytes (NUL-terminated, *len without the NUL)
 * with the media type they are served as; 0 when d is not cached (or the
 * copy cannot be allocated).
 */
int manifest_cache_get(const digest *d, char **body, size_t *len, const char **media_type);

/* Remember body as d's bytes; media_type must be a static string. Best effort. */
void manifest_cache_put(const digest *d, const char *body, size_t len, const char *media_type);

/* Drop d (a delete or a collection removed it). */
void manifest_cache_forget(const digest *d);

/* Drop everything; for tests and a collection that cannot say what it removed. */
void manifest_cache_clear(void);

/* Bytes held, entries included; for tests. */
size_t manifest_cache_bytes(void);

#endif

/*
 * trivy_cache.h - what the pull gate knows about manifest digests, kept in
 * memory so a pull reads storage at most once per digest and TTL.
 *
 * An entry is a digest's gate index (gate.json, parsed) or the fact that
 * the digest has no report. Entries are immutable and reference-counted:
 * the gate takes one, decides without any lock held, and releases it.
 * The cache is bounded (least recently used entries go first) and entries
 * expire after the TTL, which is how imports made by other nodes on the
 * same storage become visible. An import on this node invalidates its
 * digest at once; a generation counter makes sure a load that raced with
 * that import cannot put the old answer back.
 */
#ifndef TRIVY_CACHE_H
#define TRIVY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "trivy_policy.h"

typedef struct trivy_gate_index {
	int scanned;               /* a report exists */
	trivy_gate_entry *entries; /* sorted worst first, as in gate.json */
	size_t n;
	/* private */
	int refs;
	char *strings;
} trivy_gate_index;

typedef struct trivy_cache trivy_cache;

/* capacity: most entries; ttl_ms: how long an entry is trusted (0: never cached). */
trivy_cache *trivy_cache_new(size_t capacity, int64_t ttl_ms);
void trivy_cache_free(trivy_cache *c);

/* A reference to the entry for digest, or NULL when absent or expired. */
trivy_gate_index *trivy_cache_get(trivy_cache *c, const char *digest, int64_t now_ms);
/* The generation to pass to trivy_cache_put after loading from storage. */
uint64_t trivy_cache_generation(trivy_cache *c);
/* Keep idx (the cache takes its own reference) unless an invalidation happened since gen. */
void trivy_cache_put(trivy_cache *c, const char *digest, trivy_gate_index *idx, uint64_t gen,
		     int64_t now_ms);
void trivy_cache_invalidate(trivy_cache *c, const char *digest);
size_t trivy_cache_size(trivy_cache *c);

/* An index from gate.json text (NULL text: no report). NULL when malformed or on OOM. */
trivy_gate_index *trivy_gate_index_parse(const char *json, size_t len);
trivy_gate_index *trivy_gate_index_ref(trivy_gate_index *idx);
void trivy_gate_index_release(trivy_gate_index *idx);

#endif /* TRIVY_CACHE_H */

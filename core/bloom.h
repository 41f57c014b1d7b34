/*
 * bloom.h - a Bloom filter of digests: garbage collection's mark set.
 *
 * Its memory is fixed up front, whatever the number of blobs. A false
 * positive only keeps a garbage blob until a later run (each run draws a
 * new seed, so it is not the same blob every time); a false negative
 * cannot happen, so nothing marked is ever swept.
 */
#ifndef BERTH_BLOOM_H
#define BERTH_BLOOM_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"

typedef struct bloom {
	uint64_t *bits;
	uint64_t m;        /* bits */
	unsigned k;        /* probes per digest */
	uint64_t seed;
	uint64_t added;
} bloom;

/* A filter of `bytes` of memory (at least 1 KiB); BERTH_E_NOMEM on failure. */
int bloom_init(bloom *b, size_t bytes, uint64_t seed);
void bloom_free(bloom *b);
void bloom_add(bloom *b, const digest *d);
int bloom_maybe_has(const bloom *b, const digest *d);
/* The chance that an unmarked digest answers "maybe", with what was added. */
double bloom_false_positive_rate(const bloom *b);

#endif

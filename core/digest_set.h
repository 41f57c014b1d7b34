/*
 * digest_set.h - an exact set of digests (open addressing, grows as
 * needed). Used where a false answer would lose data: garbage collection's
 * per-repository references and its write barrier.
 */
#ifndef BERTH_DIGEST_SET_H
#define BERTH_DIGEST_SET_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"

/* A digest as raw bytes: algorithm, length, up to 64 bytes. */
typedef struct digest_key {
	uint8_t alg, len;
	uint8_t bytes[64];
} digest_key;

typedef struct digest_set {
	digest_key *slots;
	uint8_t *used;
	size_t cap, n;
} digest_set;

/* The raw form of d; 0, or -1 when the hex is malformed. */
int digest_key_of(const digest *d, digest_key *out);

/* 0 on success (also when already there), BERTH_E_NOMEM when it cannot grow. */
int digest_set_add(digest_set *s, const digest *d);
int digest_set_has(const digest_set *s, const digest *d);
void digest_set_clear(digest_set *s);
/* Bytes the set holds, for reports. */
size_t digest_set_bytes(const digest_set *s);

#endif

/*
 * bloom.c - k probes by double hashing over the digest's own bytes, mixed
 * with the run's seed (digests are uniform, the seed makes each run's
 * false positives different).
 */
#include "bloom.h"

#include <stdlib.h>
#include <string.h>

#include "berth/error.h"
#include "digest_set.h"

#define BLOOM_K 7

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

int bloom_init(bloom *b, size_t bytes, uint64_t seed)
{
	memset(b, 0, sizeof(*b));
	if (bytes < 1024)
		bytes = 1024;
	bytes -= bytes % sizeof(uint64_t);
	b->bits = calloc(bytes / sizeof(uint64_t), sizeof(uint64_t));
	if (!b->bits)
		return BERTH_E_NOMEM;
	b->m = (uint64_t)bytes * 8;
	b->k = BLOOM_K;
	b->seed = seed;
	return 0;
}

void bloom_free(bloom *b)
{
	free(b->bits);
	memset(b, 0, sizeof(*b));
}

static int hashes(const bloom *b, const digest *d, uint64_t *h1, uint64_t *h2)
{
	digest_key k;
	uint64_t a, c;

	if (digest_key_of(d, &k) != 0)
		return -1;
	memcpy(&a, k.bytes, sizeof(a));
	memcpy(&c, k.bytes + 8, sizeof(c));
	*h1 = mix(a ^ b->seed ^ k.alg);
	*h2 = mix(c ^ (b->seed * 31)) | 1;
	return 0;
}

void bloom_add(bloom *b, const digest *d)
{
	uint64_t h1, h2;

	if (hashes(b, d, &h1, &h2) != 0)
		return;
	for (unsigned i = 0; i < b->k; i++) {
		uint64_t bit = (h1 + i * h2) % b->m;
		b->bits[bit / 64] |= 1ull << (bit % 64);
	}
	b->added++;
}

int bloom_maybe_has(const bloom *b, const digest *d)
{
	uint64_t h1, h2;

	/* What cannot be hashed is kept: never sweep on doubt. */
	if (hashes(b, d, &h1, &h2) != 0)
		return 1;
	for (unsigned i = 0; i < b->k; i++) {
		uint64_t bit = (h1 + i * h2) % b->m;
		if (!(b->bits[bit / 64] & (1ull << (bit % 64))))
			return 0;
	}
	return 1;
}

/* x to the power n by squaring: the rate needs no libm, which would cost
 * every server process its pages for the one `berth gc` report. */
static double power(double x, uint64_t n)
{
	double r = 1.0;

	while (n) {
		if (n & 1)
			r *= x;
		x *= x;
		n >>= 1;
	}
	return r;
}

/*
 * (1 - (1 - 1/m)^(k n))^k: a bit stays clear after k n uniform probes with
 * chance (1 - 1/m)^(k n), and an unmarked digest passes if all its k bits
 * are set. The textbook (1 - e^(-k n / m))^k approximates the same.
 */
double bloom_false_positive_rate(const bloom *b)
{
	if (!b->m)
		return 1.0;
	return power(1.0 - power(1.0 - 1.0 / (double)b->m, (uint64_t)b->k * b->added), b->k);
}

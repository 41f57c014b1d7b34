/*
 * digest_set.c - open addressing with linear probing over raw digests.
 * Digests are uniformly distributed already, so their first bytes are the
 * hash.
 */
#include "digest_set.h"

#include <stdlib.h>
#include <string.h>

#include "berth/error.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int digest_key_of(const digest *d, digest_key *out)
{
	size_t n = strlen(d->hex);

	if (n % 2 || n / 2 > sizeof(out->bytes) || n < 16)
		return -1;
	memset(out, 0, sizeof(*out));
	out->alg = (uint8_t)d->alg;
	out->len = (uint8_t)(n / 2);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(d->hex[2 * i]), lo = hexval(d->hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out->bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static uint64_t hash_of(const digest_key *k)
{
	uint64_t h;

	memcpy(&h, k->bytes, sizeof(h));
	return h ^ k->alg;
}

static int same(const digest_key *a, const digest_key *b)
{
	return a->alg == b->alg && a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* The slot holding k, or the empty slot where it would go. */
static size_t probe(const digest_set *s, const digest_key *k)
{
	size_t i = (size_t)(hash_of(k) & (s->cap - 1));

	while (s->used[i] && !same(&s->slots[i], k))
		i = (i + 1) & (s->cap - 1);
	return i;
}

static int grow(digest_set *s)
{
	digest_set bigger = {0};

	bigger.cap = s->cap ? s->cap * 2 : 64;
	bigger.slots = malloc(bigger.cap * sizeof(*bigger.slots));
	bigger.used = calloc(bigger.cap, 1);
	if (!bigger.slots || !bigger.used) {
		free(bigger.slots);
		free(bigger.used);
		return BERTH_E_NOMEM;
	}
	for (size_t i = 0; i < s->cap; i++) {
		if (!s->used[i])
			continue;
		size_t j = probe(&bigger, &s->slots[i]);
		bigger.slots[j] = s->slots[i];
		bigger.used[j] = 1;
		bigger.n++;
	}
	free(s->slots);
	free(s->used);
	*s = bigger;
	return 0;
}

int digest_set_add(digest_set *s, const digest *d)
{
	digest_key k;
	size_t i;

	if (digest_key_of(d, &k) != 0)
		return BERTH_E_INVALID;
	if ((s->n + 1) * 2 > s->cap && grow(s) != 0)
		return BERTH_E_NOMEM;
	i = probe(s, &k);
	if (!s->used[i]) {
		s->slots[i] = k;
		s->used[i] = 1;
		s->n++;
	}
	return 0;
}

int digest_set_has(const digest_set *s, const digest *d)
{
	digest_key k;

	if (s->cap == 0 || digest_key_of(d, &k) != 0)
		return 0;
	return s->used[probe(s, &k)];
}

void digest_set_clear(digest_set *s)
{
	free(s->slots);
	free(s->used);
	memset(s, 0, sizeof(*s));
}

size_t digest_set_bytes(const digest_set *s)
{
	return s->cap * (sizeof(*s->slots) + 1);
}

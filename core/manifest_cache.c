/*
 * manifest_cache.c - the bytes of recently served manifests, by digest
 * (manifest_cache.h says why caching by digest is safe).
 *
 * A hash table of chains for lookup and one doubly linked list in use
 * order for eviction; an entry carries its bytes in the same allocation.
 */
#include "manifest_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024 /* a power of two */

typedef struct cache_entry {
	struct cache_entry *chain;      /* next in the bucket */
	struct cache_entry *newer, *older;
	digest d;
	const char *media_type;
	size_t len;
	char body[];                    /* len bytes and a NUL */
} cache_entry;

static struct {
	pthread_mutex_t lock;
	cache_entry *buckets[BUCKETS];
	cache_entry *newest, *oldest;
	size_t bytes;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t entry_size(size_t len)
{
	return sizeof(cache_entry) + len + 1;
}

/* Digests are hashes: their leading hex digits are already well spread. */
static size_t bucket_of(const digest *d)
{
	size_t h = (size_t)d->alg;

	for (int i = 0; i < 8 && d->hex[i]; i++) {
		char c = d->hex[i];
		h = h * 16 + (size_t)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	return h & (BUCKETS - 1);
}

static cache_entry **find_slot(const digest *d)
{
	cache_entry **p = &cache.buckets[bucket_of(d)];

	while (*p && !digest_equal(&(*p)->d, d))
		p = &(*p)->chain;
	return p;
}

static void lru_unlink(cache_entry *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		cache.newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		cache.oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_push_newest(cache_entry *e)
{
	e->newer = NULL;
	e->older = cache.newest;
	if (cache.newest)
		cache.newest->newer = e;
	cache.newest = e;
	if (!cache.oldest)
		cache.oldest = e;
}

/* Unlink the entry *slot points at from both structures and free it. */
static void remove_at(cache_entry **slot)
{
	cache_entry *e = *slot;

	*slot = e->chain;
	lru_unlink(e);
	cache.bytes -= entry_size(e->len);
	free(e);
}

int manifest_cache_get(const digest *d, char **body, size_t *len, const char **media_type)
{
	cache_entry *e;
	int hit = 0;

	pthread_mutex_lock(&cache.lock);
	e = *find_slot(d);
	if (!e)
		goto out;
	*body = malloc(e->len + 1);
	if (!*body)
		goto out;
	memcpy(*body, e->body, e->len + 1);
	*len = e->len;
	*media_type = e->media_type;
	lru_unlink(e);
	lru_push_newest(e);
	hit = 1;
out:
	pthread_mutex_unlock(&cache.lock);
	return hit;
}

void manifest_cache_put(const digest *d, const char *body, size_t len, const char *media_type)
{
	cache_entry *e, **slot;

	if (len > MANIFEST_CACHE_MAX_ENTRY)
		return;
	/* Allocated and filled outside the lock; dropped if another thread won. */
	e = malloc(entry_size(len));
	if (!e)
		return;
	*e = (cache_entry){.d = *d, .media_type = media_type, .len = len};
	memcpy(e->body, body, len);
	e->body[len] = '\0';

	pthread_mutex_lock(&cache.lock);
	slot = find_slot(d);
	if (*slot) {
		pthread_mutex_unlock(&cache.lock);
		free(e);
		return;
	}
	while (cache.oldest && cache.bytes + entry_size(len) > MANIFEST_CACHE_MAX_BYTES) {
		cache_entry **victim = find_slot(&cache.oldest->d);
		remove_at(victim);
	}
	/* Eviction may have emptied the chain *slot pointed into. */
	slot = find_slot(d);
	*slot = e;
	lru_push_newest(e);
	cache.bytes += entry_size(len);
	pthread_mutex_unlock(&cache.lock);
}

void manifest_cache_forget(const digest *d)
{
	cache_entry **slot;

	pthread_mutex_lock(&cache.lock);
	slot = find_slot(d);
	if (*slot)
		remove_at(slot);
	pthread_mutex_unlock(&cache.lock);
}

void manifest_cache_clear(void)
{
	pthread_mutex_lock(&cache.lock);
	while (cache.oldest)
		remove_at(find_slot(&cache.oldest->d));
	pthread_mutex_unlock(&cache.lock);
}

size_t manifest_cache_bytes(void)
{
	size_t n;

	pthread_mutex_lock(&cache.lock);
	n = cache.bytes;
	pthread_mutex_unlock(&cache.lock);
	return n;
}

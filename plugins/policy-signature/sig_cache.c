/*
 * sig_cache.c - verdicts kept in memory, so a hot image is verified once.
 *
 * An entry is keyed by policy, repository, digest (and tag when the
 * identity depends on it) and remembers the signature set it was computed
 * from: the digest the `.sig` tag named and a stamp of the referrers. A
 * lookup with another set misses, so a new signature, a moved `.sig` tag
 * or a new referrer is seen on the next pull. Bounded: least recently used
 * entries go first. One mutex; verification itself runs outside it.
 */
#include <stdlib.h>
#include <string.h>

#include "sig.h"

typedef struct entry {
	char *key;
	sig_cache_key_state st;
	sig_verdict v;
	struct entry *hnext;           /* hash chain */
	struct entry *prev, *next;     /* LRU list, most recent first */
} entry;

struct sig_cache {
	pthread_mutex_t lock;
	entry **buckets;
	size_t n_buckets, n, capacity;
	entry *head, *tail;
	uint64_t hits, misses;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

sig_cache *sig_cache_new(size_t capacity)
{
	sig_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->capacity = capacity;
	c->n_buckets = 64;
	while (c->n_buckets < capacity && c->n_buckets < (1u << 20))
		c->n_buckets <<= 1;
	c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
	if (!c->buckets || pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c->buckets);
		free(c);
		return NULL;
	}
	return c;
}

void sig_cache_free(sig_cache *c)
{
	entry *e, *next;

	if (!c)
		return;
	for (e = c->head; e; e = next) {
		next = e->next;
		free(e->key);
		free(e);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->buckets);
	free(c);
}

static void unlink_lru(sig_cache *c, entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void push_front(sig_cache *c, entry *e)
{
	e->next = c->head;
	e->prev = NULL;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static entry **slot_of(sig_cache *c, const char *key)
{
	entry **s = &c->buckets[hash(key) & (c->n_buckets - 1)];

	while (*s && strcmp((*s)->key, key) != 0)
		s = &(*s)->hnext;
	return s;
}

static void evict(sig_cache *c, entry *e)
{
	entry **s = slot_of(c, e->key);

	*s = e->hnext;
	unlink_lru(c, e);
	free(e->key);
	free(e);
	c->n--;
}

static int same_state(const sig_cache_key_state *a, const sig_cache_key_state *b)
{
	return strcmp(a->sig_manifest, b->sig_manifest) == 0 && a->used_graph == b->used_graph &&
	       (!a->used_graph || a->graph_stamp == b->graph_stamp);
}

int sig_cache_get(sig_cache *c, const char *key, const sig_cache_key_state *st, sig_verdict *v)
{
	entry *e;
	int found = 0;

	pthread_mutex_lock(&c->lock);
	e = *slot_of(c, key);
	if (e && same_state(&e->st, st)) {
		*v = e->v;
		unlink_lru(c, e);
		push_front(c, e);
		found = 1;
		c->hits++;
	} else {
		c->misses++;
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

void sig_cache_put(sig_cache *c, const char *key, const sig_cache_key_state *st,
		   const sig_verdict *v)
{
	entry *e;

	pthread_mutex_lock(&c->lock);
	e = *slot_of(c, key);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e || !(e->key = strdup(key))) {
			free(e);
			goto out;
		}
		if (c->n >= c->capacity && c->tail)
			evict(c, c->tail);
		e->hnext = c->buckets[hash(key) & (c->n_buckets - 1)];
		c->buckets[hash(key) & (c->n_buckets - 1)] = e;
		c->n++;
	} else {
		unlink_lru(c, e);
	}
	e->st = *st;
	e->v = *v;
	push_front(c, e);
out:
	pthread_mutex_unlock(&c->lock);
}

void sig_cache_counts(sig_cache *c, uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&c->lock);
	*hits = c->hits;
	*misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}

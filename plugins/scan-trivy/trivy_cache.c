/*
 * trivy_cache.c - the gate's bounded, expiring cache (see trivy_cache.h):
 * a hash table of digests with a doubly linked list in recency order,
 * under one mutex held only for pointer work.
 */
#include "trivy_cache.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
	char *digest;
	trivy_gate_index *idx;
	int64_t loaded_ms;
	struct node *hnext;        /* hash chain */
	struct node *prev, *next;  /* recency: head is the most recent */
} node;

struct trivy_cache {
	pthread_mutex_t lock;
	node **buckets;
	size_t n_buckets, n, capacity;
	node *head, *tail;
	int64_t ttl_ms;
	uint64_t generation;
};

/* ------------------------------------------------------------------------ */
/* Gate indexes                                                             */
/* ------------------------------------------------------------------------ */

trivy_gate_index *trivy_gate_index_ref(trivy_gate_index *idx)
{
	if (idx)
		__atomic_add_fetch(&idx->refs, 1, __ATOMIC_RELAXED);
	return idx;
}

void trivy_gate_index_release(trivy_gate_index *idx)
{
	if (!idx || __atomic_sub_fetch(&idx->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	free(idx->entries);
	free(idx->strings);
	free(idx);
}

static int entry_order(const void *a, const void *b)
{
	const trivy_gate_entry *x = a, *y = b;
	int c;

	if (x->severity != y->severity)
		return y->severity - x->severity;
	if ((c = strcmp(x->id, y->id)))
		return c;
	return y->fixable - x->fixable;
}

trivy_gate_index *trivy_gate_index_parse(const char *text, size_t len)
{
	trivy_gate_index *idx = calloc(1, sizeof(*idx));
	json_t *doc = NULL, *entries, *e;
	size_t i, bytes = 0, off = 0;

	if (!idx)
		return NULL;
	idx->refs = 1;
	if (!text)
		return idx;
	idx->scanned = 1;
	doc = json_loadb(text, len, 0, NULL);
	entries = json_object_get(doc, "entries");
	if (!json_is_array(entries))
		goto bad;
	json_array_foreach(entries, i, e) {
		const char *id = json_string_value(json_array_get(e, 0));
		if (!id || !json_is_integer(json_array_get(e, 1)))
			goto bad;
		bytes += strlen(id) + 1;
	}
	idx->n = json_array_size(entries);
	idx->entries = calloc(idx->n ? idx->n : 1, sizeof(*idx->entries));
	idx->strings = malloc(bytes ? bytes : 1);
	if (!idx->entries || !idx->strings)
		goto bad;
	json_array_foreach(entries, i, e) {
		const char *id = json_string_value(json_array_get(e, 0));
		json_int_t sev = json_integer_value(json_array_get(e, 1));
		size_t l = strlen(id) + 1;

		memcpy(idx->strings + off, id, l);
		idx->entries[i].id = idx->strings + off;
		idx->entries[i].severity = sev < 0 || sev >= TRIVY_SEV_COUNT ? TRIVY_SEV_UNKNOWN
									   : (int)sev;
		idx->entries[i].fixable = json_is_true(json_array_get(e, 2));
		off += l;
	}
	/* The decision relies on this order; do not trust the stored file for it. */
	qsort(idx->entries, idx->n, sizeof(*idx->entries), entry_order);
	json_decref(doc);
	return idx;
bad:
	json_decref(doc);
	trivy_gate_index_release(idx);
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* The cache                                                                */
/* ------------------------------------------------------------------------ */

static uint64_t hash(const char *s)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(1099511628211);
	}
	return h;
}

trivy_cache *trivy_cache_new(size_t capacity, int64_t ttl_ms)
{
	trivy_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->capacity = capacity ? capacity : 1;
	c->ttl_ms = ttl_ms;
	c->n_buckets = 16;
	while (c->n_buckets < c->capacity * 2)
		c->n_buckets *= 2;
	c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
	if (!c->buckets || pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c->buckets);
		free(c);
		return NULL;
	}
	return c;
}

static void unlink_node(trivy_cache *c, node *n)
{
	node **pp = &c->buckets[hash(n->digest) & (c->n_buckets - 1)];

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	if (n->prev)
		n->prev->next = n->next;
	else
		c->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		c->tail = n->prev;
	c->n--;
}

static void free_node(node *n)
{
	trivy_gate_index_release(n->idx);
	free(n->digest);
	free(n);
}

void trivy_cache_free(trivy_cache *c)
{
	node *n, *next;

	if (!c)
		return;
	for (n = c->head; n; n = next) {
		next = n->next;
		free_node(n);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->buckets);
	free(c);
}

static node *find(trivy_cache *c, const char *digest)
{
	node *n = c->buckets[hash(digest) & (c->n_buckets - 1)];

	while (n && strcmp(n->digest, digest) != 0)
		n = n->hnext;
	return n;
}

static void push_front(trivy_cache *c, node *n)
{
	n->prev = NULL;
	n->next = c->head;
	if (c->head)
		c->head->prev = n;
	c->head = n;
	if (!c->tail)
		c->tail = n;
}

trivy_gate_index *trivy_cache_get(trivy_cache *c, const char *digest, int64_t now_ms)
{
	trivy_gate_index *idx = NULL;
	node *n, *stale = NULL;

	pthread_mutex_lock(&c->lock);
	n = find(c, digest);
	if (n && now_ms - n->loaded_ms >= c->ttl_ms) {
		unlink_node(c, n);
		stale = n;
	} else if (n) {
		if (c->head != n) {
			/* Move to the front: it was just used. */
			n->prev->next = n->next;
			if (n->next)
				n->next->prev = n->prev;
			else
				c->tail = n->prev;
			push_front(c, n);
		}
		idx = trivy_gate_index_ref(n->idx);
	}
	pthread_mutex_unlock(&c->lock);
	if (stale)
		free_node(stale);
	return idx;
}

uint64_t trivy_cache_generation(trivy_cache *c)
{
	uint64_t g;

	pthread_mutex_lock(&c->lock);
	g = c->generation;
	pthread_mutex_unlock(&c->lock);
	return g;
}

void trivy_cache_put(trivy_cache *c, const char *digest, trivy_gate_index *idx, uint64_t gen,
		     int64_t now_ms)
{
	node *n, *old = NULL, *evicted = NULL;

	if (c->ttl_ms <= 0)
		return;
	n = calloc(1, sizeof(*n));
	if (n)
		n->digest = strdup(digest);
	if (!n || !n->digest) {
		if (n)
			free(n);
		return;
	}
	n->idx = trivy_gate_index_ref(idx);
	n->loaded_ms = now_ms;
	pthread_mutex_lock(&c->lock);
	if (gen != c->generation) {
		/* An import changed some digest while this was read from storage. */
		pthread_mutex_unlock(&c->lock);
		free_node(n);
		return;
	}
	old = find(c, digest);
	if (old)
		unlink_node(c, old);
	if (c->n >= c->capacity) {
		evicted = c->tail;
		unlink_node(c, evicted);
	}
	n->hnext = c->buckets[hash(digest) & (c->n_buckets - 1)];
	c->buckets[hash(digest) & (c->n_buckets - 1)] = n;
	push_front(c, n);
	c->n++;
	pthread_mutex_unlock(&c->lock);
	if (old)
		free_node(old);
	if (evicted)
		free_node(evicted);
}

void trivy_cache_invalidate(trivy_cache *c, const char *digest)
{
	node *n;

	pthread_mutex_lock(&c->lock);
	c->generation++;
	n = find(c, digest);
	if (n)
		unlink_node(c, n);
	pthread_mutex_unlock(&c->lock);
	if (n)
		free_node(n);
}

size_t trivy_cache_size(trivy_cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/*
 * trivy_arena.c - the bump allocator of trivy_arena.h.
 */
#include "trivy_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_SIZE (64u * 1024)

struct chunk {
	struct chunk *next;
	size_t used, cap;
	_Alignas(max_align_t) unsigned char data[];
};

struct trivy_arena {
	struct chunk *head;
};

struct trivy_arena *trivy_arena_new(void)
{
	return calloc(1, sizeof(struct trivy_arena));
}

void trivy_arena_free(struct trivy_arena *a)
{
	struct chunk *c, *next;

	if (!a)
		return;
	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

void *trivy_arena_alloc(struct trivy_arena *a, size_t n)
{
	const size_t align = _Alignof(max_align_t);
	struct chunk *c = a->head;
	size_t need = (n + align - 1) & ~(align - 1);
	void *p;

	if (need < n)
		return NULL;
	if (!c || c->cap - c->used < need) {
		size_t cap = need > CHUNK_SIZE ? need : CHUNK_SIZE;
		if (cap > SIZE_MAX - sizeof(*c))
			return NULL;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = cap;
		/* A big one-off goes behind the current chunk so its space is not lost. */
		if (a->head && need > CHUNK_SIZE) {
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	p = c->data + c->used;
	c->used += need;
	return p;
}

char *trivy_arena_strndup(struct trivy_arena *a, const char *s, size_t len)
{
	char *p;

	if (len == SIZE_MAX)
		return NULL;
	p = trivy_arena_alloc(a, len + 1);
	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

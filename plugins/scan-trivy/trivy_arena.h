/*
 * trivy_arena.h - a bump allocator for the strings of one parsed report.
 *
 * A report holds thousands of short strings that all die together; one
 * arena makes that a handful of allocations and a single free.
 */
#ifndef TRIVY_ARENA_H
#define TRIVY_ARENA_H

#include <stddef.h>

struct trivy_arena;

struct trivy_arena *trivy_arena_new(void);
void trivy_arena_free(struct trivy_arena *a);
/* n bytes, aligned for any pointer; NULL when out of memory. */
void *trivy_arena_alloc(struct trivy_arena *a, size_t n);
/* A NUL-terminated copy of the first len bytes of s. */
char *trivy_arena_strndup(struct trivy_arena *a, const char *s, size_t len);

#endif /* TRIVY_ARENA_H */

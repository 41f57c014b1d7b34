/*
 * gc_barrier.h - what keeps an online garbage collection from deleting a
 * blob a push is about to use.
 *
 * Requests that make a blob reachable (finishing an upload, a mount, a
 * manifest push) run their check-and-write inside gc_guard_enter() /
 * gc_guard_leave(). While a collection runs, they and blob HEAD/GET call
 * gc_protect() on each digest BEFORE checking that it exists. The
 * collector:
 *
 *   gc_barrier_begin()   switch protection on, then wait until every guarded
 *                        section that began before is over, so what they
 *                        wrote is visible to the mark phase;
 *   mark                 everything reachable from the manifests stored;
 *   gc_sweep_if_unprotected() for each unmarked candidate: under the
 *                        barrier's lock, delete it only if no request
 *                        protected it;
 *   gc_barrier_end()     switch protection off and forget.
 *
 * So a request either protected a digest before the sweep looked at it (it
 * is kept), or looks for it after it was deleted (and answers
 * BLOB_UNKNOWN: the push fails, nothing that succeeded loses data). The
 * barrier is per process: other processes writing the same storage are
 * covered by the grace period only (docs/garbage-collection.md).
 */
#ifndef BERTH_GC_BARRIER_H
#define BERTH_GC_BARRIER_H

#include "berth/error.h"
#include "digest.h"

void gc_guard_enter(void);
void gc_guard_leave(void);

/* Keep d for the rest of the current collection (no-op when none runs). */
void gc_protect(const digest *d);

void gc_barrier_begin(void);
void gc_barrier_end(void);
/* 1 when d was protected during this collection. */
int gc_is_protected(const digest *d);

/*
 * Under the barrier's lock: unless d is protected, call del(ctx) and
 * return its result; return 1 (and call nothing) when it is protected.
 */
int gc_sweep_if_unprotected(const digest *d, int (*del)(void *ctx), void *ctx);

#endif

/*
 * gc_barrier.c - the collector's write barrier (see gc_barrier.h for the
 * protocol and why it is sound).
 *
 * The guard is a writer-preferring rwlock: pushes take it shared around
 * short check-and-write sections (never while streaming a body); the
 * collector takes it exclusively once, only to wait for sections already
 * running. Preferring the writer keeps a steady stream of pushes from
 * delaying a collection forever; pushes pause at most for the sections
 * in flight.
 */
#include "gc_barrier.h"

#include <pthread.h>
#include <stdatomic.h>

#include "digest_set.h"
#include "log.h"

static pthread_rwlock_t guard;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int active;
static digest_set protected_set;
static int protect_failed;

static void guard_init(void)
{
	pthread_rwlockattr_t attr;

	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&guard, &attr);
	pthread_rwlockattr_destroy(&attr);
}

void gc_guard_enter(void)
{
	pthread_once(&guard_once, guard_init);
	pthread_rwlock_rdlock(&guard);
}

void gc_guard_leave(void)
{
	pthread_rwlock_unlock(&guard);
}

void gc_protect(const digest *d)
{
	if (!atomic_load(&active))
		return;
	pthread_mutex_lock(&lock);
	if (atomic_load(&active) && digest_set_add(&protected_set, d) == BERTH_E_NOMEM)
		protect_failed = 1;
	pthread_mutex_unlock(&lock);
}

void gc_barrier_begin(void)
{
	pthread_once(&guard_once, guard_init);
	pthread_mutex_lock(&lock);
	digest_set_clear(&protected_set);
	protect_failed = 0;
	atomic_store(&active, 1);
	pthread_mutex_unlock(&lock);
	/* Wait out the guarded sections that began before protection was on. */
	pthread_rwlock_wrlock(&guard);
	pthread_rwlock_unlock(&guard);
}

void gc_barrier_end(void)
{
	pthread_mutex_lock(&lock);
	atomic_store(&active, 0);
	digest_set_clear(&protected_set);
	pthread_mutex_unlock(&lock);
}

int gc_is_protected(const digest *d)
{
	int yes;

	pthread_mutex_lock(&lock);
	yes = protect_failed || digest_set_has(&protected_set, d);
	pthread_mutex_unlock(&lock);
	return yes;
}

int gc_sweep_if_unprotected(const digest *d, int (*del)(void *ctx), void *ctx)
{
	int rc = 1;

	pthread_mutex_lock(&lock);
	/* Out of memory while protecting: keep everything rather than guess. */
	if (!protect_failed && !digest_set_has(&protected_set, d))
		rc = del(ctx);
	pthread_mutex_unlock(&lock);
	return rc;
}

#include "locks.h"

#include <pthread.h>
#include <stdint.h>

#define REPO_LOCK_STRIPES 64

static pthread_mutex_t stripes[REPO_LOCK_STRIPES] = {
	[0 ... REPO_LOCK_STRIPES - 1] = PTHREAD_MUTEX_INITIALIZER,
};

static pthread_mutex_t *stripe(const char *name)
{
	/* FNV-1a */
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return &stripes[h % REPO_LOCK_STRIPES];
}

void repo_lock(const char *name)
{
	pthread_mutex_lock(stripe(name));
}

void repo_unlock(const char *name)
{
	pthread_mutex_unlock(stripe(name));
}

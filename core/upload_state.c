#include "upload_state.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "berth/error.h"

/* Bounded: a client that opens many uploads and walks away costs at most
 * this many hash states; evicted ones are rebuilt from storage. */
#define UPLOAD_STATE_SLOTS 1024

typedef struct upload_entry {
	char uuid[40];
	digest_ctx *ctx;
	uint64_t offset;
	uint64_t last_used;
	int busy;
} upload_entry;

static upload_entry entries[UPLOAD_STATE_SLOTS];
static uint64_t clock_tick;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static upload_entry *find(const char *uuid)
{
	for (size_t i = 0; i < UPLOAD_STATE_SLOTS; i++)
		if (entries[i].uuid[0] && strcmp(entries[i].uuid, uuid) == 0)
			return &entries[i];
	return NULL;
}

static upload_entry *slot_for(void)
{
	upload_entry *victim = NULL;

	for (size_t i = 0; i < UPLOAD_STATE_SLOTS; i++) {
		upload_entry *e = &entries[i];
		if (!e->uuid[0])
			return e;
		if (!e->busy && (!victim || e->last_used < victim->last_used))
			victim = e;
	}
	if (victim) {
		digest_ctx_free(victim->ctx);
		memset(victim, 0, sizeof(*victim));
	}
	return victim;
}

int upload_state_acquire(const char *uuid, uint64_t size, digest_ctx **ctx)
{
	upload_entry *e;
	int rc = 0;

	*ctx = NULL;
	if (strlen(uuid) >= sizeof(e->uuid))
		return BERTH_E_INVALID;
	pthread_mutex_lock(&lock);
	e = find(uuid);
	if (!e) {
		e = slot_for();
		if (!e) {
			rc = BERTH_E_TOO_MANY;
			goto out;
		}
		strcpy(e->uuid, uuid);
	} else if (e->busy) {
		rc = BERTH_E_AGAIN;
		goto out;
	}
	e->busy = 1;
	e->last_used = ++clock_tick;
	if (e->ctx && e->offset == size) {
		*ctx = e->ctx;
	} else {
		digest_ctx_free(e->ctx);
	}
	e->ctx = NULL;
out:
	pthread_mutex_unlock(&lock);
	return rc;
}

void upload_state_release(const char *uuid, digest_ctx *ctx, uint64_t offset)
{
	upload_entry *e;

	pthread_mutex_lock(&lock);
	e = find(uuid);
	if (e) {
		digest_ctx_free(e->ctx);
		e->ctx = ctx;
		e->offset = offset;
		e->busy = 0;
		ctx = NULL;
	}
	pthread_mutex_unlock(&lock);
	digest_ctx_free(ctx);
}

void upload_state_forget(const char *uuid)
{
	upload_entry *e;

	pthread_mutex_lock(&lock);
	e = find(uuid);
	if (e && !e->busy) {
		digest_ctx_free(e->ctx);
		memset(e, 0, sizeof(*e));
	}
	pthread_mutex_unlock(&lock);
}

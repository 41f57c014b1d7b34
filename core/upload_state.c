#include "upload_state.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "berth/error.h"

/* Bounded: a client that opens many uploads and walks away costs at most
 * this many hash states; evicted ones are rebuilt from storage. */
#define UPLOAD_STATE_SLOTS 1024

typedef struct upload_entry {
	char uuid[40];
	digest_ctx *ctx;
	uint64_t offset;
	uint64_t last_used;
	uint64_t gen;            /* the holder's claim; 0 when nobody holds it */
	int64_t active_ms;       /* last sign of life of the holder */
	pthread_mutex_t write_lock;
} upload_entry;

static upload_entry entries[UPLOAD_STATE_SLOTS];
static uint64_t clock_tick, next_gen;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_entries(void)
{
	for (size_t i = 0; i < UPLOAD_STATE_SLOTS; i++)
		pthread_mutex_init(&entries[i].write_lock, NULL);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static upload_entry *find(const char *uuid)
{
	for (size_t i = 0; i < UPLOAD_STATE_SLOTS; i++)
		if (entries[i].uuid[0] && strcmp(entries[i].uuid, uuid) == 0)
			return &entries[i];
	return NULL;
}

static void clear(upload_entry *e)
{
	digest_ctx_free(e->ctx);
	e->ctx = NULL;
	e->uuid[0] = '\0';
	e->offset = 0;
	e->last_used = 0;
	e->gen = 0;
}

static upload_entry *slot_for(void)
{
	upload_entry *victim = NULL;

	for (size_t i = 0; i < UPLOAD_STATE_SLOTS; i++) {
		upload_entry *e = &entries[i];
		if (!e->uuid[0])
			return e;
		if (!e->gen && (!victim || e->last_used < victim->last_used))
			victim = e;
	}
	if (victim)
		clear(victim);
	return victim;
}

int upload_state_acquire(const char *uuid, upload_claim *claim)
{
	upload_entry *e;
	int rc = 0;

	pthread_once(&once, init_entries);
	claim->entry = NULL;
	claim->gen = 0;
	if (strlen(uuid) >= sizeof(e->uuid))
		return BERTH_E_INVALID;
	pthread_mutex_lock(&lock);
	e = find(uuid);
	if (e && e->gen) {
		uint64_t stale = e->gen;
		if (now_ms() - e->active_ms < UPLOAD_IDLE_TAKEOVER_MS) {
			rc = BERTH_E_AGAIN;
			goto out;
		}
		/* Wait out a write of the idle holder (lock order: write_lock
		 * before lock), then check nothing changed meanwhile. */
		pthread_mutex_unlock(&lock);
		pthread_mutex_lock(&e->write_lock);
		pthread_mutex_lock(&lock);
		if (e->gen != stale || strcmp(e->uuid, uuid) != 0) {
			pthread_mutex_unlock(&e->write_lock);
			rc = BERTH_E_AGAIN;
			goto out;
		}
		/* The old holder's hash state may not match the bytes. */
		digest_ctx_free(e->ctx);
		e->ctx = NULL;
		e->gen = ++next_gen;
		pthread_mutex_unlock(&e->write_lock);
	} else if (!e) {
		e = slot_for();
		if (!e) {
			rc = BERTH_E_TOO_MANY;
			goto out;
		}
		strcpy(e->uuid, uuid);
		e->gen = ++next_gen;
	} else {
		e->gen = ++next_gen;
	}
	e->active_ms = now_ms();
	e->last_used = ++clock_tick;
	claim->entry = e;
	claim->gen = e->gen;
out:
	pthread_mutex_unlock(&lock);
	return rc;
}

digest_ctx *upload_state_hash(const upload_claim *claim, uint64_t size)
{
	upload_entry *e = claim->entry;
	digest_ctx *ctx = NULL;

	if (!e)
		return NULL;
	pthread_mutex_lock(&lock);
	if (e->gen == claim->gen) {
		if (e->ctx && e->offset == size)
			ctx = e->ctx;
		else
			digest_ctx_free(e->ctx);
		e->ctx = NULL;
	}
	pthread_mutex_unlock(&lock);
	return ctx;
}

int upload_state_write_begin(const upload_claim *claim)
{
	upload_entry *e = claim->entry;

	if (!e)
		return BERTH_E_AGAIN;
	/* Held across the write so a takeover cannot slip in between the
	 * check and the bytes reaching storage. */
	pthread_mutex_lock(&e->write_lock);
	pthread_mutex_lock(&lock);
	if (e->gen != claim->gen) {
		pthread_mutex_unlock(&lock);
		pthread_mutex_unlock(&e->write_lock);
		return BERTH_E_AGAIN;
	}
	e->active_ms = now_ms();
	pthread_mutex_unlock(&lock);
	return 0;
}

int upload_state_touch(const upload_claim *claim)
{
	upload_entry *e = claim->entry;
	int rc = 0;

	if (!e)
		return BERTH_E_AGAIN;
	pthread_mutex_lock(&lock);
	if (e->gen != claim->gen)
		rc = BERTH_E_AGAIN;
	else
		e->active_ms = now_ms();
	pthread_mutex_unlock(&lock);
	return rc;
}

void upload_state_write_end(const upload_claim *claim)
{
	upload_entry *e = claim->entry;

	pthread_mutex_lock(&lock);
	e->active_ms = now_ms();
	pthread_mutex_unlock(&lock);
	pthread_mutex_unlock(&e->write_lock);
}

void upload_state_release(upload_claim *claim, digest_ctx *ctx, uint64_t offset)
{
	upload_entry *e = claim->entry;

	if (e) {
		pthread_mutex_lock(&e->write_lock);
		pthread_mutex_lock(&lock);
		if (e->gen == claim->gen) {
			digest_ctx_free(e->ctx);
			e->ctx = ctx;
			e->offset = offset;
			e->gen = 0;
			ctx = NULL;
		}
		pthread_mutex_unlock(&lock);
		pthread_mutex_unlock(&e->write_lock);
	}
	claim->entry = NULL;
	claim->gen = 0;
	digest_ctx_free(ctx);
}

void upload_state_forget(const char *uuid)
{
	upload_entry *e;

	pthread_mutex_lock(&lock);
	e = find(uuid);
	if (e && !e->gen)
		clear(e);
	pthread_mutex_unlock(&lock);
}

/*
 * pull_times.c - the last pull time of each manifest, batched to storage.
 *
 * The table holds only pulls not yet written: a flush writes them and
 * empties it, so memory is bounded by the manifests pulled in one interval
 * (at most PULL_TIMES_MAX_PENDING), not by the size of the registry.
 */
#include "pull_times.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "layout.h"
#include "log.h"
#include "storage.h"

#define BUCKETS 4096

typedef struct pending {
	struct pending *next;
	int64_t ms;
	char key[];            /* "<repository>@<digest>" */
} pending;

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pending *buckets[BUCKETS];
	size_t n;
	uint64_t skipped;
	pthread_t thread;
	int running, stopping;
} pt = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int make_key(char *out, size_t cap, const char *repository, const digest *d)
{
	char ds[DIGEST_STRING_MAX];
	int n;

	digest_format(d, ds);
	n = snprintf(out, cap, "%s@%s", repository, ds);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

static size_t bucket_of(const char *key)
{
	uint64_t h = 1469598103934665603ull;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (size_t)(h % BUCKETS);
}

/* The entry for key (under pt.lock), or NULL; *link is where it hangs. */
static pending *find(const char *key, pending ***link)
{
	pending **pp = &pt.buckets[bucket_of(key)];

	for (; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->key, key) == 0)
			break;
	if (link)
		*link = pp;
	return *pp;
}

void pull_times_record(const char *repository, const digest *d)
{
	char key[LAYOUT_KEY_MAX];
	pending *e, **link;
	int64_t ms = now_ms();

	if (make_key(key, sizeof(key), repository, d) != 0)
		return;
	pthread_mutex_lock(&pt.lock);
	e = find(key, &link);
	if (e) {
		if (ms > e->ms)
			e->ms = ms;
	} else if (pt.n >= PULL_TIMES_MAX_PENDING) {
		pt.skipped++;
		pthread_cond_signal(&pt.wake);
	} else if ((e = malloc(sizeof(*e) + strlen(key) + 1))) {
		e->next = NULL;
		e->ms = ms;
		strcpy(e->key, key);
		*link = e;
		if (++pt.n == PULL_TIMES_MAX_PENDING / 2)
			pthread_cond_signal(&pt.wake);
	}
	pthread_mutex_unlock(&pt.lock);
}

static int64_t stored_ms(const char *repository, const digest *d)
{
	layout_key key;
	char buf[32];
	size_t len = 0;
	berth_error err = {0};

	if (layout_pulled(key, repository, d) != 0 ||
	    storage_read_into(key, buf, sizeof(buf) - 1, &len, &err) != 0)
		return 0;
	buf[len] = '\0';
	return strtoll(buf, NULL, 10);
}

int64_t pull_times_get(const char *repository, const digest *d)
{
	char key[LAYOUT_KEY_MAX];
	pending *e;
	int64_t mem = 0, disk;

	if (make_key(key, sizeof(key), repository, d) != 0)
		return 0;
	pthread_mutex_lock(&pt.lock);
	e = find(key, NULL);
	if (e)
		mem = e->ms;
	pthread_mutex_unlock(&pt.lock);
	disk = stored_ms(repository, d);
	return mem > disk ? mem : disk;
}

void pull_times_forget(const char *repository, const digest *d)
{
	char key[LAYOUT_KEY_MAX];
	layout_key skey;
	pending *e, **link;
	berth_error err = {0};

	if (make_key(key, sizeof(key), repository, d) == 0) {
		pthread_mutex_lock(&pt.lock);
		e = find(key, &link);
		if (e) {
			*link = e->next;
			pt.n--;
			free(e);
		}
		pthread_mutex_unlock(&pt.lock);
	}
	if (layout_pulled(skey, repository, d) == 0)
		storage_remove(skey, &err);
}

/* Write one entry: the later of what is stored and what was pulled. */
static void write_one(const pending *e)
{
	const char *at = strrchr(e->key, '@');
	char repository[LAYOUT_KEY_MAX], text[32];
	layout_key key;
	berth_error err = {0};
	digest d;
	int n;

	if (!at || (size_t)(at - e->key) >= sizeof(repository) || digest_parse(at + 1, &d) != 0)
		return;
	memcpy(repository, e->key, (size_t)(at - e->key));
	repository[at - e->key] = '\0';
	if (stored_ms(repository, &d) >= e->ms)
		return;
	/* A manifest deleted since its pull must not get its folder back. */
	if (layout_revision_link(key, repository, &d) != 0 || !storage_exists(key))
		return;
	layout_pulled(key, repository, &d);
	n = snprintf(text, sizeof(text), "%" PRId64 "\n", e->ms);
	if (storage_write_all(key, text, (size_t)n, &err) != 0)
		log_warn("pull time of %s: %s", e->key, err.message);
}

void pull_times_flush(void)
{
	pending *all = NULL;
	uint64_t skipped;
	size_t n;

	pthread_mutex_lock(&pt.lock);
	for (size_t b = 0; b < BUCKETS; b++) {
		while (pt.buckets[b]) {
			pending *e = pt.buckets[b];
			pt.buckets[b] = e->next;
			e->next = all;
			all = e;
		}
	}
	n = pt.n;
	pt.n = 0;
	skipped = pt.skipped;
	pt.skipped = 0;
	pthread_mutex_unlock(&pt.lock);

	while (all) {
		pending *e = all;
		all = e->next;
		write_one(e);
		free(e);
	}
	if (skipped)
		log_warn("pull times: %" PRIu64 " pulls not recorded: more than %d manifests "
			 "pulled within one flush interval",
			 skipped, PULL_TIMES_MAX_PENDING);
	if (n)
		log_debug("pull times: %zu written", n);
}

static void *flusher(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pt.lock);
	while (!pt.stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += PULL_TIMES_FLUSH_MS / 1000;
		pthread_cond_timedwait(&pt.wake, &pt.lock, &until);
		if (pt.stopping)
			break;
		pthread_mutex_unlock(&pt.lock);
		pull_times_flush();
		pthread_mutex_lock(&pt.lock);
	}
	pthread_mutex_unlock(&pt.lock);
	return NULL;
}

int pull_times_start(berth_error *err)
{
	int rc;

	pthread_mutex_lock(&pt.lock);
	pt.stopping = 0;
	pthread_mutex_unlock(&pt.lock);
	rc = pthread_create(&pt.thread, NULL, flusher, NULL);
	if (rc != 0)
		return error_set(err, BERTH_E_INTERNAL, "cannot start the pull-time flusher: %s",
				 strerror(rc));
	pt.running = 1;
	return 0;
}

void pull_times_stop(void)
{
	if (pt.running) {
		pthread_mutex_lock(&pt.lock);
		pt.stopping = 1;
		pthread_cond_signal(&pt.wake);
		pthread_mutex_unlock(&pt.lock);
		pthread_join(pt.thread, NULL);
		pt.running = 0;
	}
	pull_times_flush();
}

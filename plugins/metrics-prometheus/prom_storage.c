/*
 * prom_storage.c - the berth_storage_* gauges.
 *
 * Asking the storage driver what it holds may walk every blob, so it is
 * done on the job thread every storage_refresh (host->schedule, registered
 * in start()), never per scrape; a scrape shows the last numbers. Until
 * one refresh has succeeded there are none, and the families are absent.
 */
#include <string.h>

#include "prom.h"

int prom_storage_init(struct prom_storage *s)
{
	memset(s, 0, sizeof(*s));
	return pthread_mutex_init(&s->lock, NULL) == 0 ? 0 : BERTH_E_NOMEM;
}

void prom_storage_destroy(struct prom_storage *s)
{
	pthread_mutex_destroy(&s->lock);
}

void prom_storage_refresh(void *arg)
{
	struct prom_state *st = arg;
	struct prom_storage *s = &st->storage;
	berth_storage_usage u;
	berth_error err;
	int rc, was_failing;

	/* Only the job thread writes these flags; scrapes never read them. */
	if (s->unsupported)
		return;
	memset(&u, 0, sizeof(u));
	u.size = sizeof(u);
	memset(&err, 0, sizeof(err));
	rc = st->host->storage_usage(&u, &err);
	if (rc == BERTH_E_UNSUPPORTED) {
		s->unsupported = 1;
		st->host->log(st->self, BERTH_LOG_INFO,
			      "the storage driver reports no usage: no berth_storage_* metrics");
		return;
	}
	was_failing = s->failing;
	s->failing = rc < 0;
	if (rc < 0) {
		/* Logged when it starts failing, not every refresh; the last numbers stay. */
		if (!was_failing)
			st->host->log(st->self, BERTH_LOG_WARN, "cannot read storage usage: %s",
				      err.message[0] ? err.message : "unknown error");
		return;
	}
	if (was_failing)
		st->host->log(st->self, BERTH_LOG_INFO, "storage usage readable again");
	pthread_mutex_lock(&s->lock);
	s->usage = u;
	s->have = 1;
	pthread_mutex_unlock(&s->lock);
}

void prom_storage_format(struct prom_buf *b, struct prom_storage *s)
{
	berth_storage_usage u;
	int have;

	pthread_mutex_lock(&s->lock);
	have = s->have;
	u = s->usage;
	pthread_mutex_unlock(&s->lock);
	if (!have)
		return;
	prom_put_single(b, "berth_storage_used_bytes",
			"Bytes of registry data in storage (blobs, links, uploads).", "gauge",
			(double)u.bytes_used);
	prom_put_single(b, "berth_storage_available_bytes",
			"Bytes storage can still take for the registry.", "gauge",
			(double)u.bytes_available);
	/* 0 means unbounded or unknown: left out, so used/total never divides by zero. */
	if (u.bytes_total > 0)
		prom_put_single(b, "berth_storage_total_bytes", "Capacity of the storage in bytes.",
				"gauge", (double)u.bytes_total);
	prom_put_single(b, "berth_storage_objects", "Blobs in storage.", "gauge",
			(double)u.objects);
}

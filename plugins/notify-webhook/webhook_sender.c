/*
 * webhook_sender.c - the thread that empties an endpoint's journal.
 *
 * It takes the oldest undelivered events (up to batch_max), POSTs them,
 * and on a 2xx answer commits past them. Any other outcome is a failed
 * attempt: it waits (exponential backoff with jitter, cut short only by
 * stop()) and sends the same bytes again, up to max_attempts, after which
 * the events go to the dead-letter file and are committed too. Events are
 * delivered in order, so an event that keeps failing holds back the ones
 * behind it until it is dead-lettered; other endpoints have threads and
 * journals of their own and never wait for this one.
 *
 * Delivery is at least once: an event is committed only after its answer
 * came, so a stop or a crash between the answer and the commit sends it
 * again, with the same id.
 *
 * The log gets one line when the endpoint starts failing, one when it
 * accepts events again, and one per dead letter; retries are counted in
 * berth_webhook_failures_total, not logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "webhook.h"

/* How often the journal is looked at for appends from other processes. */
#define POLL_MS 1000
/* Pause after an error reading the journal itself. */
#define JOURNAL_RETRY_MS 1000
/* What a batch may add up to: a bigger one is cut. */
#define BATCH_BYTES_MAX (8u * 1024 * 1024)

struct batch {
	struct webhook_event ev[WEBHOOK_BATCH_MAX];
	char *line[WEBHOOK_BATCH_MAX];
	size_t len[WEBHOOK_BATCH_MAX];
	size_t n;
	uint64_t next;                   /* the position after the last event */
	size_t bytes;
};

/* What the thread remembers between batches. */
struct sender {
	struct webhook_endpoint *ep;
	uint64_t pos;                    /* next record to send */
	int down;                        /* the last attempt failed */
	uint64_t failed_while_down;
	int journal_failing;
	unsigned int seed;
};

static int is_stopping(struct webhook_endpoint *ep)
{
	int s;

	pthread_mutex_lock(&ep->lock);
	s = ep->stopping;
	pthread_mutex_unlock(&ep->lock);
	return s;
}

static int abort_transfer(void *ctx)
{
	return is_stopping(ctx);
}

static void deadline_in(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/*
 * Sleep up to ms. Appends wake it when `for_data`; stop() always does.
 * Returns non-zero when stopping.
 */
static int pause_for(struct webhook_endpoint *ep, int64_t ms, int for_data)
{
	struct timespec until;
	int stopping;

	deadline_in(&until, ms);
	pthread_mutex_lock(&ep->lock);
	while (!ep->stopping && !(for_data && ep->wake_pending))
		if (pthread_cond_timedwait(&ep->wake, &ep->lock, &until) == ETIMEDOUT)
			break;
	if (for_data)
		ep->wake_pending = 0;
	stopping = ep->stopping;
	pthread_mutex_unlock(&ep->lock);
	return stopping;
}

void webhook_sender_wake(struct webhook_endpoint *ep)
{
	pthread_mutex_lock(&ep->lock);
	ep->wake_pending = 1;
	pthread_cond_signal(&ep->wake);
	pthread_mutex_unlock(&ep->lock);
}

/* Full jitter over the upper half: between d/2 and d, d doubling from backoff_initial. */
static int64_t backoff_ms(struct sender *s, int64_t attempt)
{
	const struct webhook_config *c = s->ep->cfg;
	int64_t d = c->backoff_initial_ms;

	for (int64_t i = 1; i < attempt && d < c->backoff_max_ms; i++)
		d *= 2;
	if (d > c->backoff_max_ms)
		d = c->backoff_max_ms;
	return d / 2 + (int64_t)(rand_r(&s->seed) % (unsigned)(d / 2 + 1));
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		webhook_event_clear(&b->ev[i]);
		free(b->line[i]);
	}
	b->n = 0;
	b->bytes = 0;
}

static void log_event(struct webhook_endpoint *ep, int level, const struct webhook_event *ev,
		      const char *what, const char *error)
{
	webhook_log(ep, level, "event %s (%s %s%s%s) %s: %s", ev->id, ev->type,
		    ev->repository ? ev->repository : "-", ev->tag ? ":" : "",
		    ev->tag ? ev->tag : "", what, error);
}

static void commit(struct sender *s, uint64_t next, uint64_t n)
{
	struct webhook_endpoint *ep = s->ep;
	berth_error err = {0};

	if (webhook_journal_commit(ep->journal, next, n, &err) < 0)
		/* The events were handled: at worst they are sent again after a restart. */
		webhook_log(ep, BERTH_LOG_ERROR, "cannot record the delivery: %s",
			    err.message);
	s->pos = next;
}

/*
 * A line that is not an event: it goes to the dead-letter file as text so
 * that nothing disappears silently, and the queue moves on.
 */
static void reject_record(struct sender *s, const char *line, size_t len, uint64_t next,
			  const char *why)
{
	struct webhook_endpoint *ep = s->ep;
	berth_error err = {0};

	webhook_log(ep, BERTH_LOG_ERROR,
		    "journal record at %" PRIu64 " is unreadable (%s): moved to the dead-letter "
		    "file", s->pos, why);
	if (webhook_dead_letter(ep->cfg->queue_dir, ep->cfg->name, ep->cfg->url_shown,
				ep->st->host->now_ms(), 0, why, line, len, ep->cfg->fsync, &err) < 0)
		webhook_log(ep, BERTH_LOG_ERROR, "%s", err.message);
	webhook_metric_add(ep, ep->st->m_dead, 1);
	commit(s, next, 1);
}

/*
 * Read up to batch_max events from s->pos. 0 with b->n events (maybe 0),
 * or a negative code when the journal cannot be read.
 */
static int fill_batch(struct sender *s, struct batch *b)
{
	struct webhook_endpoint *ep = s->ep;
	berth_error err = {0};
	uint64_t at = s->pos;
	int rc;

	b->n = 0;
	b->bytes = 0;
	b->next = at;
	while (b->n < (size_t)ep->cfg->batch_max && b->bytes < BATCH_BYTES_MAX) {
		char *line = NULL;
		size_t len = 0;
		uint64_t next = at;

		rc = webhook_journal_read(ep->journal, at, &line, &len, &next, &err);
		if (rc == BERTH_DECLINED)
			break;
		if (rc == BERTH_E_RANGE) {
			/* The journal was replaced under us: go on from what is committed. */
			s->pos = webhook_journal_committed(ep->journal);
			return b->n ? 0 : BERTH_E_AGAIN;
		}
		if (rc < 0) {
			if (!s->journal_failing)
				webhook_log(ep, BERTH_LOG_ERROR, "cannot read the queue: %s",
					    err.message);
			s->journal_failing = 1;
			return b->n ? 0 : rc;
		}
		rc = webhook_record_parse(line, len, &b->ev[b->n], &err);
		if (rc < 0 && b->n == 0) {
			reject_record(s, line, len, next, err.message);
			free(line);
			at = b->next = s->pos;
			continue;
		}
		if (rc < 0) {
			/* The good ones go first; the bad record starts the next round. */
			free(line);
			break;
		}
		b->line[b->n] = line;
		b->len[b->n] = len;
		b->n++;
		b->bytes += len;
		at = b->next = next;
	}
	s->journal_failing = 0;
	return 0;
}

static void went_down(struct sender *s, const char *error)
{
	struct webhook_endpoint *ep = s->ep;

	s->failed_while_down++;
	if (s->down)
		return;
	s->down = 1;
	webhook_log(ep, BERTH_LOG_WARN,
		    "%s is failing: %s; events wait in the queue and are retried",
		    ep->cfg->url_shown, error);
}

static void came_up(struct sender *s)
{
	struct webhook_endpoint *ep = s->ep;

	if (!s->down)
		return;
	webhook_log(ep, BERTH_LOG_INFO,
		    "%s accepts events again (after %" PRIu64 " failed attempts)",
		    ep->cfg->url_shown, s->failed_while_down);
	s->down = 0;
	s->failed_while_down = 0;
}

static void dead_letter_batch(struct sender *s, struct batch *b, int64_t attempts,
			      const char *error)
{
	struct webhook_endpoint *ep = s->ep;
	berth_error err = {0};
	char what[64];

	snprintf(what, sizeof(what), "went to the dead-letter file after %lld attempts",
		 (long long)attempts);
	for (size_t i = 0; i < b->n; i++) {
		if (webhook_dead_letter(ep->cfg->queue_dir, ep->cfg->name, ep->cfg->url_shown,
					ep->st->host->now_ms(), attempts, error, b->line[i], b->len[i],
					ep->cfg->fsync, &err) < 0)
			webhook_log(ep, BERTH_LOG_ERROR, "event %s is lost: %s",
				    b->ev[i].id, err.message);
		else
			log_event(ep, BERTH_LOG_ERROR, &b->ev[i], what, error);
	}
	webhook_metric_add(ep, ep->st->m_dead, (double)b->n);
}

/* Send one batch until it is delivered, dead-lettered, or the plugin stops. */
static void send_batch(struct sender *s, struct batch *b)
{
	struct webhook_endpoint *ep = s->ep;
	const struct webhook_config *c = ep->cfg;
	char signature[80], *body = NULL;
	const char *content_type = NULL;
	berth_error err = {0};
	size_t len = 0;

	if (webhook_format_body(&ep->fmt, b->ev, b->n, &body, &len, &content_type, &err) < 0 ||
	    (c->secret && webhook_sign(c->secret, body, len, signature, sizeof(signature)) < 0)) {
		/* Out of memory or no crypto: try the same batch again later. */
		webhook_log(ep, BERTH_LOG_ERROR, "cannot build the request: %s",
			    err.message[0] ? err.message : "signature failed");
		pause_for(ep, JOURNAL_RETRY_MS, 0);
		goto out;
	}
	for (int64_t attempt = 1;; attempt++) {
		memset(&err, 0, sizeof(err));
		if (webhook_http_post(ep->http, content_type, body, len,
				      c->secret ? signature : NULL, &err) == 0) {
			webhook_metric_add(ep, ep->st->m_deliveries, (double)b->n);
			came_up(s);
			commit(s, b->next, b->n);
			goto out;
		}
		if (is_stopping(ep))
			goto out;
		webhook_metric_add(ep, ep->st->m_failures, 1);
		went_down(s, err.message);
		if (attempt >= c->max_attempts) {
			dead_letter_batch(s, b, attempt, err.message);
			commit(s, b->next, b->n);
			goto out;
		}
		if (pause_for(ep, backoff_ms(s, attempt), 0))
			goto out;
	}
out:
	free(body);
}

static void *sender_main(void *arg)
{
	struct sender s = { .ep = arg };
	struct webhook_endpoint *ep = s.ep;
	struct batch *b = calloc(1, sizeof(*b));
	berth_error err = {0};

	s.seed = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)&s;
	s.pos = webhook_journal_committed(ep->journal);
	if (!b) {
		webhook_log(ep, BERTH_LOG_ERROR, "out of memory: events stay queued");
		return NULL;
	}
	if (webhook_journal_compact(ep->journal, 0, &err) < 0)
		webhook_log(ep, BERTH_LOG_WARN, "cannot compact the queue: %s",
			    err.message);
	while (!is_stopping(ep)) {
		int rc = webhook_journal_scan(ep->journal, NULL, &err);

		if (rc == 0)
			rc = fill_batch(&s, b);
		if (rc < 0) {
			if (rc != BERTH_E_AGAIN && !s.journal_failing) {
				webhook_log(ep, BERTH_LOG_ERROR, "cannot read the queue: %s",
					    err.message);
				s.journal_failing = 1;
			}
			pause_for(ep, JOURNAL_RETRY_MS, 0);
			continue;
		}
		if (b->n == 0) {
			pause_for(ep, POLL_MS, 1);
			continue;
		}
		send_batch(&s, b);
		batch_free(b);
		if (webhook_journal_compact(ep->journal, 0, &err) < 0)
			webhook_log(ep, BERTH_LOG_WARN, "cannot compact the queue: %s",
				    err.message);
	}
	batch_free(b);
	free(b);
	return NULL;
}

int webhook_sender_start(struct webhook_endpoint *ep, berth_error *err)
{
	char *path = NULL;
	int rc = 0, e;

	path = webhook_strf("%s/sender.lock", ep->cfg->queue_dir);
	if (!path)
		return webhook_fail(err, BERTH_E_NOMEM, "out of memory");
	ep->sender_lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (ep->sender_lock_fd < 0) {
		rc = webhook_fail(err, BERTH_E_IO, "cannot open '%s': %s", path, strerror(errno));
		goto out;
	}
	/* Two senders on one queue would deliver everything twice. */
	if (flock(ep->sender_lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = webhook_fail(err, BERTH_E_EXISTS,
				  "queue '%s' is used by another sender: another berth serve, or "
				  "another instance, with the same queue_dir and endpoint name",
				  ep->cfg->queue_dir);
		goto out;
	}
	rc = webhook_http_new(ep->cfg, ep->st->user_agent, abort_transfer, ep, &ep->http, err);
	if (rc < 0)
		goto out;
	ep->stopping = 0;
	ep->wake_pending = 1;
	e = pthread_create(&ep->thread, NULL, sender_main, ep);
	if (e != 0) {
		rc = webhook_fail(err, BERTH_E_INTERNAL, "cannot start the sender thread: %s",
				  strerror(e));
		goto out;
	}
	ep->thread_started = 1;
out:
	if (rc < 0) {
		webhook_http_free(ep->http);
		ep->http = NULL;
		if (ep->sender_lock_fd >= 0)
			close(ep->sender_lock_fd);
		ep->sender_lock_fd = -1;
	}
	free(path);
	return rc;
}

void webhook_sender_stop(struct webhook_endpoint *ep)
{
	if (ep->thread_started) {
		pthread_mutex_lock(&ep->lock);
		ep->stopping = 1;
		pthread_cond_broadcast(&ep->wake);
		pthread_mutex_unlock(&ep->lock);
		pthread_join(ep->thread, NULL);
		ep->thread_started = 0;
	}
	webhook_http_free(ep->http);
	ep->http = NULL;
	if (ep->sender_lock_fd >= 0)
		close(ep->sender_lock_fd);
	ep->sender_lock_fd = -1;
}

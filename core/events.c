/*
 * events.c - the event queue and the thread that feeds the notifiers (see
 * events.h).
 *
 * Emitters hold the queue lock only to append a pointer; the event is
 * copied into one allocation before. The notifier list is fixed between
 * events_start() and events_stop(); overflow() calls made on emitting
 * threads are counted so events_stop() can wait for them and promise that
 * no notifier code runs after it returns (plugins are stopped next).
 */
#include "events.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config_node.h"
#include "errors.h"
#include "http.h"
#include "log.h"
#include "metrics.h"

typedef struct notifier {
	plugin_instance *in;
	berth_notify_ops ops;
	int durable;
} notifier;

/* An event and the strings it points to, in one allocation. */
typedef struct queued_event {
	berth_event ev;
	char text[];
} queued_event;

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;            /* an event was queued, or stop */
	pthread_cond_t idle;            /* the last overflow() in flight returned */
	int running;
	int stopping;
	int64_t deadline_ms;            /* monotonic, once stopping */
	int thread_started;
	pthread_t thread;
	notifier *notifiers;
	size_t n_notifiers;
	int has_volatile;               /* a notifier that is not durable */
	queued_event **ring;
	size_t cap, head, count;
	uint64_t next_id;
	size_t overflows_in_flight;
	int warned_full;
} q = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
	.idle = PTHREAD_COND_INITIALIZER,
	.next_id = 1,
};

static atomic_uint_fast64_t dropped_total;

static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;
static berth_metric *metric_dropped, *metric_depth;

static void register_metrics(void)
{
	metric_dropped = metrics_register(
		"core", "berth_events_dropped_total",
		"Events a notifier did not get: the event queue was full, or no event thread ran",
		BERTH_METRIC_COUNTER, NULL);
	metric_depth = metrics_register("core", "berth_events_queue_depth",
					"Events waiting for the notifiers", BERTH_METRIC_GAUGE,
					NULL);
}

BERTH_PRINTF(3, 4)
static void log_plugin(const char *tag, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_tagged_v(tag, level, fmt, ap);
	va_end(ap);
}

static void count_dropped(uint64_t n)
{
	pthread_once(&metrics_once, register_metrics);
	atomic_fetch_add(&dropped_total, n);
	metrics_add(metric_dropped, NULL, (double)n);
}

/* Called with q.lock held, so the gauge follows the queue's own order. */
static void publish_depth(void)
{
	pthread_once(&metrics_once, register_metrics);
	metrics_set(metric_depth, NULL, (double)q.count);
}

uint64_t events_dropped(void)
{
	return atomic_load(&dropped_total);
}

size_t events_queue_depth(void)
{
	size_t n;

	pthread_mutex_lock(&q.lock);
	n = q.count;
	pthread_mutex_unlock(&q.lock);
	return n;
}

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------ */
/* Checking and copying                                                     */
/* ------------------------------------------------------------------------ */

static int check_type(const char *type, berth_error *err)
{
	char shown[CFG_SHOW_MAX];
	size_t i;

	for (i = 0; type && type[i] && i <= EVENTS_TYPE_MAX; i++) {
		char c = type[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			break;
	}
	if (!type || i == 0 || i > EVENTS_TYPE_MAX || type[i])
		return error_set(err, BERTH_E_INVALID,
				 "event type '%s' is not [a-z0-9._-]+ of at most %d characters",
				 type ? cfg_show(shown, type) : "(null)", EVENTS_TYPE_MAX);
	return 0;
}

static int check_length(const char *what, const char *s, size_t max, berth_error *err)
{
	if (s && strnlen(s, max + 1) > max)
		return error_set(err, BERTH_E_TOO_LARGE, "event %s is longer than %zu bytes", what,
				 max);
	return 0;
}

static int check_fields(const event_fields *f, berth_error *err)
{
	int rc = check_type(f->type, err);

	if (rc == 0)
		rc = check_length("repository", f->repository, EVENTS_FIELD_MAX, err);
	if (rc == 0)
		rc = check_length("tag", f->tag, EVENTS_FIELD_MAX, err);
	if (rc == 0)
		rc = check_length("digest", f->digest, EVENTS_FIELD_MAX, err);
	if (rc == 0)
		rc = check_length("media_type", f->media_type, EVENTS_FIELD_MAX, err);
	if (rc == 0)
		rc = check_length("identity", f->identity, EVENTS_FIELD_MAX, err);
	if (rc == 0)
		rc = check_length("client", f->client, EVENTS_FIELD_MAX, err);
	if (rc == 0)
		rc = check_length("source", f->source, EVENTS_FIELD_MAX, err);
	return rc;
}

static int check_detail(const char *detail, berth_error *err)
{
	json_error_t jerr;
	json_t *doc;
	int is_object;
	int rc;

	rc = check_length("detail_json", detail, EVENTS_DETAIL_MAX, err);
	if (rc != 0)
		return rc;
	doc = json_loads(detail, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return error_set(err, BERTH_E_INVALID, "event detail_json is not JSON: %s",
				 jerr.text);
	is_object = json_is_object(doc);
	json_decref(doc);
	if (!is_object)
		return error_set(err, BERTH_E_INVALID, "event detail_json is not a JSON object");
	return 0;
}

static size_t text_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static const char *put_text(char **at, const char *s)
{
	char *dst = *at;
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	memcpy(dst, s, n);
	*at += n;
	return dst;
}

static queued_event *event_copy(const event_fields *f, const char *detail)
{
	const char *source = f->source ? f->source : "core";
	size_t size = text_size(f->type) + text_size(f->repository) + text_size(f->tag) +
		      text_size(f->digest) + text_size(f->media_type) + text_size(f->identity) +
		      text_size(f->client) + text_size(source) + text_size(detail);
	queued_event *qe = malloc(sizeof(*qe) + size);
	char *at;

	if (!qe)
		return NULL;
	at = qe->text;
	memset(&qe->ev, 0, sizeof(qe->ev));
	qe->ev.size = sizeof(qe->ev);
	qe->ev.time_ms = clock_ms(CLOCK_REALTIME);
	qe->ev.type = put_text(&at, f->type);
	qe->ev.repository = put_text(&at, f->repository);
	qe->ev.tag = put_text(&at, f->tag);
	qe->ev.digest = put_text(&at, f->digest);
	qe->ev.media_type = put_text(&at, f->media_type);
	qe->ev.length = f->length;
	qe->ev.identity = put_text(&at, f->identity);
	qe->ev.client = put_text(&at, f->client);
	qe->ev.source = put_text(&at, source);
	qe->ev.detail_json = put_text(&at, detail);
	return qe;
}

/* ------------------------------------------------------------------------ */
/* Delivery                                                                 */
/* ------------------------------------------------------------------------ */

static void call_notifier(const notifier *n, void (*fn)(void *, const berth_event *),
			  const berth_event *ev)
{
	int serialized = (n->in->desc.flags & BERTH_PLUGIN_SERIALIZED) != 0;

	if (serialized)
		pthread_mutex_lock(&n->in->serial);
	fn(n->in->state, ev);
	if (serialized)
		pthread_mutex_unlock(&n->in->serial);
}

/* An event the queue cannot take: durable notifiers get it now, the others never. */
static void overflow(const notifier *notifiers, size_t n, int has_volatile,
		     const berth_event *ev)
{
	for (size_t i = 0; i < n; i++)
		if (notifiers[i].durable)
			call_notifier(&notifiers[i], notifiers[i].ops.overflow, ev);
	if (has_volatile)
		count_dropped(1);
}

static void *event_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&q.lock);
	for (;;) {
		queued_event *qe;

		while (!q.count && !q.stopping)
			pthread_cond_wait(&q.wake, &q.lock);
		if (!q.count)
			break;
		/* A notifier may block far longer than the drain allows; what
		 * is left is handed over by events_stop(). */
		if (q.stopping && clock_ms(CLOCK_MONOTONIC) >= q.deadline_ms)
			break;
		qe = q.ring[q.head];
		q.head = (q.head + 1) % q.cap;
		q.count--;
		if (q.count <= q.cap / 2)
			q.warned_full = 0;
		publish_depth();
		pthread_mutex_unlock(&q.lock);

		for (size_t i = 0; i < q.n_notifiers; i++)
			call_notifier(&q.notifiers[i], q.notifiers[i].ops.deliver, &qe->ev);
		free(qe);

		pthread_mutex_lock(&q.lock);
	}
	pthread_mutex_unlock(&q.lock);
	return NULL;
}

static void enqueue(queued_event *qe)
{
	const notifier *notifiers;
	size_t n, cap;
	int has_volatile, warn = 0;

	pthread_mutex_lock(&q.lock);
	if (!q.running) {
		pthread_mutex_unlock(&q.lock);
		log_debug("event %s: no event thread runs; not delivered", qe->ev.type);
		count_dropped(1);
		free(qe);
		return;
	}
	qe->ev.id = q.next_id++;
	if (q.n_notifiers == 0) {
		pthread_mutex_unlock(&q.lock);
		free(qe);
		return;
	}
	if (q.count < q.cap) {
		q.ring[(q.head + q.count) % q.cap] = qe;
		q.count++;
		publish_depth();
		pthread_cond_signal(&q.wake);
		pthread_mutex_unlock(&q.lock);
		return;
	}
	if (!q.warned_full) {
		q.warned_full = 1;
		warn = 1;
	}
	/* events_stop() waits for this count before it frees the notifiers. */
	q.overflows_in_flight++;
	notifiers = q.notifiers;
	n = q.n_notifiers;
	cap = q.cap;
	has_volatile = q.has_volatile;
	pthread_mutex_unlock(&q.lock);

	if (warn)
		log_warn("event queue full (%zu events): %s until it drains", cap,
			 has_volatile ? "dropping events" : "handing events to overflow()");
	overflow(notifiers, n, has_volatile, &qe->ev);
	free(qe);

	pthread_mutex_lock(&q.lock);
	if (--q.overflows_in_flight == 0)
		pthread_cond_broadcast(&q.idle);
	pthread_mutex_unlock(&q.lock);
}

void events_emit(const event_fields *f)
{
	berth_error err = {0};
	const char *detail;
	queued_event *qe;
	int running, listened;

	if (!f)
		return;
	if (check_fields(f, &err) != 0) {
		log_warn("event dropped: %s", err.message);
		count_dropped(1);
		return;
	}
	pthread_mutex_lock(&q.lock);
	running = q.running;
	listened = q.n_notifiers > 0;
	pthread_mutex_unlock(&q.lock);
	if (!running) {
		log_debug("event %s: no event thread runs; not delivered", f->type);
		count_dropped(1);
		return;
	}
	if (!listened)
		return;
	detail = f->detail_json;
	if (detail && check_detail(detail, &err) != 0) {
		log_warn("event %s from %s: %s; sent without it", f->type,
			 f->source ? f->source : "core", err.message);
		detail = NULL;
	}
	qe = event_copy(f, detail);
	if (!qe) {
		log_error("event %s: out of memory; dropped", f->type);
		count_dropped(1);
		return;
	}
	enqueue(qe);
}

static int host_emit(const berth_instance *self, const event_fields *fields)
{
	event_fields f = *fields;
	const char *detail_json = f.detail_json;
	berth_error err = {0};
	queued_event *qe;

	if (!self || check_fields(&f, &err) != 0 ||
	    (detail_json && check_detail(detail_json, &err) != 0)) {
		if (!self)
			error_set(&err, BERTH_E_INVALID, "emit_event needs the instance handle");
		log_plugin(self ? self->name : "plugin", BERTH_LOG_WARN, "emit_event refused: %s",
			   err.message);
		return err.code;
	}
	qe = event_copy(&f, detail_json);
	if (!qe) {
		count_dropped(1);
		return BERTH_E_NOMEM;
	}
	enqueue(qe);
	return 0;
}

int events_host_emit(const berth_instance *self, const char *type, const char *repository,
		     const char *tag, const char *digest_s, const char *detail_json)
{
	event_fields f = {
		.type = type,
		.repository = repository,
		.tag = tag,
		.digest = digest_s,
		.source = self ? self->name : NULL,
		.detail_json = detail_json,
	};

	return host_emit(self, &f);
}

int events_host_emit_request(const berth_instance *self, const berth_request *r,
			     const char *identity, const char *type, const char *repository,
			     const char *tag, const char *digest_s, const char *detail_json)
{
	const http_request *req = r ? http_from_berth(r) : NULL;
	event_fields f = {
		.type = type,
		.repository = repository,
		.tag = tag,
		.digest = digest_s,
		.identity = identity,
		.client = req ? req->client : NULL,
		.source = self ? self->name : NULL,
		.detail_json = detail_json,
	};

	if (!f.identity && req && req->authenticated && req->identity.name[0])
		f.identity = req->identity.name;
	return host_emit(self, &f);
}

/* ------------------------------------------------------------------------ */
/* Start and stop                                                           */
/* ------------------------------------------------------------------------ */

static int collect_notifier(plugin_instance *in, notifier *out, berth_error *err)
{
	const berth_notify_ops *ops = in->desc.notify;
	size_t need = offsetof(berth_notify_ops, deliver) + sizeof(ops->deliver);

	if (ops->size < need)
		return error_set(err, BERTH_E_CONFIG,
				 "%s:%d: plugin '%s': notify table size is %u bytes, host needs at "
				 "least %zu",
				 in->decl_file, in->decl_line, in->name, ops->size, need);
	memset(out, 0, sizeof(*out));
	memcpy(&out->ops, ops, ops->size < sizeof(out->ops) ? ops->size : sizeof(out->ops));
	out->in = in;
	out->durable = (out->ops.flags & BERTH_NOTIFY_DURABLE) != 0;
	if (!out->ops.deliver)
		return error_set(err, BERTH_E_CONFIG,
				 "%s:%d: plugin '%s': notify table has no deliver()", in->decl_file,
				 in->decl_line, in->name);
	/* Durable promises that no event is lost: without overflow() a full
	 * queue would silently break that promise. */
	if (out->durable && !out->ops.overflow)
		return error_set(err, BERTH_E_CONFIG,
				 "%s:%d: plugin '%s': notify table is BERTH_NOTIFY_DURABLE but has "
				 "no overflow()",
				 in->decl_file, in->decl_line, in->name);
	return 0;
}

int events_start(plugin_set *plugins, size_t queue_size, berth_error *err)
{
	notifier *notifiers = NULL;
	queued_event **ring = NULL;
	size_t n = 0;
	int has_volatile = 0;
	int rc = 0;

	if (queue_size == 0)
		queue_size = EVENTS_QUEUE_DEFAULT;
	if (queue_size > EVENTS_QUEUE_MAX)
		return error_set(err, BERTH_E_CONFIG, "event queue size %zu is over the limit of %d",
				 queue_size, EVENTS_QUEUE_MAX);
	pthread_once(&metrics_once, register_metrics);

	notifiers = calloc(plugins && plugins->n ? plugins->n : 1, sizeof(*notifiers));
	ring = calloc(queue_size, sizeof(*ring));
	if (!notifiers || !ring) {
		rc = error_set(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; plugins && i < plugins->n; i++) {
		if (!plugins->v[i].desc.notify)
			continue;
		rc = collect_notifier(&plugins->v[i], &notifiers[n], err);
		if (rc != 0)
			goto out;
		if (!notifiers[n].durable)
			has_volatile = 1;
		n++;
	}

	pthread_mutex_lock(&q.lock);
	if (q.running) {
		pthread_mutex_unlock(&q.lock);
		rc = error_set(err, BERTH_E_INTERNAL, "the event thread is already running");
		goto out;
	}
	q.notifiers = notifiers;
	q.n_notifiers = n;
	q.has_volatile = has_volatile;
	q.ring = ring;
	q.cap = queue_size;
	q.head = q.count = 0;
	q.stopping = 0;
	q.warned_full = 0;
	q.thread_started = 0;
	if (n > 0) {
		int e = pthread_create(&q.thread, NULL, event_thread, NULL);
		if (e != 0) {
			pthread_mutex_unlock(&q.lock);
			q.notifiers = NULL;
			q.ring = NULL;
			rc = error_set(err, BERTH_E_INTERNAL, "cannot start the event thread: %s",
				       strerror(e));
			goto out;
		}
		q.thread_started = 1;
	}
	q.running = 1;
	notifiers = NULL;
	ring = NULL;
	pthread_mutex_unlock(&q.lock);
	if (n > 0)
		log_info("events: %zu notifier%s, queue of %zu", n, n == 1 ? "" : "s", queue_size);
out:
	free(notifiers);
	free(ring);
	return rc;
}

void events_stop(uint64_t drain_timeout_ms)
{
	queued_event **left = NULL;
	size_t n_left = 0;
	notifier *notifiers;
	size_t n_notifiers;
	int has_volatile;

	pthread_mutex_lock(&q.lock);
	if (!q.running || q.stopping) {
		pthread_mutex_unlock(&q.lock);
		return;
	}
	q.stopping = 1;
	q.deadline_ms = clock_ms(CLOCK_MONOTONIC) +
			(int64_t)(drain_timeout_ms > INT32_MAX ? INT32_MAX : drain_timeout_ms);
	pthread_cond_broadcast(&q.wake);
	pthread_mutex_unlock(&q.lock);

	if (q.thread_started)
		pthread_join(q.thread, NULL);

	pthread_mutex_lock(&q.lock);
	q.running = 0;
	while (q.overflows_in_flight > 0)
		pthread_cond_wait(&q.idle, &q.lock);
	if (q.count) {
		left = malloc(q.count * sizeof(*left));
		for (size_t i = 0; i < q.count; i++) {
			queued_event *qe = q.ring[(q.head + i) % q.cap];
			if (left)
				left[n_left++] = qe;
			else
				free(qe);
		}
		if (!left)
			count_dropped(q.count);
	}
	q.count = q.head = 0;
	publish_depth();
	notifiers = q.notifiers;
	n_notifiers = q.n_notifiers;
	has_volatile = q.has_volatile;
	free(q.ring);
	q.ring = NULL;
	q.cap = 0;
	q.notifiers = NULL;
	q.n_notifiers = 0;
	q.thread_started = 0;
	pthread_mutex_unlock(&q.lock);

	if (n_left)
		log_warn("events: %zu event%s still queued after %llu ms: %s", n_left,
			 n_left == 1 ? "" : "s", (unsigned long long)drain_timeout_ms,
			 has_volatile ? "dropped (durable notifiers get them through overflow())"
				      : "handed to overflow()");
	for (size_t i = 0; i < n_left; i++) {
		overflow(notifiers, n_notifiers, has_volatile, &left[i]->ev);
		free(left[i]);
	}
	free(left);
	free(notifiers);

	pthread_mutex_lock(&q.lock);
	q.stopping = 0;
	pthread_mutex_unlock(&q.lock);
}

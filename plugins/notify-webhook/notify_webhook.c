/*
 * notify_webhook.c - the notify-webhook plugin: events POSTed to HTTP
 * endpoints, each through a durable queue of its own on local disk.
 *
 * This file holds the descriptor, the lifecycle and the two notify
 * callbacks, which only filter and append to the wanting endpoints'
 * journals: the POSTs happen on one sender thread per endpoint
 * (webhook_sender.c), so a slow or dead endpoint never holds the event
 * thread, a push, or another endpoint.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "webhook.h"

/* Compact once this much of a journal is delivered (and it is at least half). */
#define COMPACT_MIN (1u * 1024 * 1024)

static int host_usable(const berth_host *host)
{
	return host && BERTH_HOST_HAS(host, instance_name) && host->log && host->config_string &&
	       host->config_int && host->config_bool && host->config_list_count &&
	       host->config_list_string && host->now_ms && host->instance_name;
}

void webhook_metric_add(struct webhook_endpoint *ep, berth_metric *m, double delta)
{
	const char *labels[] = { ep->cfg->name, NULL };

	if (m && ep->st->host->metric_add)
		ep->st->host->metric_add(m, labels, delta);
}

void webhook_log(struct webhook_endpoint *ep, int level, const char *fmt, ...)
		 {
		 char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ep->st->host->log(ep->st->self, level, "endpoint %s: %s", ep->cfg->name, msg);
}

static void publish_depth(void *ctx, uint64_t pending)
{
	struct webhook_endpoint *ep = ctx;
	const char *labels[] = { ep->cfg->name, NULL };

	if (ep->st->m_depth && ep->st->host->metric_set)
		ep->st->host->metric_set(ep->st->m_depth, labels, (double)pending);
}

static void journal_log(void *ctx, int level, const char *message)
{
	webhook_log(ctx, level, "%s", message);
}

static void register_metrics(struct webhook_state *st)
{
	static const char *const labels[] = { "endpoint", NULL };
	const berth_host *h = st->host;

	if (!BERTH_HOST_HAS(h, metric_set) || !h->metric_register)
		return;
	st->m_depth = h->metric_register(st->self, "berth_webhook_queue_depth",
					 "Events queued for a webhook endpoint, not yet delivered",
					 BERTH_METRIC_GAUGE, labels);
	st->m_deliveries = h->metric_register(st->self, "berth_webhook_deliveries_total",
					      "Events a webhook endpoint accepted (2xx)",
					      BERTH_METRIC_COUNTER, labels);
	st->m_failures = h->metric_register(st->self, "berth_webhook_failures_total",
					    "Failed POSTs to a webhook endpoint (each retry counts)",
					    BERTH_METRIC_COUNTER, labels);
	st->m_dead = h->metric_register(st->self, "berth_webhook_dead_letters_total",
					"Events a webhook endpoint never accepted, written to its "
					"dead-letter file",
					BERTH_METRIC_COUNTER, labels);
	st->m_dropped = h->metric_register(st->self, "berth_webhook_dropped_total",
					   "Events that could not be queued for a webhook endpoint "
					   "(queue_max reached, or the disk failed)",
					   BERTH_METRIC_COUNTER, labels);
}

/* Also the cleanup of a start() that failed half way; safe to call twice. */
static void webhook_stop(void *state)
{
	struct webhook_state *st = state;

	for (size_t i = 0; st->endpoints && i < st->set.n_endpoints; i++)
		webhook_sender_stop(&st->endpoints[i]);
	if (st->curl_ready)
		curl_global_cleanup();
	st->curl_ready = 0;
	for (size_t i = 0; st->endpoints && i < st->set.n_endpoints; i++) {
		webhook_journal_close(st->endpoints[i].journal);
		st->endpoints[i].journal = NULL;
	}
}

static void webhook_destroy(void *state)
{
	struct webhook_state *st = state;

	if (!st)
		return;
	webhook_stop(st);
	for (size_t i = 0; st->endpoints && i < st->set.n_endpoints; i++) {
		struct webhook_endpoint *ep = &st->endpoints[i];

		pthread_cond_destroy(&ep->wake);
		pthread_mutex_destroy(&ep->lock);
		pthread_mutex_destroy(&ep->append_lock);
	}
	free(st->endpoints);
	webhook_settings_free(&st->set);
	free(st->registry_host);
	free(st->user_agent);
	free(st);
}

static void endpoint_init(struct webhook_state *st, size_t i)
{
	struct webhook_endpoint *ep = &st->endpoints[i];
	pthread_condattr_t attr;

	ep->st = st;
	ep->cfg = &st->set.endpoints[i];
	ep->sender_lock_fd = -1;
	pthread_mutex_init(&ep->lock, NULL);
	pthread_mutex_init(&ep->append_lock, NULL);
	/* Backoff waits follow the monotonic clock: setting the time does not move them. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&ep->wake, &attr);
	pthread_condattr_destroy(&attr);
	ep->fmt.format = ep->cfg->format;
	ep->fmt.source = st->set.source;
	ep->fmt.instance_id = st->instance_id;
	ep->fmt.registry_url = st->set.registry_url;
	ep->fmt.registry_host = st->registry_host;
	ep->fmt.type_prefix = ep->cfg->type_prefix;
}

static int webhook_create(const berth_host *host, const berth_instance *self,
			  const berth_config *config, void **state, berth_error *err)
{
	struct webhook_state *st;
	int rc;

	*state = NULL;
	if (!host_usable(host))
		return webhook_fail(err, BERTH_E_UNSUPPORTED,
				    "this Berth lacks host services the plugin needs");
	st = calloc(1, sizeof(*st));
	if (!st)
		return webhook_fail(err, BERTH_E_NOMEM, "out of memory");
	st->host = host;
	st->self = self;
	rc = webhook_config_load(host, config, &st->set, err);
	if (rc < 0)
		goto fail;
	if (webhook_uuid(st->instance_id) < 0) {
		rc = webhook_fail(err, BERTH_E_INTERNAL, "no random bytes for the instance id");
		goto fail;
	}
	if (st->set.registry_url)
		st->registry_host = webhook_url_host(st->set.registry_url);
	st->user_agent = webhook_strf("Berth/%s %s/%s", host->version ? host->version : "?",
				       WEBHOOK_PLUGIN_NAME, WEBHOOK_PLUGIN_VERSION);
	if (!st->user_agent) {
		rc = webhook_fail(err, BERTH_E_NOMEM, "out of memory");
		goto fail;
	}
	st->endpoints = calloc(st->set.n_endpoints, sizeof(*st->endpoints));
	if (!st->endpoints) {
		rc = webhook_fail(err, BERTH_E_NOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < st->set.n_endpoints; i++)
		endpoint_init(st, i);
	register_metrics(st);
	*state = st;
	return 0;
fail:
	webhook_destroy(st);
	return rc;
}

/*
 * `berth config check`: the very checks of create(), through the same
 * parser, with nothing kept: no queue folder, no thread, no log line.
 */
static int webhook_check_config(const berth_host *host, const berth_config *config,
				berth_error *err)
{
	struct webhook_settings set;
	int rc;

	if (!host_usable(host))
		return webhook_fail(err, BERTH_E_UNSUPPORTED,
				    "this Berth lacks host services the plugin needs");
	rc = webhook_config_load(host, config, &set, err);
	if (rc == 0)
		webhook_settings_free(&set);
	return rc;
}

static int open_journal(struct webhook_endpoint *ep, berth_error *err)
{
	struct webhook_journal_opts o = {
		.fsync = ep->cfg->fsync,
		.max_pending = ep->cfg->queue_max,
		.compact_min = COMPACT_MIN,
		.on_depth = publish_depth,
		.depth_ctx = ep,
		.log = journal_log,
		.log_ctx = ep,
	};
	char msg[BERTH_ERROR_MESSAGE_MAX];
	int rc = webhook_journal_open(ep->cfg->queue_dir, &o, &ep->journal, err);

	if (rc < 0) {
		snprintf(msg, sizeof(msg), "%s", err->message);
		return webhook_fail(err, rc, "endpoint '%s': %s", ep->cfg->name, msg);
	}
	/* The series exist from the start, so the first increase is seen. */
	webhook_metric_add(ep, ep->st->m_deliveries, 0);
	webhook_metric_add(ep, ep->st->m_failures, 0);
	webhook_metric_add(ep, ep->st->m_dead, 0);
	webhook_metric_add(ep, ep->st->m_dropped, 0);
	publish_depth(ep, 0);
	return 0;
}

static int start_sender(struct webhook_endpoint *ep, berth_error *err)
{
	uint64_t pending = 0;
	char msg[BERTH_ERROR_MESSAGE_MAX];
	int rc;

	/* Before the sender runs: the journal's reading side is the sender's. */
	if (webhook_journal_scan(ep->journal, &pending, err) == 0 && pending > 0)
		webhook_log(ep, BERTH_LOG_INFO, "%llu queued events for %s from before the restart",
			    (unsigned long long)pending, ep->cfg->url_shown);
	rc = webhook_sender_start(ep, err);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "%s", err->message);
		return webhook_fail(err, rc, "endpoint '%s': %s", ep->cfg->name, msg);
	}
	if (!ep->cfg->tls_verify)
		webhook_log(ep, BERTH_LOG_WARN,
			    "tls_verify is off: anyone on the path to %s can read and change events",
			    ep->cfg->url_shown);
	return 0;
}

static int webhook_start(void *state, berth_error *err)
{
	struct webhook_state *st = state;
	const berth_host *h = st->host;
	int serving = !BERTH_HOST_HAS(h, serving) || !h->serving || h->serving();
	int rc = 0;

	for (size_t i = 0; i < st->set.n_endpoints && rc == 0; i++)
		rc = open_journal(&st->endpoints[i], err);
	if (rc < 0)
		goto fail;
	/* Another process (`berth job run`) only queues: the server's senders deliver. */
	if (!serving)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rc = webhook_fail(err, BERTH_E_INTERNAL, "cannot initialise libcurl");
		goto fail;
	}
	st->curl_ready = 1;
	for (size_t i = 0; i < st->set.n_endpoints && rc == 0; i++)
		rc = start_sender(&st->endpoints[i], err);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	webhook_stop(st);
	return rc;
}

/* Queue one event for one endpoint. */
static void queue_for(struct webhook_endpoint *ep, const char *line, size_t len, int rc,
		      berth_error *make_err)
{
	berth_error err = {0};

	if (rc == 0 && !ep->journal)
		rc = webhook_fail(&err, BERTH_E_INTERNAL, "the queue is not open");
	else if (rc == 0)
		rc = webhook_journal_append(ep->journal, line, len, &err);
	else
		err = *make_err;
	pthread_mutex_lock(&ep->append_lock);
	if (rc < 0 && !ep->append_failing)
		webhook_log(ep, BERTH_LOG_ERROR,
			    "cannot queue events for %s, dropping them until it works again: %s",
			    ep->cfg->url_shown, err.message);
	else if (rc == 0 && ep->append_failing)
		webhook_log(ep, BERTH_LOG_INFO, "events are queued again for %s", ep->cfg->url_shown);
	ep->append_failing = rc < 0;
	pthread_mutex_unlock(&ep->append_lock);
	if (rc < 0) {
		webhook_metric_add(ep, ep->st->m_dropped, 1);
		return;
	}
	webhook_sender_wake(ep);
}

/*
 * deliver() and overflow(): the event becomes one record, with one id,
 * appended to every endpoint that wants it. Never waits for an endpoint.
 */
static void queue_event(struct webhook_state *st, const berth_event *ev)
{
	berth_error err = {0};
	char *line = NULL;
	size_t len = 0;
	int rc = 1;

	if (!ev || !ev->type)
		return;
	for (size_t i = 0; i < st->set.n_endpoints; i++) {
		struct webhook_endpoint *ep = &st->endpoints[i];

		if (!webhook_filter_pass(ep->cfg, ev->type, ev->repository))
			continue;
		if (rc > 0)
			rc = webhook_record_make(ev, &line, &len, &err);
		queue_for(ep, line, len, rc, &err);
	}
	free(line);
}

static void webhook_deliver(void *state, const berth_event *ev)
{
	queue_event(state, ev);
}

/* On a request thread, concurrently with deliver(): each journal has its own lock. */
static void webhook_overflow(void *state, const berth_event *ev)
{
	queue_event(state, ev);
}

static const berth_notify_ops webhook_notify_ops = {
	.size = sizeof(berth_notify_ops),
	.flags = BERTH_NOTIFY_DURABLE,
	.deliver = webhook_deliver,
	.overflow = webhook_overflow,
};

static const berth_plugin webhook_plugin = {
	BERTH_PLUGIN_HEADER,
	.name = WEBHOOK_PLUGIN_NAME,
	.version = WEBHOOK_PLUGIN_VERSION,
	.description = "events POSTed to HTTP endpoints (Distribution or CloudEvents), "
		       "through durable queues",
	.config_schema = webhook_config_schema,
	.create = webhook_create,
	.start = webhook_start,
	.stop = webhook_stop,
	.destroy = webhook_destroy,
	.notify = &webhook_notify_ops,
	.check_config = webhook_check_config,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &webhook_plugin;
}

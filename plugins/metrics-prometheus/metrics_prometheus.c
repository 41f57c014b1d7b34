/*
 * metrics_prometheus.c - the metrics-prometheus plugin: Berth's metrics in
 * Prometheus' text format, on a listener of its own (127.0.0.1:5001 by
 * default) and, when asked, at GET /metrics on the registry's port.
 *
 * This file holds the descriptor and the instance's lifecycle, and hands
 * each hook to the file that does the work:
 *   request after()   -> prom_record.c   (requests, bytes, durations, pull failures)
 *   notify deliver()  -> prom_record.c   (pushes, pulls, scan blocks)
 *   route /metrics    -> prom_scrape.c   (the page)
 *   start()           -> prom_listener.c (the own listener), prom_storage.c (refresh)
 */
#include <stdlib.h>
#include <string.h>

#include "prom.h"

/* What the core answers for a path nobody serves, so a disabled route looks absent. */
static const char not_found_body[] =
	"{\"errors\":[{\"code\":\"UNSUPPORTED\",\"message\":\"no such endpoint\",\"detail\":null}]}\n";
static const char unauthorized_body[] = "unauthorized\n";

static int host_usable(const berth_host *host)
{
	return host && BERTH_HOST_HAS(host, respond) && host->log && host->config_string &&
	       host->config_int && host->config_bool && host->request_method &&
	       host->request_path && host->request_route && host->request_repository &&
	       host->request_header && host->response_header && host->respond;
}

static void prom_destroy(void *state)
{
	struct prom_state *st = state;

	if (!st)
		return;
	prom_listener_stop(st);
	prom_families_free(st);
	if (st->storage_lock_ready)
		prom_storage_destroy(&st->storage);
	prom_config_free(&st->cfg);
	free(st);
}

static int prom_create(const berth_host *host, const berth_instance *self,
		       const berth_config *config, void **state, berth_error *err)
{
	struct prom_state *st = NULL;
	int rc;

	*state = NULL;
	if (!host_usable(host))
		return prom_fail(err, BERTH_E_UNSUPPORTED,
				 "this Berth lacks host services the plugin needs");
	st = calloc(1, sizeof(*st));
	if (!st)
		return prom_fail(err, BERTH_E_NOMEM, "out of memory");
	st->host = host;
	st->self = self;
	rc = prom_config_load(host, config, &st->cfg, err);
	if (rc < 0)
		goto fail;
	rc = prom_storage_init(&st->storage);
	if (rc < 0) {
		prom_fail(err, rc, "out of memory");
		goto fail;
	}
	st->storage_lock_ready = 1;
	rc = prom_families_init(st);
	if (rc < 0) {
		prom_fail(err, rc, "out of memory");
		goto fail;
	}
	/* Fixed for the process's life: read /proc/stat once, not per scrape. */
	st->start_time = prom_process_start_time();
	*state = st;
	return 0;
fail:
	prom_destroy(st);
	return rc;
}

static int prom_start(void *state, berth_error *err)
{
	struct prom_state *st = state;
	const berth_host *h = st->host;
	int rc;

	/* A job run beside the server must not fight it for the port. */
	if (!BERTH_HOST_HAS(h, serving) || h->serving()) {
		rc = prom_listener_start(st, err);
		if (rc < 0)
			return rc;
	}
	if (!BERTH_HOST_HAS(h, instances_foreach) || !h->schedule || !h->storage_usage) {
		h->log(st->self, BERTH_LOG_INFO,
		       "this Berth reports no storage usage: no berth_storage_* metrics");
		return 0;
	}
	/*
	 * A missing storage refresh costs four gauges, not the server: it
	 * is logged, and start() still succeeds.
	 */
	rc = h->schedule(st->self, st->cfg.storage_refresh_ms, prom_storage_refresh, st);
	if (rc < 0)
		h->log(st->self, BERTH_LOG_WARN,
		       "cannot schedule the storage refresh (%d): no berth_storage_* metrics", rc);
	return 0;
}

static void prom_stop(void *state)
{
	prom_listener_stop(state);
}

static void prom_after(void *state, const berth_request *req, const berth_request_result *res)
{
	if (req && res)
		prom_record_request(state, req, res);
}

static void prom_deliver(void *state, const berth_event *ev)
{
	if (ev)
		prom_record_event(state, ev);
}

/*
 * GET /metrics on the main port. Public, because Prometheus does not speak
 * the registry's auth: the plugin checks its own bearer_token instead.
 */
static int metrics_route(void *state, berth_request *req, berth_error *err)
{
	struct prom_state *st = state;
	const berth_host *h = st->host;
	const char *path = h->request_path(req);
	char *page = NULL;
	size_t len = 0;
	int rc;

	if (!st->cfg.main_port || !path || strcmp(path, "/metrics") != 0)
		return h->respond(req, 404, "application/json", not_found_body,
				  sizeof(not_found_body) - 1);
	if (!prom_authorized(st, h->request_header(req, "Authorization"))) {
		h->response_header(req, "WWW-Authenticate", "Bearer realm=\"berth-metrics\"");
		return h->respond(req, 401, "text/plain; charset=utf-8", unauthorized_body,
				  sizeof(unauthorized_body) - 1);
	}
	rc = prom_render(st, &page, &len);
	if (rc < 0)
		return prom_fail(err, rc, "cannot build the metrics page: out of memory");
	rc = h->respond(req, 200, PROM_CONTENT_TYPE, page, len);
	free(page);
	return rc;
}

static const berth_request_ops prom_request_ops = {
	.size = sizeof(berth_request_ops),
	.after = prom_after,
};

static const berth_notify_ops prom_notify_ops = {
	.size = sizeof(berth_notify_ops),
	/* Not durable: a dropped event is a missed count, and the host counts drops. */
	.flags = 0,
	.deliver = prom_deliver,
};

static const berth_route metrics_main_route = {
	.size = sizeof(berth_route),
	.method = "GET",
	.path = "/metrics",
	.flags = BERTH_ROUTE_PUBLIC,
	/* A scrape has no body; do not read a large one. */
	.max_body = 1024,
	.handle = metrics_route,
};

static const berth_route *const prom_routes[] = { &metrics_main_route, NULL };

static const berth_plugin prom_plugin = {
	BERTH_PLUGIN_HEADER,
	.name = PROM_PLUGIN_NAME,
	.version = PROM_PLUGIN_VERSION,
	.description = "Prometheus metrics: requests, pulls and pushes, storage, plugins, process",
	.config_schema = prom_config_schema,
	.create = prom_create,
	.start = prom_start,
	.stop = prom_stop,
	.destroy = prom_destroy,
	.request = &prom_request_ops,
	.notify = &prom_notify_ops,
	.routes = prom_routes,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &prom_plugin;
}

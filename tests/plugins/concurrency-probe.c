/*
 * A request hook that measures how many of its calls overlap: before()
 * counts itself in, sleeps, and counts itself out. Built twice: as
 * concurrency-probe (hooks run concurrently on worker threads) and, with
 * PROBE_SERIALIZED, as concurrency-probe-serialized (declares
 * BERTH_PLUGIN_SERIALIZED, so the host must never overlap its calls).
 * GET <route> answers {"max": most calls seen at once}.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "berth/plugin.h"

#ifdef PROBE_SERIALIZED
#define PROBE_NAME "concurrency-probe-serialized"
#define PROBE_PATH "/probe/serialized"
#define PROBE_FLAGS BERTH_PLUGIN_SERIALIZED
#else
#define PROBE_NAME "concurrency-probe"
#define PROBE_PATH "/probe/concurrent"
#define PROBE_FLAGS 0
#endif

typedef struct probe {
	const berth_host *host;
	atomic_int now;
	atomic_int max;
	long sleep_ms;
} probe;

static int probe_create(const berth_host *host, const berth_instance *self,
			const berth_config *config, void **state, berth_error *err)
{
	probe *p = calloc(1, sizeof(*p));

	if (!p)
		return BERTH_E_NOMEM;
	p->host = host;
	p->sleep_ms = (long)host->config_int(config, "sleep_ms", 50);
	*state = p;
	return 0;
}

static void probe_destroy(void *state)
{
	free(state);
}

static int probe_before(void *state, berth_request *req, berth_error *err)
{
	probe *p = state;
	struct timespec ts = {p->sleep_ms / 1000, (p->sleep_ms % 1000) * 1000000};
	int n = atomic_fetch_add(&p->now, 1) + 1;
	int m = atomic_load(&p->max);

	while (n > m && !atomic_compare_exchange_weak(&p->max, &m, n))
		;
	/* Only /v2/ requests are measured, so reading the result is not. */
	if (p->host->request_route(req) == BERTH_ROUTE_BASE)
		nanosleep(&ts, NULL);
	atomic_fetch_sub(&p->now, 1);
	return BERTH_DECLINED;
}

static int probe_max(void *state, berth_request *req, berth_error *err)
{
	probe *p = state;
	char body[64];
	int n = snprintf(body, sizeof(body), "{\"max\":%d}", atomic_load(&p->max));

	return p->host->respond(req, 200, "application/json", body, (size_t)n);
}

static const berth_config_key schema[] = {
	{"sleep_ms", BERTH_CONFIG_INT, 0, "50", "how long each call stays inside the hook"},
	{NULL, BERTH_CONFIG_END, 0, NULL, NULL},
};

static const berth_request_ops request_ops = {
	.size = sizeof(berth_request_ops),
	.before = probe_before,
};

static const berth_route max_route = {
	.size = sizeof(berth_route),
	.method = "GET",
	.path = PROBE_PATH,
	.flags = BERTH_ROUTE_PUBLIC,
	.handle = probe_max,
};

static const berth_route *const routes[] = {&max_route, NULL};

static const berth_plugin descriptor = {
	BERTH_PLUGIN_HEADER,
	.name = PROBE_NAME,
	.version = "1",
	.flags = PROBE_FLAGS,
	.config_schema = schema,
	.create = probe_create,
	.destroy = probe_destroy,
	.request = &request_ops,
	.routes = routes,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &descriptor;
}

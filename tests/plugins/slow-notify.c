/*
 * A notifier that holds the event thread until a gate file exists, then
 * records every event it sees as one line in `out`. Built twice: as
 * slow-notify (may lose events when the queue is full) and, with
 * SLOW_NOTIFY_DURABLE, as slow-notify-durable (gets every event, the ones
 * the queue could not take through overflow()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "berth/plugin.h"

typedef struct slow {
	const berth_host *host;
	const char *gate;
	const char *out;
} slow;

static int slow_create(const berth_host *host, const berth_instance *self,
		       const berth_config *config, void **state, berth_error *err)
{
	slow *s = calloc(1, sizeof(*s));

	if (!s)
		return BERTH_E_NOMEM;
	s->host = host;
	s->gate = host->config_string(config, "gate");
	s->out = host->config_string(config, "out");
	*state = s;
	return 0;
}

static void slow_destroy(void *state)
{
	free(state);
}

static void record(slow *s, const berth_event *ev, const char *how)
{
	FILE *f = fopen(s->out, "a");

	if (!f)
		return;
	fprintf(f, "%s %s %s %s %llu\n", how, ev->type, ev->repository ? ev->repository : "-",
		ev->tag ? ev->tag : "-", (unsigned long long)ev->id);
	fclose(f);
}

static void slow_deliver(void *state, const berth_event *ev)
{
	slow *s = state;
	struct timespec ts = {0, 20 * 1000 * 1000};

	/* Bounded: a test that forgets the gate still ends. */
	for (int i = 0; i < 1500 && access(s->gate, F_OK) != 0; i++)
		nanosleep(&ts, NULL);
	record(s, ev, "deliver");
}

static void slow_overflow(void *state, const berth_event *ev)
{
	record(state, ev, "overflow");
}

static const berth_config_key schema[] = {
	{"gate", BERTH_CONFIG_STRING, BERTH_CONFIG_REQUIRED, NULL, "deliver waits for this file"},
	{"out", BERTH_CONFIG_STRING, BERTH_CONFIG_REQUIRED, NULL, "events are appended here"},
	{NULL, BERTH_CONFIG_END, 0, NULL, NULL},
};

static const berth_notify_ops notify_ops = {
	.size = sizeof(berth_notify_ops),
#ifdef SLOW_NOTIFY_DURABLE
	.flags = BERTH_NOTIFY_DURABLE,
	.overflow = slow_overflow,
#endif
	.deliver = slow_deliver,
};

static const berth_plugin descriptor = {
	BERTH_PLUGIN_HEADER,
#ifdef SLOW_NOTIFY_DURABLE
	.name = "slow-notify-durable",
#else
	.name = "slow-notify",
#endif
	.version = "1",
	.config_schema = schema,
	.create = slow_create,
	.destroy = slow_destroy,
	.notify = &notify_ops,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
#ifndef SLOW_NOTIFY_DURABLE
	(void)slow_overflow;
#endif
	return &descriptor;
}

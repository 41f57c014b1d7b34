/*
 * events.h - what happened (a push, a pull, a delete ...), handed to the
 * notifier plugins off the request path.
 *
 * Emitters copy an event into a bounded queue and return at once; one event
 * thread delivers each event to every notifier, in emission order, one
 * event at a time. A slow notifier delays only other notifications. When
 * the queue is full an event is dropped and counted
 * (berth_events_dropped_total), except that each durable notifier
 * (BERTH_NOTIFY_DURABLE) is handed it through its overflow() on the
 * emitting thread. Every event gets the next id whether it is queued,
 * overflowed or dropped, so a notifier sees a drop as a gap in the ids.
 */
#ifndef BERTH_EVENTS_H
#define BERTH_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "berth/error.h"
#include "berth/plugin.h"
#include "plugin_loader.h"

/* Queue length when none is given (events.queue_size), and the most allowed. */
#define EVENTS_QUEUE_DEFAULT 1024
#define EVENTS_QUEUE_MAX 1048576
/* Longest type ([a-z0-9._-]+), other string field, and detail_json accepted. */
#define EVENTS_TYPE_MAX 64
#define EVENTS_FIELD_MAX 4096
#define EVENTS_DETAIL_MAX (64 * 1024)

typedef struct event_fields {
	const char *type, *repository, *tag, *digest, *media_type;
	uint64_t length;
	/* Any of these may be NULL; source NULL means "core". */
	const char *identity, *client, *source, *detail_json;
} event_fields;

/*
 * Copy the fields into the queue and return at once; never waits for a
 * notifier. Thread-safe. Before events_start() and after events_stop()
 * there is no one to deliver to: the event is counted as dropped and
 * logged at debug level. A detail_json that is not a JSON object is left
 * out with a warning; an event with a bad type or an over-long field is
 * dropped with a warning.
 */
void events_emit(const event_fields *f);

/*
 * Collect the notify table of every instance in `plugins` that has one
 * (copied up to its size; deliver is required, and a durable notifier
 * needs overflow) and start the event thread. queue_size 0 means
 * EVENTS_QUEUE_DEFAULT. The instances must outlive events_stop().
 */
int events_start(plugin_set *plugins, size_t queue_size, berth_error *err);

/*
 * Deliver what is queued for up to drain_timeout_ms (a notifier already
 * running is not interrupted), then stop and join the event thread. Events
 * still queued after the timeout go to the durable notifiers' overflow()
 * and are counted as dropped for the others. Forgets the notifiers.
 * Idempotent.
 */
void events_stop(uint64_t drain_timeout_ms);

/* Events dropped since the process started, for any notifier. */
uint64_t events_dropped(void);
size_t events_queue_depth(void);

/*
 * host->emit_event: source is the instance name. BERTH_E_INVALID for a bad
 * type or a detail_json that is not a JSON object, BERTH_E_TOO_LARGE for
 * an over-long field; otherwise 0, also when the event had to be dropped.
 */
int events_host_emit(const berth_instance *self, const char *type, const char *repository,
		     const char *tag, const char *digest, const char *detail_json);
/* host->emit_request_event: as above, with the request's client and identity. */
int events_host_emit_request(const berth_instance *self, const berth_request *req,
			     const char *identity, const char *type, const char *repository,
			     const char *tag, const char *digest, const char *detail_json);

#endif /* BERTH_EVENTS_H */

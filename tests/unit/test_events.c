/*
 * test_events.c - the event queue: order, copies, drops when full, durable
 * overflow, draining on stop, serialized notifiers and the host service.
 *
 * Notifiers are instances built by hand with static notify tables, the way
 * the loader would leave them, so no .so is needed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "metrics.h"
#include "test.h"

/* ------------------------------------------------------------------------ */
/* A recording notifier                                                     */
/* ------------------------------------------------------------------------ */

#define MAX_SEEN 20000

typedef struct seen_event {
	uint64_t id;
	char type[64];
	char repository[64];
	char source[64];
	char detail[128];
	int has_detail;
	pthread_t thread;
} seen_event;

typedef struct recorder {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	seen_event *delivered;
	size_t n_delivered;
	seen_event *overflowed;
	size_t n_overflowed;
	/* When gated, deliver() waits for the gate to open. */
	int gated;
	int entered;
	/* Set for a serialized instance: deliver() checks that its lock is held. */
	plugin_instance *check_serial;
	int serial_violations;
} recorder;

static void recorder_init(recorder *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->changed, NULL);
	r->delivered = calloc(MAX_SEEN, sizeof(seen_event));
	r->overflowed = calloc(MAX_SEEN, sizeof(seen_event));
}

static void recorder_free(recorder *r)
{
	free(r->delivered);
	free(r->overflowed);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->changed);
}

static void record(seen_event *s, const berth_event *ev)
{
	s->id = ev->id;
	snprintf(s->type, sizeof(s->type), "%s", ev->type ? ev->type : "");
	snprintf(s->repository, sizeof(s->repository), "%s", ev->repository ? ev->repository : "");
	snprintf(s->source, sizeof(s->source), "%s", ev->source ? ev->source : "");
	s->has_detail = ev->detail_json != NULL;
	snprintf(s->detail, sizeof(s->detail), "%s", ev->detail_json ? ev->detail_json : "");
	s->thread = pthread_self();
}

static void *try_serial(void *arg)
{
	plugin_instance *in = arg;
	int rc = pthread_mutex_trylock(&in->serial);

	if (rc == 0)
		pthread_mutex_unlock(&in->serial);
	return (void *)(long)rc;
}

static void deliver(void *state, const berth_event *ev)
{
	recorder *r = state;

	if (r->check_serial) {
		pthread_t t;
		void *res;
		pthread_create(&t, NULL, try_serial, r->check_serial);
		pthread_join(t, &res);
		if ((long)res != EBUSY)
			r->serial_violations++;
	}
	pthread_mutex_lock(&r->lock);
	r->entered++;
	pthread_cond_broadcast(&r->changed);
	while (r->gated)
		pthread_cond_wait(&r->changed, &r->lock);
	if (r->n_delivered < MAX_SEEN)
		record(&r->delivered[r->n_delivered++], ev);
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->lock);
}

static void overflow(void *state, const berth_event *ev)
{
	recorder *r = state;

	pthread_mutex_lock(&r->lock);
	if (r->n_overflowed < MAX_SEEN)
		record(&r->overflowed[r->n_overflowed++], ev);
	pthread_mutex_unlock(&r->lock);
}

static void wait_entered(recorder *r, int n)
{
	pthread_mutex_lock(&r->lock);
	while (r->entered < n)
		pthread_cond_wait(&r->changed, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

static void open_gate(recorder *r)
{
	pthread_mutex_lock(&r->lock);
	r->gated = 0;
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->lock);
}

static const berth_notify_ops volatile_ops = {
	.size = sizeof(berth_notify_ops),
	.deliver = deliver,
};

static const berth_notify_ops durable_ops = {
	.size = sizeof(berth_notify_ops),
	.flags = BERTH_NOTIFY_DURABLE,
	.deliver = deliver,
	.overflow = overflow,
};

/* ------------------------------------------------------------------------ */
/* Instances built by hand                                                  */
/* ------------------------------------------------------------------------ */

static void instance_init(plugin_instance *in, const char *name, const berth_notify_ops *ops,
			  void *state)
{
	pthread_mutexattr_t attr;

	memset(in, 0, sizeof(*in));
	in->name = (char *)name;
	in->decl_file = "test.yaml";
	in->decl_line = 7;
	in->desc.name = name;
	in->desc.notify = ops;
	in->state = state;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&in->serial, &attr);
	pthread_mutexattr_destroy(&attr);
}

static void emit(const char *type, const char *repository)
{
	events_emit(&(event_fields){.type = type, .repository = repository});
}

static double dropped_metric(void);

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

static void test_before_start(void)
{
	uint64_t before = events_dropped();

	emit("push", "a");
	emit("push", "b");
	CHECK_INT(events_dropped(), before + 2);
	CHECK_INT(events_queue_depth(), 0);
	/* Stopping what never started is harmless. */
	events_stop(0);
}

static void test_order_and_copies(void)
{
	recorder r;
	plugin_instance in[2];
	plugin_set set = {in, 2};
	berth_error err = {0};
	char repo[32];

	recorder_init(&r);
	instance_init(&in[0], "storage", NULL, NULL);
	instance_init(&in[1], "hook", &volatile_ops, &r);
	CHECK_INT(events_start(&set, 64, &err), 0);
	CHECK_INT(events_start(&set, 64, &err), BERTH_E_INTERNAL);

	for (int i = 0; i < 50; i++) {
		/* The caller's buffer changes right after: the queue must copy. */
		snprintf(repo, sizeof(repo), "repo-%d", i);
		events_emit(&(event_fields){.type = "push", .repository = repo, .tag = "t",
					    .digest = "sha256:x", .length = 5,
					    .detail_json = i == 3 ? "{\"a\":1}" : NULL});
		memset(repo, 'X', sizeof(repo) - 1);
	}
	events_stop(5000);
	events_stop(5000);

	CHECK_INT(r.n_delivered, 50);
	for (size_t i = 0; i < r.n_delivered; i++) {
		char want[32];
		snprintf(want, sizeof(want), "repo-%zu", i);
		CHECK_STR(r.delivered[i].repository, want);
		CHECK_STR(r.delivered[i].source, "core");
		if (i > 0)
			CHECK(r.delivered[i].id > r.delivered[i - 1].id);
		CHECK(!pthread_equal(r.delivered[i].thread, pthread_self()));
	}
	CHECK(r.delivered[3].has_detail);
	CHECK_STR(r.delivered[3].detail, "{\"a\":1}");
	CHECK(!r.delivered[4].has_detail);
	CHECK_INT(events_queue_depth(), 0);
	recorder_free(&r);
}

static void test_overflow(void)
{
	recorder vol, dur;
	plugin_instance in[2];
	plugin_set set = {in, 2};
	berth_error err = {0};
	uint64_t before;
	double metric_before = dropped_metric();

	recorder_init(&vol);
	recorder_init(&dur);
	vol.gated = 1;
	instance_init(&in[0], "webhook", &volatile_ops, &vol);
	instance_init(&in[1], "audit", &durable_ops, &dur);
	CHECK_INT(events_start(&set, 4, &err), 0);
	before = events_dropped();

	/* The first event is taken by the event thread, which then waits in
	 * the volatile notifier; four more fill the queue. */
	emit("push", "first");
	wait_entered(&vol, 1);
	for (int i = 0; i < 4; i++)
		emit("push", "queued");
	CHECK_INT(events_queue_depth(), 4);
	for (int i = 0; i < 3; i++)
		emit("push", "over");
	CHECK_INT(events_dropped(), before + 3);
	CHECK(dropped_metric() == metric_before + 3);

	/* The durable notifier got the three at once, on this thread. */
	CHECK_INT(dur.n_overflowed, 3);
	for (size_t i = 0; i < dur.n_overflowed; i++) {
		CHECK_STR(dur.overflowed[i].repository, "over");
		CHECK(pthread_equal(dur.overflowed[i].thread, pthread_self()));
	}

	open_gate(&vol);
	events_stop(5000);
	CHECK_INT(vol.n_delivered, 5);
	CHECK_INT(dur.n_delivered, 5);
	/* Ids keep counting through the overflow: a gap shows the drop. */
	CHECK_INT(vol.delivered[4].id - vol.delivered[0].id, 4);
	CHECK(dur.overflowed[0].id > vol.delivered[4].id);
	CHECK_INT(dur.overflowed[2].id - vol.delivered[0].id, 7);

	recorder_free(&vol);
	recorder_free(&dur);
}

static void test_all_durable(void)
{
	recorder dur;
	plugin_instance in[1];
	plugin_set set = {in, 1};
	berth_error err = {0};
	uint64_t before;

	recorder_init(&dur);
	dur.gated = 1;
	instance_init(&in[0], "audit", &durable_ops, &dur);
	CHECK_INT(events_start(&set, 2, &err), 0);
	before = events_dropped();
	emit("push", "first");
	wait_entered(&dur, 1);
	emit("push", "q1");
	emit("push", "q2");
	emit("push", "o1");
	/* Nobody missed it: not a drop. */
	CHECK_INT(events_dropped(), before);
	CHECK_INT(dur.n_overflowed, 1);
	open_gate(&dur);
	events_stop(5000);
	CHECK_INT(dur.n_delivered, 3);
	recorder_free(&dur);
}

static void *open_later(void *arg)
{
	usleep(200 * 1000);
	open_gate(arg);
	return NULL;
}

static void test_drain(void)
{
	recorder vol, dur;
	plugin_instance in[2];
	plugin_set set = {in, 2};
	berth_error err = {0};
	pthread_t t;
	uint64_t before;

	/* Everything queued is delivered when the drain has time. */
	recorder_init(&vol);
	instance_init(&in[0], "webhook", &volatile_ops, &vol);
	vol.gated = 1;
	set.n = 1;
	CHECK_INT(events_start(&set, 1000, &err), 0);
	emit("push", "0");
	wait_entered(&vol, 1);
	for (int i = 1; i < 100; i++)
		emit("push", "n");
	pthread_create(&t, NULL, open_later, &vol);
	events_stop(10000);
	pthread_join(t, NULL);
	CHECK_INT(vol.n_delivered, 100);
	recorder_free(&vol);

	/* A notifier that outlasts the drain: the rest go to overflow() for
	 * the durable one and count as dropped for the volatile one. */
	recorder_init(&vol);
	recorder_init(&dur);
	vol.gated = 1;
	instance_init(&in[0], "webhook", &volatile_ops, &vol);
	instance_init(&in[1], "audit", &durable_ops, &dur);
	set.n = 2;
	CHECK_INT(events_start(&set, 100, &err), 0);
	before = events_dropped();
	emit("push", "0");
	wait_entered(&vol, 1);
	for (int i = 1; i < 10; i++)
		emit("push", "left");
	pthread_create(&t, NULL, open_later, &vol);
	events_stop(50);
	pthread_join(t, NULL);
	CHECK_INT(vol.n_delivered, 1);
	CHECK_INT(dur.n_delivered, 1);
	CHECK_INT(dur.n_overflowed, 9);
	CHECK_INT(events_dropped(), before + 9);
	CHECK_INT(events_queue_depth(), 0);

	/* After stop, events are counted, not delivered. */
	emit("push", "late");
	CHECK_INT(events_dropped(), before + 10);
	CHECK_INT(vol.n_delivered, 1);
	recorder_free(&vol);
	recorder_free(&dur);
}

static void test_serialized(void)
{
	recorder r;
	plugin_instance in[1];
	plugin_set set = {in, 1};
	berth_error err = {0};

	recorder_init(&r);
	instance_init(&in[0], "serial", &volatile_ops, &r);
	in[0].desc.flags = BERTH_PLUGIN_SERIALIZED;
	r.check_serial = &in[0];
	CHECK_INT(events_start(&set, 16, &err), 0);
	emit("push", "a");
	emit("push", "b");
	events_stop(5000);
	CHECK_INT(r.n_delivered, 2);
	CHECK_INT(r.serial_violations, 0);
	recorder_free(&r);
}

static void test_refused_tables(void)
{
	static const berth_notify_ops no_deliver = {.size = sizeof(berth_notify_ops)};
	static const berth_notify_ops durable_no_overflow = {
		.size = sizeof(berth_notify_ops),
		.flags = BERTH_NOTIFY_DURABLE,
		.deliver = deliver,
	};
	static const berth_notify_ops too_small = {.size = 4, .deliver = deliver};
	/* An older plugin whose table ends before overflow: volatile, accepted. */
	static const berth_notify_ops older = {
		.size = offsetof(berth_notify_ops, overflow),
		.deliver = deliver,
		.overflow = overflow,
	};
	plugin_instance in[1];
	plugin_set set = {in, 1};
	berth_error err = {0};
	recorder r;

	recorder_init(&r);
	instance_init(&in[0], "bad", &no_deliver, &r);
	CHECK_INT(events_start(&set, 16, &err), BERTH_E_CONFIG);
	CHECK(strstr(err.message, "test.yaml:7: plugin 'bad'") != NULL);
	CHECK(strstr(err.message, "deliver") != NULL);

	in[0].desc.notify = &durable_no_overflow;
	CHECK_INT(events_start(&set, 16, &err), BERTH_E_CONFIG);
	CHECK(strstr(err.message, "overflow") != NULL);

	in[0].desc.notify = &too_small;
	CHECK_INT(events_start(&set, 16, &err), BERTH_E_CONFIG);
	CHECK(strstr(err.message, "size") != NULL);

	CHECK_INT(events_start(&set, EVENTS_QUEUE_MAX + 1, &err), BERTH_E_CONFIG);

	/* A refused start leaves nothing running. */
	in[0].desc.notify = &older;
	CHECK_INT(events_start(&set, 16, &err), 0);
	emit("push", "x");
	events_stop(5000);
	CHECK_INT(r.n_delivered, 1);
	recorder_free(&r);
}

static void test_detail_and_host(void)
{
	recorder r;
	plugin_instance in[1];
	plugin_set set = {in, 1};
	berth_error err = {0};
	char *big;

	recorder_init(&r);
	instance_init(&in[0], "scanner", &volatile_ops, &r);
	CHECK_INT(events_start(&set, 64, &err), 0);

	/* Core events with a bad detail still go out, without it. */
	events_emit(&(event_fields){.type = "push", .detail_json = "[1,2]"});
	events_emit(&(event_fields){.type = "push", .detail_json = "{\"a\":"});
	events_emit(&(event_fields){.type = "push", .detail_json = "{\"a\":1,\"a\":2}"});
	/* A bad type is dropped. */
	events_emit(&(event_fields){.type = "Push!"});
	events_emit(&(event_fields){.type = NULL});
	events_emit(NULL);

	CHECK_INT(events_host_emit(&in[0], "scan.done", "app", "v1", "sha256:abc",
				   "{\"critical\":0}"),
		  0);
	CHECK_INT(events_host_emit(&in[0], "scan.done", NULL, NULL, NULL, NULL), 0);
	CHECK_INT(events_host_emit(&in[0], "scan.done", NULL, NULL, NULL, "\"text\""),
		  BERTH_E_INVALID);
	CHECK_INT(events_host_emit(&in[0], "scan.done", NULL, NULL, NULL, "{"), BERTH_E_INVALID);
	CHECK_INT(events_host_emit(&in[0], "", NULL, NULL, NULL, NULL), BERTH_E_INVALID);
	CHECK_INT(events_host_emit(&in[0], NULL, NULL, NULL, NULL, NULL), BERTH_E_INVALID);
	CHECK_INT(events_host_emit(&in[0], "a\nb", NULL, NULL, NULL, NULL), BERTH_E_INVALID);
	CHECK_INT(events_host_emit(NULL, "scan.done", NULL, NULL, NULL, NULL), BERTH_E_INVALID);

	big = malloc(EVENTS_DETAIL_MAX + 10);
	memset(big, 'a', EVENTS_DETAIL_MAX + 9);
	big[EVENTS_DETAIL_MAX + 9] = '\0';
	CHECK_INT(events_host_emit(&in[0], "scan.done", big, NULL, NULL, NULL),
		  BERTH_E_TOO_LARGE);
	big[0] = '{';
	CHECK_INT(events_host_emit(&in[0], "scan.done", NULL, NULL, NULL, big),
		  BERTH_E_TOO_LARGE);
	free(big);

	events_stop(5000);
	CHECK_INT(r.n_delivered, 5);
	if (r.n_delivered == 5) {
		CHECK(!r.delivered[0].has_detail);
		CHECK(!r.delivered[1].has_detail);
		CHECK(!r.delivered[2].has_detail);
		CHECK_STR(r.delivered[3].type, "scan.done");
		CHECK_STR(r.delivered[3].source, "scanner");
		CHECK_STR(r.delivered[3].repository, "app");
		CHECK_STR(r.delivered[3].detail, "{\"critical\":0}");
	}
	recorder_free(&r);
}

enum { EMITTERS = 8, PER_EMITTER = 1000 };

static void *emitter(void *arg)
{
	char repo[32];

	for (int i = 0; i < PER_EMITTER; i++) {
		snprintf(repo, sizeof(repo), "%ld/%d", (long)arg, i);
		emit("pull", repo);
	}
	return NULL;
}

static void test_concurrent_emitters(void)
{
	recorder r;
	plugin_instance in[1];
	plugin_set set = {in, 1};
	berth_error err = {0};
	pthread_t t[EMITTERS];
	int next[EMITTERS] = {0};
	int out_of_order = 0;

	recorder_init(&r);
	instance_init(&in[0], "hook", &volatile_ops, &r);
	CHECK_INT(events_start(&set, EMITTERS * PER_EMITTER, &err), 0);
	for (long i = 0; i < EMITTERS; i++)
		pthread_create(&t[i], NULL, emitter, (void *)i);
	for (int i = 0; i < EMITTERS; i++)
		pthread_join(t[i], NULL);
	events_stop(30000);

	CHECK_INT(r.n_delivered, EMITTERS * PER_EMITTER);
	for (size_t i = 0; i < r.n_delivered; i++) {
		long who;
		int seq;
		if (sscanf(r.delivered[i].repository, "%ld/%d", &who, &seq) != 2 || who < 0 ||
		    who >= EMITTERS || seq != next[who]++)
			out_of_order++;
		if (i > 0 && r.delivered[i].id <= r.delivered[i - 1].id)
			out_of_order++;
	}
	/* Each emitter's events arrive in the order it emitted them. */
	CHECK_INT(out_of_order, 0);
	recorder_free(&r);
}

static double found_value;

static void find_dropped(void *ctx, const char *name, const char *help, int type,
			 const char *labels, double value)
{
	(void)ctx, (void)help, (void)type, (void)labels;
	if (strcmp(name, "berth_events_dropped_total") == 0)
		found_value = value;
}

static double dropped_metric(void)
{
	found_value = -1;
	metrics_foreach(find_dropped, NULL);
	return found_value;
}

static void test_metric(void)
{
	CHECK(dropped_metric() == (double)events_dropped());
}

int main(void)
{
	test_before_start();
	test_order_and_copies();
	test_overflow();
	test_all_durable();
	test_drain();
	test_serialized();
	test_refused_tables();
	test_detail_and_host();
	test_concurrent_emitters();
	test_metric();
	TEST_MAIN_END();
}

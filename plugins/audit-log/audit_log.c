/*
 * audit_log.c - the audit-log plugin: one JSON line per security-relevant
 * act (login, push, pull, delete, mount, refusal) in a file of its own.
 *
 * This file holds the descriptor and the instance's lifecycle, and wires
 * the hooks to the files that do the work:
 *   request after()    -> audit_record.c (refusals) -> audit_line.c -> audit_file.c
 *   notify deliver()   -> audit_record.c (acts)     -> audit_line.c -> audit_file.c
 *   notify overflow()  the same, on the emitting thread, when the event queue is full
 *   reopen()           -> audit_file.c (SIGHUP / SIGUSR1, after logrotate)
 */
#include <stdlib.h>
#include <string.h>

#include "audit.h"

/* How long a writer waits for the file held by another (a hung disk). */
#define AUDIT_LOCK_WAIT_MS 2000

struct audit_state {
	const berth_host *host;
	const berth_instance *self;
	struct audit_config cfg;
	struct audit_file *file;
	berth_metric *failures;
	berth_metric *lines;
	const char *metric_labels[2];   /* the instance name, for both metrics */
};

static int host_usable(const berth_host *host)
{
	return host && BERTH_HOST_HAS(host, metric_add) && host->log && host->config_string &&
	       host->config_int && host->config_bool && host->config_list_count &&
	       host->config_list_string && host->now_ms && host->instance_name &&
	       host->request_method && host->request_path && host->request_route &&
	       host->request_repository && host->request_reference && host->request_header &&
	       host->request_client && host->request_identity && host->metric_register &&
	       host->metric_add;
}

/* ------------------------------------------------------------------------ */
/* What the file reports, to the host                                       */
/* ------------------------------------------------------------------------ */

static void file_log(void *ctx, int level, const char *message)
{
	struct audit_state *st = ctx;

	st->host->log(st->self, level, "%s", message);
}

static void file_lost(void *ctx)
{
	struct audit_state *st = ctx;

	if (st->failures)
		st->host->metric_add(st->failures, st->metric_labels, 1);
}

static void file_written(void *ctx)
{
	struct audit_state *st = ctx;

	if (st->lines)
		st->host->metric_add(st->lines, st->metric_labels, 1);
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                */
/* ------------------------------------------------------------------------ */

static void audit_destroy(void *state)
{
	struct audit_state *st = state;

	if (!st)
		return;
	audit_file_close(st->file);
	audit_config_free(&st->cfg);
	free(st);
}

static void register_metrics(struct audit_state *st)
{
	/* Not "instance", which Prometheus keeps for the scrape target. */
	static const char *const label_names[] = {"plugin_instance", NULL};
	const berth_host *h = st->host;

	st->metric_labels[0] = h->instance_name(st->self);
	st->metric_labels[1] = NULL;
	st->failures = h->metric_register(
		st->self, "berth_audit_write_failures_total",
		"Audit lines that could not be written (disk full, unwritable file, hung disk)",
		BERTH_METRIC_COUNTER, label_names);
	st->lines = h->metric_register(st->self, "berth_audit_lines_total",
				       "Audit lines written", BERTH_METRIC_COUNTER, label_names);
	if (!st->failures || !st->lines)
		h->log(st->self, BERTH_LOG_WARN,
		       "cannot register the audit metrics: the lines are written, not counted");
}

static int audit_create(const berth_host *host, const berth_instance *self,
			const berth_config *config, void **state, berth_error *err)
{
	struct audit_state *st;
	struct audit_file_options opt;
	struct audit_file_events ev;
	int rc;

	*state = NULL;
	if (!host_usable(host))
		return audit_fail(err, BERTH_E_UNSUPPORTED,
				  "this Berth lacks host services the plugin needs");
	st = calloc(1, sizeof(*st));
	if (!st)
		return audit_fail(err, BERTH_E_NOMEM, "out of memory");
	st->host = host;
	st->self = self;
	rc = audit_config_load(host, config, &st->cfg, err);
	if (rc < 0)
		goto fail;
	register_metrics(st);
	opt = (struct audit_file_options){
		.path = st->cfg.path,
		.fsync = st->cfg.fsync,
		.fsync_interval_ms = st->cfg.fsync_interval_ms,
		.max_size = st->cfg.max_size,
		.keep = st->cfg.keep,
		.mode = st->cfg.mode,
		.lock_wait_ms = AUDIT_LOCK_WAIT_MS,
	};
	ev = (struct audit_file_events){
		.ctx = st,
		.log = file_log,
		.lost = file_lost,
		.written = file_written,
	};
	rc = audit_file_open(&opt, &ev, &st->file, err);
	if (rc < 0)
		goto fail;
	*state = st;
	return 0;
fail:
	audit_destroy(st);
	return rc;
}

/* The interval policy's tick: what was written since the last sync reaches the disk. */
static void audit_tick(void *arg)
{
	struct audit_state *st = arg;

	audit_file_sync(st->file);
}

static int audit_start(void *state, berth_error *err)
{
	struct audit_state *st = state;
	const berth_host *h = st->host;
	static const char *const fsync_names[] = {"never", "interval", "always"};
	int64_t every;
	int rc;

	(void)err;
	h->log(st->self, BERTH_LOG_INFO, "writing to '%s' (fsync %s, rotate at %llu bytes, keep %d)",
	       st->cfg.path, fsync_names[st->cfg.fsync], (unsigned long long)st->cfg.max_size,
	       st->cfg.keep);
	if (st->cfg.fsync != AUDIT_FSYNC_INTERVAL || !BERTH_HOST_HAS(h, schedule) || !h->schedule)
		return 0;
	/* Writes sync once the interval has passed; the tick syncs the last
	 * lines of a burst, after which nothing would write again. */
	every = st->cfg.fsync_interval_ms < 1000 ? 1000 : st->cfg.fsync_interval_ms;
	rc = h->schedule(st->self, (uint64_t)every, audit_tick, st);
	if (rc < 0)
		h->log(st->self, BERTH_LOG_WARN,
		       "cannot schedule the fsync tick (%d): lines are synced as more are written",
		       rc);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Hooks                                                                    */
/* ------------------------------------------------------------------------ */

static void write_record(struct audit_state *st, struct audit_record *r)
{
	size_t len = 0;
	char *line = audit_line_format(r, &len);

	if (!line) {
		file_lost(st);
		st->host->log(st->self, BERTH_LOG_ERROR, "out of memory: an audit line is lost");
		return;
	}
	audit_file_write(st->file, line, len);
	free(line);
}

static void audit_event(void *state, const berth_event *ev)
{
	struct audit_state *st = state;
	struct audit_record r;

	if (!ev || !audit_record_from_event(&st->cfg.filter, ev, &r))
		return;
	write_record(st, &r);
	audit_record_release(&r);
}

static void audit_after(void *state, const berth_request *req, const berth_request_result *res)
{
	struct audit_state *st = state;
	const berth_host *h = st->host;
	struct audit_request q;
	struct audit_record r;

	if (!req || !res)
		return;
	/* Most requests succeed: decide before asking the host anything more. */
	if (res->status != 401 && res->status != 403)
		return;
	q = (struct audit_request){
		.time_ms = h->now_ms(),
		.method = h->request_method(req),
		.route = h->request_route(req),
		.path = h->request_path(req),
		.repository = h->request_repository(req),
		.reference = h->request_reference(req),
		.client = h->request_client(req),
		.identity = h->request_identity(req),
		/* Whether it came, never what it says. */
		.has_credentials = h->request_header(req, "Authorization") != NULL,
		.status = res->status,
		.error_code = res->error_code,
		/* A host older than the member gives no message: the line says null. */
		.error_message = res->size >= offsetof(berth_request_result, error_message) +
						      sizeof(res->error_message)
					 ? res->error_message
					 : NULL,
		.pull_allowed = -1,
	};
	/* Without allowed() (an older Berth) a gate's refusal is written twice. */
	if (audit_request_needs_pull_check(&q) && q.repository && *q.repository &&
	    BERTH_HOST_HAS(h, allowed) && h->allowed) {
		berth_access pull = {.type = "repository", .name = q.repository, .action = "pull"};

		q.pull_allowed = h->allowed(req, &pull) ? 1 : 0;
	}
	if (audit_record_from_request(&st->cfg.filter, &q, &r))
		write_record(st, &r);
}

static void audit_reopen(void *state)
{
	struct audit_state *st = state;

	if (st)
		audit_file_reopen(st->file);
}

static const berth_request_ops audit_request_ops = {
	.size = sizeof(berth_request_ops),
	.after = audit_after,
};

static const berth_notify_ops audit_notify_ops = {
	.size = sizeof(berth_notify_ops),
	/* An audit trail must not lose an act because the event queue was full. */
	.flags = BERTH_NOTIFY_DURABLE,
	.deliver = audit_event,
	.overflow = audit_event,
};

static const berth_plugin audit_plugin = {
	BERTH_PLUGIN_HEADER,
	.name = AUDIT_PLUGIN_NAME,
	.version = AUDIT_PLUGIN_VERSION,
	.description = "one JSON line per security-relevant act: logins, pushes, pulls, deletes, "
		       "refusals",
	.config_schema = audit_config_schema,
	.create = audit_create,
	.start = audit_start,
	.destroy = audit_destroy,
	.request = &audit_request_ops,
	.notify = &audit_notify_ops,
	.reopen = audit_reopen,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &audit_plugin;
}

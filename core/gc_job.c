/*
 * gc_job.c - garbage collection as the core's built-in job `gc`: run on
 * the server's schedule (jobs: {gc: {schedule: ...}}), by hand with
 * `berth job run gc` or POST /berth/v1/jobs/gc. In the server the write
 * barrier protects pushes in flight; the run ends with the event
 * gc.completed and the berth_gc_* counters.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "events.h"
#include "gc.h"
#include "jobs.h"
#include "metrics.h"

static struct {
	pthread_once_t once;
	berth_metric *runs, *blobs, *bytes, *links, *uploads, *last_success;
} m = {.once = PTHREAD_ONCE_INIT};

static void register_metrics(void)
{
	static const char *const result[] = {"result", NULL};

	m.runs = metrics_register("core", "berth_gc_runs_total",
				  "Garbage collection runs by result (ok, failed, dry_run)",
				  BERTH_METRIC_COUNTER, result);
	m.blobs = metrics_register("core", "berth_gc_blobs_deleted_total",
				   "Blobs deleted by garbage collection", BERTH_METRIC_COUNTER, NULL);
	m.bytes = metrics_register("core", "berth_gc_bytes_freed_total",
				   "Bytes of blobs and abandoned uploads freed by garbage collection",
				   BERTH_METRIC_COUNTER, NULL);
	m.links = metrics_register("core", "berth_gc_layer_links_deleted_total",
				   "Repository layer links no manifest referenced, removed by "
				   "garbage collection",
				   BERTH_METRIC_COUNTER, NULL);
	m.uploads = metrics_register("core", "berth_gc_uploads_purged_total",
				     "Abandoned uploads removed by garbage collection",
				     BERTH_METRIC_COUNTER, NULL);
	m.last_success = metrics_register("core", "berth_gc_last_success_timestamp_seconds",
					  "When the last successful garbage collection ended",
					  BERTH_METRIC_GAUGE, NULL);
}

void gc_metrics_register(void)
{
	pthread_once(&m.once, register_metrics);
}

static void print_line(void *ctx, const char *line)
{
	jobs_host_print(ctx, "%s", line);
}

int gc_job_run(void *state, berth_job_run *run, berth_error *err)
{
	gc_options o = *(const gc_options *)state;
	gc_report r;
	const char *result[2] = {NULL, NULL};
	char *detail;
	int rc;

	gc_metrics_register();
	o.dry_run = jobs_host_dry_run(run);
	rc = gc_run(&o, &r, print_line, run, err);
	result[0] = rc != 0 ? "failed" : o.dry_run ? "dry_run" : "ok";
	metrics_add(m.runs, result, 1);
	if (rc != 0 || o.dry_run)
		return rc;
	metrics_add(m.blobs, NULL, (double)r.blobs_deleted);
	metrics_add(m.bytes, NULL, (double)(r.bytes_freed + r.upload_bytes_freed));
	metrics_add(m.links, NULL, (double)r.links_deleted);
	metrics_add(m.uploads, NULL, (double)r.uploads_purged);
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		metrics_set(m.last_success, NULL, (double)ts.tv_sec);
	}
	detail = gc_report_json(&r, 0);
	events_emit(&(event_fields){
		.type = "gc.completed",
		.source = "core",
		.detail_json = detail,
	});
	free(detail);
	return 0;
}

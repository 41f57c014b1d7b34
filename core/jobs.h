/*
 * jobs.h - plugins' named jobs: on demand (`berth job run`, the admin
 * endpoint) and on a schedule (the job thread of `berth serve`), plus the
 * periodic callbacks plugins register with host->schedule.
 *
 * One job runs at a time in the process: the job thread and jobs_run()
 * share one lock, so a job started through the admin endpoint waits for a
 * scheduled one to finish, and the other way round.
 *
 * Lifecycle (serve): runtime_open() -> jobs_init() -> jobs_start() ...
 * jobs_stop() -> jobs_free() -> runtime_close(). Plugins register
 * host->schedule callbacks from start(), so before jobs_init(); they are
 * kept until jobs_free().
 */
#ifndef BERTH_JOBS_H
#define BERTH_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "berth/error.h"
#include "berth/plugin.h"
#include "config.h"
#include "http.h"
#include "plugin_loader.h"

#define JOB_NAME_MAX 64
/* Most jobs one plugin may declare, and schedule callbacks in all. */
#define JOBS_MAX_PER_PLUGIN 256
#define JOBS_MAX_SCHEDULES 256
/* Shortest interval of a schedule and of host->schedule. */
#define JOBS_MIN_INTERVAL_MS 1000
/* Longest interval of an "every" schedule: a year. */
#define JOBS_MAX_INTERVAL_MS (366ull * 24 * 3600 * 1000)
/* Output kept for the caller of jobs_run(); the log gets all of it. */
#define JOB_OUTPUT_MAX (1024 * 1024)

/* ------------------------------------------------------------------------ */
/* Schedules                                                                */
/* ------------------------------------------------------------------------ */

enum job_schedule_kind {
	JOB_ON_DEMAND = 0,
	JOB_EVERY,              /* interval_ms after the previous run started */
	JOB_DAILY               /* at minute_of_day, UTC */
};

typedef struct job_schedule {
	int kind;
	uint64_t interval_ms;
	int minute_of_day;
} job_schedule;

#define JOB_SCHEDULE_TEXT_MAX 32

/*
 * "every DURATION" (a config duration: 30s, 10m, 6h, 1d, 1h30m; at least
 * 1s), "daily HH:MM" (UTC, 24-hour), or NULL, "" or "off" for on demand
 * only. BERTH_E_INVALID with a message saying what is accepted.
 */
int job_schedule_parse(const char *text, job_schedule *out, berth_error *err);
/* The canonical text: "every 6h", "daily 03:30", "" for on demand. */
void job_schedule_format(const job_schedule *s, char *buf, size_t cap);
/*
 * When a job with this schedule is next due, after `now_ms`: for JOB_EVERY
 * now + interval (on whatever clock now is read from), for JOB_DAILY the
 * next HH:MM strictly after now (now in ms since the epoch); -1 on demand.
 */
int64_t job_schedule_next(const job_schedule *s, int64_t now_ms);

/* ------------------------------------------------------------------------ */
/* Output                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * What a job printed through host->job_print: lines, each ending in '\n',
 * with control bytes and invalid UTF-8 replaced by '?'. Past
 * JOB_OUTPUT_MAX bytes, lines are no longer kept (truncated is set) but
 * still logged and passed to on_line. Zero-initialise; free the text with
 * job_output_free().
 */
typedef struct job_output {
	char *text;
	size_t len, cap;
	size_t n_lines;
	int truncated;
	/* Called with each line (no '\n') as it is printed, when set. */
	void (*on_line)(void *ctx, const char *line);
	void *ctx;
} job_output;

void job_output_free(job_output *out);

/* ------------------------------------------------------------------------ */
/* The job registry and thread                                              */
/* ------------------------------------------------------------------------ */

/*
 * Collect every job of every instance (copied up to min(its size, the
 * host's)), check names ([a-z0-9-]+, unique across instances), run()
 * and schedules, then apply the operator's overrides from the top-level
 * `jobs:` map of cfg (cfg may be NULL):
 *
 *   jobs:
 *     retention: {schedule: "daily 03:30"}
 *     gc: {schedule: off}
 *
 * Errors name the plugin's declaration or the YAML's file:line. Replaces
 * the jobs of a previous jobs_init(); the job thread must not run.
 */
int jobs_init(plugin_set *plugins, const server_config *cfg, berth_error *err);

/* Start the job thread: scheduled jobs when due, host->schedule callbacks. */
int jobs_start(berth_error *err);
/* Stop the job thread, after the job or callback it is running returns. Idempotent. */
void jobs_stop(void);
/* Forget the jobs and schedule callbacks (they point into plugins about to be unloaded). */
void jobs_free(void);

/*
 * Run the job `name` now on the calling thread (after the one running, if
 * any). What it prints goes to the log and, when out is given, to out.
 * Returns the job's result: 0, or its negative code with its message in
 * err; BERTH_E_NOT_FOUND when no job has that name.
 */
int jobs_run(const char *name, int dry_run, job_output *out, berth_error *err);

typedef struct job_info {
	char name[JOB_NAME_MAX + 1];
	char instance[128];
	const char *description;        /* "" when none; valid until jobs_free() */
	char schedule[JOB_SCHEDULE_TEXT_MAX];   /* canonical; "" on demand */
	int64_t last_run_ms;            /* start of the last run, 0 if none */
	int last_result;                /* of that run */
	char last_error[BERTH_ERROR_MESSAGE_MAX];
	int64_t next_run_ms;            /* 0 when not scheduled or the thread is not running */
	int running;
} job_info;

size_t jobs_count(void);
/* The i-th job in declaration order; BERTH_E_NOT_FOUND past the end. */
int jobs_info(size_t i, job_info *out);

/* ------------------------------------------------------------------------ */
/* Front ends                                                               */
/* ------------------------------------------------------------------------ */

/*
 * The admin endpoint, called by the router after authorization
 * (registry:jobs:run):
 *   GET  /berth/v1/jobs                    name NULL: the list
 *   POST /berth/v1/jobs/NAME[?dry_run=1]   run NAME and answer with its output
 */
void jobs_http(http_request *req, const char *name);
/* The JSON bodies of those answers (new references; NULL when out of memory). */
json_t *jobs_list_json(void);
json_t *jobs_result_json(const char *name, int dry_run, int rc, const berth_error *err,
			 const job_output *out);

/* ------------------------------------------------------------------------ */
/* Host services (berth_host)                                               */
/* ------------------------------------------------------------------------ */

int jobs_host_dry_run(const berth_job_run *run);
void jobs_host_print(berth_job_run *run, const char *fmt, ...) BERTH_PRINTF(2, 3);
int jobs_host_schedule(const berth_instance *self, uint64_t interval_ms, void (*fn)(void *arg),
		       void *arg);

#endif /* BERTH_JOBS_H */

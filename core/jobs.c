/*
 * jobs.c - the job registry, schedules, the job thread and running a job
 * (see jobs.h). The front ends, `berth job` and the admin endpoint, are in
 * job_command.c.
 *
 * Locks: `lock` guards the bookkeeping (last run, next due, the schedule
 * callbacks) and is never held while plugin code runs, so the list stays
 * readable during a long job; `run_lock` is held for the whole of a run and
 * makes jobs run one at a time; `print_lock` keeps the output whole when a
 * job prints from threads of its own.
 *
 * "every" schedules and host->schedule callbacks count on the monotonic
 * clock, so setting the wall clock neither skips nor repeats them; "daily"
 * schedules follow the wall clock (UTC), which the thread re-reads at
 * least once a minute.
 */
#include "jobs.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config_node.h"
#include "errors.h"
#include "gc.h"
#include "log.h"
#include "metrics.h"
#include "utf8.h"

#define DAY_MS (24 * 3600 * 1000LL)
/* Longest the job thread sleeps before it looks at the clocks again. */
#define JOBS_RECHECK_MS 60000

typedef struct job_entry {
	char name[JOB_NAME_MAX + 1];
	char *description;
	job_schedule sched;
	char schedule_text[JOB_SCHEDULE_TEXT_MAX];
	plugin_instance *in;
	int (*run)(void *state, berth_job_run *run, berth_error *err);

	/* under jobs.lock */
	int64_t next_due;       /* monotonic (every) or wall (daily) ms; 0 = not planned */
	int64_t last_run_ms;
	int last_result;
	char last_error[BERTH_ERROR_MESSAGE_MAX];
	int running;
} job_entry;

typedef struct schedule_entry {
	plugin_instance *in;
	uint64_t interval_ms;
	void (*fn)(void *arg);
	void *arg;
	int64_t next_due;       /* monotonic ms; 0 = not planned */
} schedule_entry;

struct berth_job_run {
	const job_entry *job;
	int dry_run;
	job_output *out;
};

static pthread_once_t jobs_once = PTHREAD_ONCE_INIT;

static struct {
	pthread_mutex_t lock;
	pthread_mutex_t run_lock;
	pthread_mutex_t print_lock;
	pthread_cond_t wake;            /* on the monotonic clock */
	job_entry *jobs;
	size_t n_jobs;
	schedule_entry schedules[JOBS_MAX_SCHEDULES];
	size_t n_schedules;
	pthread_t thread;
	int thread_running;
	int stopping;
	berth_metric *runs_total;
} jobs = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.run_lock = PTHREAD_MUTEX_INITIALIZER,
	.print_lock = PTHREAD_MUTEX_INITIALIZER,
};

static void jobs_setup(void)
{
	static const char *const labels[] = {"job", "result", NULL};
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&jobs.wake, &attr);
	pthread_condattr_destroy(&attr);
	jobs.runs_total = metrics_register("core", "berth_jobs_runs_total",
					   "Job runs by job and result (ok or failed)",
					   BERTH_METRIC_COUNTER, labels);
}

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

BERTH_PRINTF(3, 4)
static void log_plugin(const char *tag, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_tagged_v(tag, level, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* Schedules                                                                */
/* ------------------------------------------------------------------------ */

static const char schedule_help[] =
	"expected \"every DURATION\" (30s, 10m, 6h, 1d), \"daily HH:MM\" (UTC) or \"off\"";

static int digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* "H:MM" or "HH:MM" -> minutes after midnight, or -1. */
static int parse_clock(const char *s)
{
	size_t len = strlen(s);
	size_t h_len = len == 5 ? 2 : len == 4 ? 1 : 0;
	int h, m;

	if (!h_len || s[h_len] != ':' || !digits(s, h_len) || !digits(s + h_len + 1, 2))
		return -1;
	h = h_len == 2 ? (s[0] - '0') * 10 + (s[1] - '0') : s[0] - '0';
	m = (s[h_len + 1] - '0') * 10 + (s[h_len + 2] - '0');
	if (h > 23 || m > 59)
		return -1;
	return h * 60 + m;
}

int job_schedule_parse(const char *text, job_schedule *out, berth_error *err)
{
	char shown[CFG_SHOW_MAX];
	char buf[64];
	const char *arg;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (!text)
		return 0;
	while (*text == ' ' || *text == '\t')
		text++;
	len = strnlen(text, sizeof(buf));
	if (len >= sizeof(buf))
		goto bad;
	memcpy(buf, text, len + 1);
	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		buf[--len] = '\0';
	if (len == 0 || strcmp(buf, "off") == 0)
		return 0;

	if (strncmp(buf, "every", 5) == 0 && (buf[5] == ' ' || buf[5] == '\t')) {
		uint64_t ms;

		for (arg = buf + 5; *arg == ' ' || *arg == '\t'; arg++)
			;
		if (config_parse_duration_ms(arg, &ms) != 0)
			goto bad;
		if (ms < JOBS_MIN_INTERVAL_MS || ms > JOBS_MAX_INTERVAL_MS)
			return error_set(err, BERTH_E_INVALID,
					 "invalid schedule '%s': the interval must be between 1s "
					 "and 366d",
					 cfg_show(shown, text));
		out->kind = JOB_EVERY;
		out->interval_ms = ms;
		return 0;
	}
	if (strncmp(buf, "daily", 5) == 0 && (buf[5] == ' ' || buf[5] == '\t')) {
		int minute;

		for (arg = buf + 5; *arg == ' ' || *arg == '\t'; arg++)
			;
		minute = parse_clock(arg);
		if (minute < 0)
			return error_set(err, BERTH_E_INVALID,
					 "invalid schedule '%s': the time is HH:MM, 00:00 to 23:59 "
					 "(UTC)",
					 cfg_show(shown, text));
		out->kind = JOB_DAILY;
		out->minute_of_day = minute;
		return 0;
	}
bad:
	return error_set(err, BERTH_E_INVALID, "invalid schedule '%s': %s", cfg_show(shown, text),
			 schedule_help);
}

void job_schedule_format(const job_schedule *s, char *buf, size_t cap)
{
	static const struct {
		uint64_t ms;
		char unit[3];
	} units[] = {{DAY_MS, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};

	if (cap == 0)
		return;
	buf[0] = '\0';
	if (s->kind == JOB_DAILY) {
		snprintf(buf, cap, "daily %02d:%02d", s->minute_of_day / 60, s->minute_of_day % 60);
	} else if (s->kind == JOB_EVERY) {
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (s->interval_ms % units[i].ms == 0) {
				snprintf(buf, cap, "every %llu%s",
					 (unsigned long long)(s->interval_ms / units[i].ms),
					 units[i].unit);
				break;
			}
		}
	}
}

int64_t job_schedule_next(const job_schedule *s, int64_t now_ms)
{
	int64_t day, at;

	switch (s->kind) {
	case JOB_EVERY:
		return now_ms + (int64_t)s->interval_ms;
	case JOB_DAILY:
		day = now_ms / DAY_MS - (now_ms % DAY_MS < 0);
		at = day * DAY_MS + (int64_t)s->minute_of_day * 60000;
		return at > now_ms ? at : at + DAY_MS;
	default:
		return -1;
	}
}

/* The clock a schedule's due times are on. */
static int64_t schedule_now(const job_schedule *s, int64_t mono, int64_t wall)
{
	return s->kind == JOB_DAILY ? wall : mono;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */
/* ------------------------------------------------------------------------ */

void job_output_free(job_output *out)
{
	if (!out)
		return;
	free(out->text);
	out->text = NULL;
	out->len = out->cap = out->n_lines = 0;
	out->truncated = 0;
}

/* Output reaches terminals, logs and JSON: no control bytes, only UTF-8. */
static void sanitize_line(char *s, size_t len)
{
	unsigned char *p = (unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t n = p[i] < 0x20 || p[i] == 0x7f ? 0 : utf8_len(p + i, len - i);
		if (n == 0) {
			if (p[i] != '\t')
				p[i] = '?';
			i++;
		} else {
			i += n;
		}
	}
}

static void output_append(job_output *out, const char *line, size_t len)
{
	static const char marker[] = "(output truncated)\n";
	int full;
	size_t need;

	if (out->truncated)
		return;
	/* Room for the line, its '\n' and, after them, the marker and its NUL. */
	full = out->len + len + 1 + sizeof(marker) > JOB_OUTPUT_MAX;
	need = full ? sizeof(marker) : len + 1 + sizeof(marker);
	if (out->cap - out->len < need) {
		size_t cap = out->cap ? out->cap : 256;
		char *text;

		while (cap - out->len < need)
			cap *= 2;
		text = realloc(out->text, cap);
		if (!text) {
			out->truncated = 1;
			return;
		}
		out->text = text;
		out->cap = cap;
	}
	if (full) {
		memcpy(out->text + out->len, marker, sizeof(marker));
		out->len += sizeof(marker) - 1;
		out->truncated = 1;
		return;
	}
	memcpy(out->text + out->len, line, len);
	out->text[out->len + len] = '\n';
	out->len += len + 1;
	out->text[out->len] = '\0';
	out->n_lines++;
}

int jobs_host_dry_run(const berth_job_run *run)
{
	/* Without a run handle the safe answer is the one that changes nothing. */
	return run ? run->dry_run : 1;
}

void jobs_host_print(berth_job_run *run, const char *fmt, ...)
{
	va_list ap, ap2;
	char stack[1024], *text = stack;
	const char *tag;
	size_t len;
	int n;

	if (!run || !fmt)
		return;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(stack, sizeof(stack), fmt, ap);
	if (n >= (int)sizeof(stack)) {
		text = malloc((size_t)n + 1);
		if (text)
			vsnprintf(text, (size_t)n + 1, fmt, ap2);
	}
	va_end(ap2);
	va_end(ap);
	if (n < 0 || !text)
		return;

	tag = run->job->in->name;
	len = strlen(text);
	/* "done\n" is one line, not a line and an empty one. */
	if (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	for (char *line = text;;) {
		char *end = strchr(line, '\n');

		if (end)
			*end = '\0';
		len = end ? (size_t)(end - line) : strlen(line);
		sanitize_line(line, len);
		log_plugin(tag, BERTH_LOG_INFO, "job %s: %s", run->job->name, line);
		if (run->out) {
			/* A job may print from threads of its own. */
			pthread_mutex_lock(&jobs.print_lock);
			output_append(run->out, line, len);
			if (run->out->on_line)
				run->out->on_line(run->out->ctx, line);
			pthread_mutex_unlock(&jobs.print_lock);
		}
		if (!end)
			break;
		line = end + 1;
	}
	if (text != stack)
		free(text);
}

/* ------------------------------------------------------------------------ */
/* Running                                                                  */
/* ------------------------------------------------------------------------ */

static job_entry *find_job(const char *name)
{
	for (size_t i = 0; name && i < jobs.n_jobs; i++)
		if (strcmp(jobs.jobs[i].name, name) == 0)
			return &jobs.jobs[i];
	return NULL;
}

static int run_job(job_entry *j, int dry_run, job_output *out, berth_error *err)
{
	berth_job_run run = {.job = j, .dry_run = dry_run, .out = out};
	int serialized = (j->in->desc.flags & BERTH_PLUGIN_SERIALIZED) != 0;
	berth_error jerr = {0};
	int64_t started, took;
	const char *labels[2];
	int rc;

	pthread_once(&jobs_once, jobs_setup);
	pthread_mutex_lock(&jobs.run_lock);
	started = clock_ms(CLOCK_REALTIME);
	pthread_mutex_lock(&jobs.lock);
	j->running = 1;
	pthread_mutex_unlock(&jobs.lock);
	log_plugin(j->in->name, BERTH_LOG_INFO, "job %s: started%s", j->name,
		   dry_run ? " (dry run)" : "");

	took = clock_ms(CLOCK_MONOTONIC);
	if (serialized)
		pthread_mutex_lock(&j->in->serial);
	rc = j->run(j->in->state, &run, &jerr);
	if (serialized)
		pthread_mutex_unlock(&j->in->serial);
	took = clock_ms(CLOCK_MONOTONIC) - took;

	if (rc != 0 && !jerr.message[0])
		snprintf(jerr.message, sizeof(jerr.message), "run() returned %d", rc);
	/* Success is 0 and failures are negative: anything else is a bug. */
	if (rc > 0)
		rc = BERTH_E_INTERNAL;
	jerr.message[sizeof(jerr.message) - 1] = '\0';
	/* The message reaches the log, a terminal and JSON. */
	sanitize_line(jerr.message, strlen(jerr.message));

	pthread_mutex_lock(&jobs.lock);
	j->running = 0;
	j->last_run_ms = started;
	j->last_result = rc;
	snprintf(j->last_error, sizeof(j->last_error), "%s", rc ? jerr.message : "");
	pthread_mutex_unlock(&jobs.lock);

	labels[0] = j->name;
	labels[1] = rc == 0 ? "ok" : "failed";
	metrics_add(jobs.runs_total, labels, 1);
	if (rc == 0)
		log_plugin(j->in->name, BERTH_LOG_INFO, "job %s: ok in %lld ms", j->name,
			   (long long)took);
	else
		log_plugin(j->in->name, BERTH_LOG_ERROR, "job %s: failed after %lld ms: %s",
			   j->name, (long long)took, jerr.message);
	pthread_mutex_unlock(&jobs.run_lock);
	if (rc != 0)
		error_set(err, rc, "%s", jerr.message);
	return rc;
}

int jobs_run(const char *name, int dry_run, job_output *out, berth_error *err)
{
	char shown[CFG_SHOW_MAX];
	job_entry *j = find_job(name);

	if (!j)
		return error_set(err, BERTH_E_NOT_FOUND, "no job named '%s'",
				 name ? cfg_show(shown, name) : "(null)");
	return run_job(j, dry_run ? 1 : 0, out, err);
}

static void run_schedule(const schedule_entry *s)
{
	int serialized = (s->in->desc.flags & BERTH_PLUGIN_SERIALIZED) != 0;

	pthread_mutex_lock(&jobs.run_lock);
	if (serialized)
		pthread_mutex_lock(&s->in->serial);
	s->fn(s->arg);
	if (serialized)
		pthread_mutex_unlock(&s->in->serial);
	pthread_mutex_unlock(&jobs.run_lock);
}

int jobs_host_schedule(const berth_instance *self, uint64_t interval_ms, void (*fn)(void *arg),
		       void *arg)
{
	schedule_entry *s;
	int rc = 0;

	if (!self || !fn)
		return BERTH_E_INVALID;
	if (interval_ms < JOBS_MIN_INTERVAL_MS || interval_ms > JOBS_MAX_INTERVAL_MS) {
		log_plugin(self->name, BERTH_LOG_WARN,
			   "schedule refused: interval %llu ms is not between %d ms and 366 days",
			   (unsigned long long)interval_ms, JOBS_MIN_INTERVAL_MS);
		return BERTH_E_INVALID;
	}
	pthread_once(&jobs_once, jobs_setup);
	pthread_mutex_lock(&jobs.lock);
	if (jobs.n_schedules >= JOBS_MAX_SCHEDULES) {
		rc = BERTH_E_TOO_MANY;
		goto out;
	}
	s = &jobs.schedules[jobs.n_schedules++];
	/* The instance is the loader's, and host functions take it const. */
	s->in = (plugin_instance *)(uintptr_t)self;
	s->interval_ms = interval_ms;
	s->fn = fn;
	s->arg = arg;
	s->next_due = 0;
	if (jobs.thread_running) {
		s->next_due = clock_ms(CLOCK_MONOTONIC) + (int64_t)interval_ms;
		pthread_cond_signal(&jobs.wake);
	}
out:
	pthread_mutex_unlock(&jobs.lock);
	if (rc != 0)
		log_plugin(self->name, BERTH_LOG_WARN, "schedule refused: %d callbacks already",
			   JOBS_MAX_SCHEDULES);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* The job thread                                                           */
/* ------------------------------------------------------------------------ */

static void *job_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&jobs.lock);
	while (!jobs.stopping) {
		int64_t mono = clock_ms(CLOCK_MONOTONIC), wall = clock_ms(CLOCK_REALTIME);
		int64_t wait = JOBS_RECHECK_MS;
		job_entry *job = NULL;
		schedule_entry *sched = NULL;
		struct timespec until;

		for (size_t i = 0; i < jobs.n_jobs; i++) {
			job_entry *j = &jobs.jobs[i];
			int64_t left = j->next_due - schedule_now(&j->sched, mono, wall);
			if (j->sched.kind != JOB_ON_DEMAND && j->next_due && left < wait) {
				wait = left;
				job = j;
			}
		}
		for (size_t i = 0; i < jobs.n_schedules; i++) {
			schedule_entry *s = &jobs.schedules[i];
			if (s->next_due && s->next_due - mono < wait) {
				wait = s->next_due - mono;
				sched = s;
				job = NULL;
			}
		}
		if ((job || sched) && wait <= 0) {
			/* Planned from the start of this run: a run that overlaps
			 * its next slot is followed at once, not repeated. */
			if (job) {
				job->next_due = job_schedule_next(
					&job->sched, schedule_now(&job->sched, mono, wall));
			} else {
				sched->next_due = mono + (int64_t)sched->interval_ms;
			}
			pthread_mutex_unlock(&jobs.lock);
			if (job) {
				run_job(job, 0, NULL, NULL);
			} else {
				schedule_entry copy = *sched;
				run_schedule(&copy);
			}
			pthread_mutex_lock(&jobs.lock);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += wait / 1000;
		until.tv_nsec += (long)(wait % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&jobs.wake, &jobs.lock, &until);
	}
	pthread_mutex_unlock(&jobs.lock);
	return NULL;
}

int jobs_start(berth_error *err)
{
	int64_t mono, wall;
	size_t planned = 0;
	int e, rc = 0;

	pthread_once(&jobs_once, jobs_setup);
	pthread_mutex_lock(&jobs.lock);
	if (jobs.thread_running) {
		rc = error_set(err, BERTH_E_INTERNAL, "the job thread is already running");
		goto out;
	}
	mono = clock_ms(CLOCK_MONOTONIC);
	wall = clock_ms(CLOCK_REALTIME);
	for (size_t i = 0; i < jobs.n_jobs; i++) {
		job_entry *j = &jobs.jobs[i];
		j->next_due = 0;
		if (j->sched.kind == JOB_ON_DEMAND)
			continue;
		j->next_due = job_schedule_next(&j->sched, schedule_now(&j->sched, mono, wall));
		planned++;
	}
	for (size_t i = 0; i < jobs.n_schedules; i++)
		jobs.schedules[i].next_due = mono + (int64_t)jobs.schedules[i].interval_ms;
	jobs.stopping = 0;
	e = pthread_create(&jobs.thread, NULL, job_thread, NULL);
	if (e != 0) {
		rc = error_set(err, BERTH_E_INTERNAL, "cannot start the job thread: %s",
			       strerror(e));
		goto out;
	}
	jobs.thread_running = 1;
	if (jobs.n_jobs || jobs.n_schedules)
		log_info("jobs: %zu job%s, %zu on a schedule, %zu plugin callback%s", jobs.n_jobs,
			 jobs.n_jobs == 1 ? "" : "s", planned, jobs.n_schedules,
			 jobs.n_schedules == 1 ? "" : "s");
out:
	pthread_mutex_unlock(&jobs.lock);
	return rc;
}

void jobs_stop(void)
{
	pthread_mutex_lock(&jobs.lock);
	if (!jobs.thread_running || jobs.stopping) {
		pthread_mutex_unlock(&jobs.lock);
		return;
	}
	jobs.stopping = 1;
	pthread_cond_broadcast(&jobs.wake);
	pthread_mutex_unlock(&jobs.lock);

	pthread_join(jobs.thread, NULL);

	pthread_mutex_lock(&jobs.lock);
	jobs.thread_running = 0;
	jobs.stopping = 0;
	for (size_t i = 0; i < jobs.n_jobs; i++)
		jobs.jobs[i].next_due = 0;
	for (size_t i = 0; i < jobs.n_schedules; i++)
		jobs.schedules[i].next_due = 0;
	pthread_mutex_unlock(&jobs.lock);
}

static void free_entries(job_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].description);
	free(v);
}

void jobs_free(void)
{
	jobs_stop();
	pthread_mutex_lock(&jobs.lock);
	free_entries(jobs.jobs, jobs.n_jobs);
	jobs.jobs = NULL;
	jobs.n_jobs = 0;
	jobs.n_schedules = 0;
	pthread_mutex_unlock(&jobs.lock);
}

/* ------------------------------------------------------------------------ */
/* Collecting jobs and applying the configuration                           */
/* ------------------------------------------------------------------------ */

static int valid_job_name(const char *s)
{
	size_t i;

	for (i = 0; s && s[i]; i++)
		if (i >= JOB_NAME_MAX ||
		    !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return i > 0;
}

static int collect_job(plugin_instance *in, const berth_job *src, job_entry *out,
		       const job_entry *prev, size_t n_prev, berth_error *err)
{
	char shown[CFG_SHOW_MAX];
	size_t need = offsetof(berth_job, run) + sizeof(src->run);
	berth_job job;
	job_schedule sched;
	berth_error serr = {0};
	int rc;

	if (src->size < need)
		return error_set(err, BERTH_E_CONFIG,
				 "%s:%d: plugin '%s': a job table is %u bytes, host needs at least "
				 "%zu",
				 in->decl_file, in->decl_line, in->name, src->size, need);
	memset(&job, 0, sizeof(job));
	memcpy(&job, src, src->size < sizeof(job) ? src->size : sizeof(job));
	if (!valid_job_name(job.name))
		return error_set(err, BERTH_E_CONFIG,
				 "%s:%d: plugin '%s': job name '%s' is not [a-z0-9-]+ of at most "
				 "%d characters",
				 in->decl_file, in->decl_line, in->name,
				 job.name ? cfg_show(shown, job.name) : "(null)", JOB_NAME_MAX);
	if (!job.run)
		return error_set(err, BERTH_E_CONFIG, "%s:%d: plugin '%s': job '%s' has no run()",
				 in->decl_file, in->decl_line, in->name, job.name);
	for (size_t i = 0; i < n_prev; i++)
		if (strcmp(prev[i].name, job.name) == 0)
			return error_set(err, BERTH_E_CONFIG,
					 "%s:%d: plugin '%s': job '%s' is also declared by '%s' "
					 "(%s:%d); job names are unique across instances",
					 in->decl_file, in->decl_line, in->name, job.name,
					 prev[i].in->name, prev[i].in->decl_file,
					 prev[i].in->decl_line);
	rc = job_schedule_parse(job.schedule, &sched, &serr);
	if (rc != 0)
		return error_set(err, BERTH_E_CONFIG, "%s:%d: plugin '%s': job '%s': %s",
				 in->decl_file, in->decl_line, in->name, job.name, serr.message);
	memset(out, 0, sizeof(*out));
	out->sched = sched;
	snprintf(out->name, sizeof(out->name), "%s", job.name);
	out->description = strndup(job.description ? job.description : "", 1024);
	if (!out->description)
		return error_set(err, BERTH_E_NOMEM, "out of memory");
	job_schedule_format(&out->sched, out->schedule_text, sizeof(out->schedule_text));
	out->in = in;
	out->run = job.run;
	return 0;
}

static int count_jobs(plugin_set *plugins, size_t *total, berth_error *err)
{
	*total = 0;
	for (size_t i = 0; plugins && i < plugins->n; i++) {
		plugin_instance *in = &plugins->v[i];
		size_t n = 0;

		while (in->desc.jobs && in->desc.jobs[n]) {
			if (++n > JOBS_MAX_PER_PLUGIN)
				return error_set(err, BERTH_E_CONFIG,
						 "%s:%d: plugin '%s' declares more than %d jobs (is "
						 "its job list NULL-terminated?)",
						 in->decl_file, in->decl_line, in->name,
						 JOBS_MAX_PER_PLUGIN);
		}
		*total += n;
	}
	return 0;
}

static int apply_override(job_entry *v, size_t n, const cfg_pair *p, berth_error *err)
{
	char shown[CFG_SHOW_MAX];
	const char *best = NULL;
	int best_d = 0;
	const cfg_node *sched;
	job_entry *j = NULL;
	berth_error serr = {0};

	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].name, p->key) == 0)
			j = &v[i];
		cfg_suggest(p->key, v[i].name, &best, &best_d);
	}
	if (!j && best)
		return cfg_pair_error(err, p, "unknown job '%s' in jobs (did you mean '%s'?)",
				      cfg_show(shown, p->key), best);
	if (!j)
		return cfg_pair_error(err, p,
				      "unknown job '%s' in jobs (`berth job list` shows the jobs "
				      "the plugins declare)",
				      cfg_show(shown, p->key));
	if (p->value->type != CFG_MAP)
		return cfg_node_error(err, p->value, "jobs.%s must be a map, e.g. {schedule: off}",
				      j->name);
	for (size_t i = 0; i < p->value->n_pairs; i++)
		if (strcmp(p->value->pairs[i].key, "schedule") != 0)
			return cfg_pair_error(err, &p->value->pairs[i],
					      "unknown key '%s' in jobs.%s (the one key is "
					      "'schedule')",
					      cfg_show(shown, p->value->pairs[i].key), j->name);
	sched = cfg_map_get(p->value, "schedule");
	if (!sched)
		return 0;
	if (sched->type != CFG_SCALAR)
		return cfg_node_error(err, sched, "jobs.%s.schedule must be a value, not %s",
				      j->name, cfg_type_name(sched));
	if (job_schedule_parse(sched->is_null ? NULL : sched->scalar, &j->sched, &serr) != 0)
		return cfg_node_error(err, sched, "jobs.%s.schedule: %s", j->name, serr.message);
	job_schedule_format(&j->sched, j->schedule_text, sizeof(j->schedule_text));
	return 0;
}

static int apply_config(job_entry *v, size_t n, const server_config *cfg, berth_error *err)
{
	const cfg_node *map = cfg ? cfg_map_get(cfg->root, "jobs") : NULL;
	int rc;

	if (!map || (map->type == CFG_SCALAR && map->is_null))
		return 0;
	if (map->type != CFG_MAP)
		return cfg_node_error(err, map,
				      "jobs must be a map of job names, e.g. jobs: {gc: {schedule: "
				      "\"daily 03:30\"}}");
	for (size_t i = 0; i < map->n_pairs; i++) {
		rc = apply_override(v, n, &map->pairs[i], err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/*
 * The core's own jobs run through the same registry as plugins' (same
 * schedules, overrides, admin endpoint, metrics), owned by an instance
 * named "core" that no plugin can be.
 */
static char core_name[] = "core";
static char core_decl[] = "(built in)";
static struct berth_instance core_instance = {.name = core_name, .decl_file = core_decl};
static gc_options core_gc_options;
static const berth_job core_gc_job = {
	.size = sizeof(berth_job),
	.name = "gc",
	.description = "free blobs no manifest references, dangling layer links and "
		       "abandoned uploads (online; docs/garbage-collection.md)",
	.schedule = "daily 03:00",
	.run = gc_job_run,
};

int jobs_init(plugin_set *plugins, const server_config *cfg, berth_error *err)
{
	job_entry *v = NULL;
	size_t total = 0, n = 0;
	int rc;

	pthread_once(&jobs_once, jobs_setup);
	pthread_mutex_lock(&jobs.lock);
	rc = jobs.thread_running ? BERTH_E_INTERNAL : 0;
	pthread_mutex_unlock(&jobs.lock);
	if (rc != 0)
		return error_set(err, rc, "jobs_init while the job thread runs");

	rc = count_jobs(plugins, &total, err);
	if (rc != 0)
		goto out;
	total++;
	v = calloc(total, sizeof(*v));
	if (!v) {
		rc = error_set(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	gc_options_from_config(cfg, &core_gc_options);
	gc_metrics_register();
	core_instance.state = &core_gc_options;
	core_instance.created = core_instance.started = 1;
	rc = collect_job(&core_instance, &core_gc_job, &v[n], v, n, err);
	if (rc != 0)
		goto out;
	n++;
	for (size_t i = 0; plugins && i < plugins->n; i++) {
		plugin_instance *in = &plugins->v[i];
		for (size_t k = 0; in->desc.jobs && in->desc.jobs[k]; k++) {
			rc = collect_job(in, in->desc.jobs[k], &v[n], v, n, err);
			if (rc != 0)
				goto out;
			n++;
		}
	}
	rc = apply_config(v, n, cfg, err);
	if (rc != 0)
		goto out;

	pthread_mutex_lock(&jobs.lock);
	free_entries(jobs.jobs, jobs.n_jobs);
	jobs.jobs = v;
	jobs.n_jobs = n;
	pthread_mutex_unlock(&jobs.lock);
	v = NULL;
	n = 0;
out:
	free_entries(v, n);
	return rc;
}

size_t jobs_count(void)
{
	size_t n;

	pthread_mutex_lock(&jobs.lock);
	n = jobs.n_jobs;
	pthread_mutex_unlock(&jobs.lock);
	return n;
}

int jobs_info(size_t i, job_info *out)
{
	int64_t mono = clock_ms(CLOCK_MONOTONIC), wall = clock_ms(CLOCK_REALTIME);
	const job_entry *j;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&jobs.lock);
	if (i >= jobs.n_jobs) {
		rc = BERTH_E_NOT_FOUND;
		goto out;
	}
	j = &jobs.jobs[i];
	snprintf(out->name, sizeof(out->name), "%s", j->name);
	snprintf(out->instance, sizeof(out->instance), "%s", j->in->name);
	out->description = j->description;
	snprintf(out->schedule, sizeof(out->schedule), "%s", j->schedule_text);
	out->last_run_ms = j->last_run_ms;
	out->last_result = j->last_result;
	snprintf(out->last_error, sizeof(out->last_error), "%s", j->last_error);
	out->running = j->running;
	if (j->next_due)
		out->next_run_ms = j->sched.kind == JOB_DAILY ? j->next_due
							       : wall + (j->next_due - mono);
out:
	pthread_mutex_unlock(&jobs.lock);
	return rc;
}

/*
 * test_jobs.c - schedules (parsing, canonical text, due times), collecting
 * jobs from instances, configuration overrides, running a job with its
 * output and dry-run flag, one job at a time, the job thread and
 * host->schedule, and the admin endpoint's JSON.
 *
 * Instances are built by hand with static job tables, the way the loader
 * would leave them, so no .so is needed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config_node.h"
#include "jobs.h"
#include "metrics.h"
#include "test.h"

/* ------------------------------------------------------------------------ */
/* Schedules                                                                */
/* ------------------------------------------------------------------------ */

static void test_schedule_parse(void)
{
	static const struct {
		const char *text;
		int kind;
		uint64_t interval_ms;
		int minute;
		const char *canonical;
	} good[] = {
		{NULL, JOB_ON_DEMAND, 0, 0, ""},
		{"", JOB_ON_DEMAND, 0, 0, ""},
		{"  ", JOB_ON_DEMAND, 0, 0, ""},
		{"off", JOB_ON_DEMAND, 0, 0, ""},
		{"every 30s", JOB_EVERY, 30000, 0, "every 30s"},
		{"every 10m", JOB_EVERY, 600000, 0, "every 10m"},
		{"every 6h", JOB_EVERY, 6 * 3600000ull, 0, "every 6h"},
		{"every 1d", JOB_EVERY, 86400000ull, 0, "every 1d"},
		{"every 90m", JOB_EVERY, 5400000ull, 0, "every 90m"},
		{"  every \t 1h30m  ", JOB_EVERY, 5400000ull, 0, "every 90m"},
		{"every 1s", JOB_EVERY, 1000, 0, "every 1s"},
		{"every 1500ms", JOB_EVERY, 1500, 0, "every 1500ms"},
		{"every 366d", JOB_EVERY, 366 * 86400000ull, 0, "every 366d"},
		{"daily 03:30", JOB_DAILY, 0, 210, "daily 03:30"},
		{"daily 3:30", JOB_DAILY, 0, 210, "daily 03:30"},
		{"daily 00:00", JOB_DAILY, 0, 0, "daily 00:00"},
		{"daily 23:59", JOB_DAILY, 0, 1439, "daily 23:59"},
		{"daily  12:05 ", JOB_DAILY, 0, 725, "daily 12:05"},
	};
	static const char *const bad[] = {
		"every", "every ", "every 0s", "every 999ms", "every 367d", "every -1s",
		"every x", "every 30x", "every30s", "Every 30s", "daily", "daily 24:00",
		"daily 12:60", "daily 1230", "daily 12:3", "daily 123:00", "daily 12:30 UTC",
		"daily -1:30", "daily +1:30", "weekly 03:00", "dailyx 03:00", "on", "30s",
		"every 30s and more", "every 99999999999999999999d",
		"every 1s\n", "daily 03:30\x01",
	};
	char long_text[300];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		job_schedule s;
		berth_error err = {0};
		char text[JOB_SCHEDULE_TEXT_MAX];
		int rc = job_schedule_parse(good[i].text, &s, &err);

		if (rc != 0)
			fprintf(stderr, "good schedule '%s' refused: %s\n",
				good[i].text ? good[i].text : "(null)", err.message);
		CHECK_INT(rc, 0);
		CHECK_INT(s.kind, good[i].kind);
		CHECK_INT(s.interval_ms, good[i].interval_ms);
		CHECK_INT(s.minute_of_day, good[i].minute);
		job_schedule_format(&s, text, sizeof(text));
		CHECK_STR(text, good[i].canonical);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		job_schedule s;
		berth_error err = {0};
		int rc = job_schedule_parse(bad[i], &s, &err);

		if (rc == 0)
			fprintf(stderr, "bad schedule '%s' accepted\n", bad[i]);
		CHECK_INT(rc, BERTH_E_INVALID);
		CHECK(strstr(err.message, "invalid schedule") == err.message);
		CHECK(strchr(err.message, '\n') == NULL);
	}
	memset(long_text, ' ', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	memcpy(long_text + 100, "every 30s", 9);
	{
		job_schedule s;
		CHECK_INT(job_schedule_parse(long_text, &s, NULL), BERTH_E_INVALID);
	}
}

/* ms since the epoch of a UTC date and time. */
static int64_t utc_ms(int y, int mo, int d, int h, int mi, int s, int ms)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			.tm_hour = h, .tm_min = mi, .tm_sec = s};

	return (int64_t)timegm(&tm) * 1000 + ms;
}

static void test_schedule_next(void)
{
	job_schedule every = {.kind = JOB_EVERY, .interval_ms = 600000};
	job_schedule at_0330 = {.kind = JOB_DAILY, .minute_of_day = 210};
	job_schedule at_0010 = {.kind = JOB_DAILY, .minute_of_day = 10};
	job_schedule at_0000 = {.kind = JOB_DAILY, .minute_of_day = 0};
	job_schedule none = {.kind = JOB_ON_DEMAND};

	CHECK_INT(job_schedule_next(&every, 5000), 605000);
	CHECK_INT(job_schedule_next(&none, 5000), -1);

	/* Later the same day. */
	CHECK_INT(job_schedule_next(&at_0330, utc_ms(2024, 3, 10, 1, 0, 0, 0)),
		  utc_ms(2024, 3, 10, 3, 30, 0, 0));
	CHECK_INT(job_schedule_next(&at_0330, utc_ms(2024, 3, 10, 3, 29, 59, 999)),
		  utc_ms(2024, 3, 10, 3, 30, 0, 0));
	/* Exactly at the time: that run is the one due now, the next is tomorrow. */
	CHECK_INT(job_schedule_next(&at_0330, utc_ms(2024, 3, 10, 3, 30, 0, 0)),
		  utc_ms(2024, 3, 11, 3, 30, 0, 0));
	CHECK_INT(job_schedule_next(&at_0330, utc_ms(2024, 3, 10, 3, 30, 0, 1)),
		  utc_ms(2024, 3, 11, 3, 30, 0, 0));
	/* Across midnight, the end of a month and of a (leap) year. */
	CHECK_INT(job_schedule_next(&at_0010, utc_ms(2024, 3, 10, 23, 59, 0, 0)),
		  utc_ms(2024, 3, 11, 0, 10, 0, 0));
	CHECK_INT(job_schedule_next(&at_0010, utc_ms(2024, 2, 28, 23, 0, 0, 0)),
		  utc_ms(2024, 2, 29, 0, 10, 0, 0));
	CHECK_INT(job_schedule_next(&at_0330, utc_ms(2023, 12, 31, 12, 0, 0, 0)),
		  utc_ms(2024, 1, 1, 3, 30, 0, 0));
	CHECK_INT(job_schedule_next(&at_0000, utc_ms(2024, 3, 10, 23, 59, 59, 999)),
		  utc_ms(2024, 3, 11, 0, 0, 0, 0));
	CHECK_INT(job_schedule_next(&at_0000, utc_ms(2024, 3, 11, 0, 0, 0, 0)),
		  utc_ms(2024, 3, 12, 0, 0, 0, 0));
	CHECK_INT(job_schedule_next(&at_0330, 0), utc_ms(1970, 1, 1, 3, 30, 0, 0));
}

/* ------------------------------------------------------------------------ */
/* Jobs built by hand                                                       */
/* ------------------------------------------------------------------------ */

typedef struct job_state {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int runs;
	int last_dry_run;
	int gated;
	int entered;
	int active, max_active;
	plugin_instance *check_serial;
	int serial_held;
} job_state;

static job_state state_a, state_b;

static void *try_serial(void *arg)
{
	plugin_instance *in = arg;
	int rc = pthread_mutex_trylock(&in->serial);

	if (rc == 0)
		pthread_mutex_unlock(&in->serial);
	return (void *)(long)rc;
}

static void enter(job_state *s)
{
	pthread_mutex_lock(&s->lock);
	s->runs++;
	s->entered++;
	s->active++;
	if (s->active > s->max_active)
		s->max_active = s->active;
	pthread_cond_broadcast(&s->changed);
	while (s->gated)
		pthread_cond_wait(&s->changed, &s->lock);
	s->active--;
	pthread_mutex_unlock(&s->lock);
}

static int run_report(void *state, berth_job_run *run, berth_error *err)
{
	job_state *s = state;

	(void)err;
	if (s->check_serial) {
		pthread_t t;
		void *res;
		pthread_create(&t, NULL, try_serial, s->check_serial);
		pthread_join(t, &res);
		s->serial_held = (long)res != 0;
	}
	enter(s);
	s->last_dry_run = jobs_host_dry_run(run);
	jobs_host_print(run, "checked %d repositories", 3);
	jobs_host_print(run, "%s", s->last_dry_run ? "would delete 2 tags" : "deleted 2 tags");
	jobs_host_print(run, "two\nlines\n");
	jobs_host_print(run, "bell\a and \xff byte\tkept tab");
	jobs_host_print(run, "%s", "");
	return 0;
}

static int run_fail(void *state, berth_job_run *run, berth_error *err)
{
	enter(state);
	jobs_host_print(run, "about to fail");
	snprintf(err->message, sizeof(err->message), "storage unreachable");
	return BERTH_E_IO;
}

static int run_silent_fail(void *state, berth_job_run *run, berth_error *err)
{
	(void)run, (void)err;
	enter(state);
	return BERTH_E_INVALID;
}

static int run_positive(void *state, berth_job_run *run, berth_error *err)
{
	(void)run, (void)err;
	enter(state);
	return 7;
}

static int run_not_found(void *state, berth_job_run *run, berth_error *err)
{
	(void)run;
	enter(state);
	snprintf(err->message, sizeof(err->message), "repository\ngone");
	return BERTH_E_NOT_FOUND;
}

static int run_big(void *state, berth_job_run *run, berth_error *err)
{
	char line[1000];

	(void)err;
	enter(state);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	for (int i = 0; i < 2000; i++)
		jobs_host_print(run, "%d %s", i, line);
	return 0;
}

static const berth_job job_report = {
	.size = sizeof(berth_job),
	.name = "report",
	.description = "Print a report",
	.schedule = NULL,
	.run = run_report,
};
static const berth_job job_fail = {
	.size = sizeof(berth_job), .name = "fail", .run = run_fail, .schedule = "daily 03:30"};
static const berth_job job_silent = {
	.size = sizeof(berth_job), .name = "silent-fail", .run = run_silent_fail};
static const berth_job job_positive = {
	.size = sizeof(berth_job), .name = "positive", .run = run_positive};
static const berth_job job_not_found = {
	.size = sizeof(berth_job), .name = "not-found", .run = run_not_found};
static const berth_job job_big = {.size = sizeof(berth_job), .name = "big", .run = run_big};
static const berth_job job_tick = {
	.size = sizeof(berth_job), .name = "tick", .run = run_report, .schedule = "every 1s"};

static const berth_job *const jobs_a[] = {&job_report, &job_fail, &job_silent, &job_positive,
					  NULL};
static const berth_job *const jobs_b[] = {&job_not_found, &job_big, &job_tick, NULL};

static void state_init(job_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->changed, NULL);
}

static void instance_init(plugin_instance *in, const char *name, const berth_job *const *list,
			  void *state, int line)
{
	pthread_mutexattr_t attr;

	memset(in, 0, sizeof(*in));
	in->name = (char *)name;
	in->decl_file = "berth.yaml";
	in->decl_line = line;
	in->desc.name = name;
	in->desc.jobs = list;
	in->state = state;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&in->serial, &attr);
	pthread_mutexattr_destroy(&attr);
}

static plugin_instance instances[3];
static plugin_set set = {instances, 3};

static void setup_instances(void)
{
	state_init(&state_a);
	state_init(&state_b);
	instance_init(&instances[0], "maint", jobs_a, &state_a, 10);
	instance_init(&instances[1], "storage", NULL, NULL, 20);
	instance_init(&instances[2], "other", jobs_b, &state_b, 30);
}

static job_info *info_for(const char *name, job_info *buf)
{
	for (size_t i = 0; jobs_info(i, buf) == 0; i++)
		if (strcmp(buf->name, name) == 0)
			return buf;
	return NULL;
}

/* A parsed config whose `jobs:` map is the given YAML. */
static server_config *config_from(const char *yaml)
{
	server_config *cfg = calloc(1, sizeof(*cfg));
	berth_error err = {0};

	if (cfg_parse("jobs.yaml", yaml, strlen(yaml), 0, &cfg->root, &err) != 0) {
		fprintf(stderr, "bad test YAML: %s\n", err.message);
		abort();
	}
	return cfg;
}

static void config_drop(server_config *cfg)
{
	cfg_node_free(cfg->root);
	free(cfg);
}

/* ------------------------------------------------------------------------ */
/* Collecting                                                               */
/* ------------------------------------------------------------------------ */

static void test_init(void)
{
	berth_error err = {0};
	job_info info;

	CHECK_INT(jobs_init(&set, NULL, &err), 0);
	/* The core's own garbage collection comes first, then the plugins'. */
	CHECK_INT(jobs_count(), 8);
	CHECK_INT(jobs_info(0, &info), 0);
	CHECK_STR(info.name, "gc");
	CHECK_STR(info.instance, "core");
	CHECK_STR(info.schedule, "daily 03:00");
	CHECK_INT(jobs_info(1, &info), 0);
	CHECK_STR(info.name, "report");
	CHECK_STR(info.instance, "maint");
	CHECK_STR(info.description, "Print a report");
	CHECK_STR(info.schedule, "");
	CHECK_INT(info.last_run_ms, 0);
	CHECK_INT(info.next_run_ms, 0);
	CHECK_INT(jobs_info(7, &info), 0);
	CHECK_STR(info.name, "tick");
	CHECK_STR(info.instance, "other");
	CHECK_STR(info.schedule, "every 1s");
	CHECK_STR(info.description, "");
	CHECK_INT(jobs_info(8, &info), BERTH_E_NOT_FOUND);
	CHECK(info_for("fail", &info) != NULL);
	CHECK_STR(info.schedule, "daily 03:30");
}

static void expect_init_error(plugin_set *s, const char *const *needles)
{
	berth_error err = {0};
	size_t before = jobs_count();

	CHECK_INT(jobs_init(s, NULL, &err), BERTH_E_CONFIG);
	for (size_t i = 0; needles[i]; i++) {
		if (!strstr(err.message, needles[i]))
			fprintf(stderr, "'%s' not in error: %s\n", needles[i], err.message);
		CHECK(strstr(err.message, needles[i]) != NULL);
	}
	/* A refused init leaves the previous jobs in place. */
	CHECK_INT(jobs_count(), before);
}

static int run_nothing(void *state, berth_job_run *run, berth_error *err)
{
	(void)state, (void)run, (void)err;
	return 0;
}

static void test_init_errors(void)
{
	static const berth_job dup = {.size = sizeof(berth_job), .name = "report", .run = run_nothing};
	static const berth_job bad_name = {
		.size = sizeof(berth_job), .name = "Bad_Name", .run = run_nothing};
	static const berth_job no_name = {.size = sizeof(berth_job), .run = run_nothing};
	static const berth_job no_run = {.size = sizeof(berth_job), .name = "no-run"};
	static const berth_job bad_sched = {
		.size = sizeof(berth_job), .name = "bad-sched", .schedule = "hourly",
		.run = run_nothing};
	static const berth_job small = {.size = 8, .name = "small", .run = run_nothing};
	static const berth_job long_name = {
		.size = sizeof(berth_job),
		.name = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		.run = run_nothing};
	static const berth_job *const l_dup[] = {&dup, NULL};
	static const berth_job *const l_bad_name[] = {&bad_name, NULL};
	static const berth_job *const l_no_name[] = {&no_name, NULL};
	static const berth_job *const l_no_run[] = {&no_run, NULL};
	static const berth_job *const l_bad_sched[] = {&bad_sched, NULL};
	static const berth_job *const l_small[] = {&small, NULL};
	static const berth_job *const l_long[] = {&long_name, NULL};
	static const berth_job *many[JOBS_MAX_PER_PLUGIN + 2];
	plugin_instance in[2];
	plugin_set s = {in, 2};
	int x;

	in[0] = instances[0];
	instance_init(&in[1], "second", l_dup, &x, 44);
	expect_init_error(&s, (const char *const[]){"berth.yaml:44: plugin 'second'",
						     "job 'report'", "'maint' (berth.yaml:10)",
						     NULL});
	/* The same plugin declared twice declares its jobs twice. */
	instance_init(&in[1], "maint-2", jobs_a, &x, 45);
	expect_init_error(&s, (const char *const[]){"maint-2", "unique", NULL});

	s.n = 1;
	instance_init(&in[0], "p", l_bad_name, &x, 50);
	expect_init_error(&s, (const char *const[]){"berth.yaml:50: plugin 'p'", "Bad_Name",
						     "[a-z0-9-]+", NULL});
	in[0].desc.jobs = l_no_name;
	expect_init_error(&s, (const char *const[]){"(null)", NULL});
	in[0].desc.jobs = l_long;
	expect_init_error(&s, (const char *const[]){"at most 64", NULL});
	in[0].desc.jobs = l_no_run;
	expect_init_error(&s, (const char *const[]){"job 'no-run' has no run()", NULL});
	in[0].desc.jobs = l_bad_sched;
	expect_init_error(&s, (const char *const[]){"plugin 'p': job 'bad-sched': invalid "
						     "schedule 'hourly'",
						     NULL});
	in[0].desc.jobs = l_small;
	expect_init_error(&s, (const char *const[]){"job table is 8 bytes", NULL});

	for (size_t i = 0; i < JOBS_MAX_PER_PLUGIN + 1; i++)
		many[i] = &job_report;
	in[0].desc.jobs = many;
	expect_init_error(&s, (const char *const[]){"more than 256 jobs", NULL});
	pthread_mutex_destroy(&in[0].serial);
	pthread_mutex_destroy(&in[1].serial);
}

static void expect_config_error(const char *yaml, const char *needle)
{
	server_config *cfg = config_from(yaml);
	berth_error err = {0};

	CHECK_INT(jobs_init(&set, cfg, &err), BERTH_E_CONFIG);
	if (!strstr(err.message, needle))
		fprintf(stderr, "'%s' not in error: %s\n", needle, err.message);
	CHECK(strstr(err.message, needle) != NULL);
	config_drop(cfg);
}

static void test_config(void)
{
	server_config *cfg;
	berth_error err = {0};
	job_info info;

	cfg = config_from("listen: 1.2.3.4:5\n"
			  "jobs:\n"
			  "  report: {schedule: \"every 5m\"}\n"
			  "  fail:\n"
			  "    schedule: off\n"
			  "  tick: {schedule: daily 04:00}\n"
			  "  big: {}\n");
	CHECK_INT(jobs_init(&set, cfg, &err), 0);
	CHECK(info_for("report", &info) && strcmp(info.schedule, "every 5m") == 0);
	CHECK(info_for("fail", &info) && strcmp(info.schedule, "") == 0);
	CHECK(info_for("tick", &info) && strcmp(info.schedule, "daily 04:00") == 0);
	CHECK(info_for("big", &info) && strcmp(info.schedule, "") == 0);
	config_drop(cfg);

	cfg = config_from("jobs:\n  tick: {schedule: ~}\n  fail: {schedule: \"\"}\n");
	CHECK_INT(jobs_init(&set, cfg, &err), 0);
	CHECK(info_for("tick", &info) && strcmp(info.schedule, "") == 0);
	CHECK(info_for("fail", &info) && strcmp(info.schedule, "") == 0);
	config_drop(cfg);

	cfg = config_from("jobs: ~\n");
	CHECK_INT(jobs_init(&set, cfg, &err), 0);
	config_drop(cfg);

	expect_config_error("jobs:\n  report: {schedule: off}\n  reprot: {schedule: off}\n",
			    "jobs.yaml:3:3: unknown job 'reprot' in jobs (did you mean 'report'?)");
	expect_config_error("jobs:\n  nothing-like-it: {}\n", "jobs.yaml:2:3: unknown job");
	expect_config_error("jobs:\n  report: {schedul: off}\n",
			    "jobs.yaml:2:12: unknown key 'schedul' in jobs.report");
	expect_config_error("jobs:\n  report: {schedule: \"every 0s\"}\n",
			    "jobs.yaml:2:22: jobs.report.schedule: invalid schedule 'every 0s'");
	expect_config_error("jobs:\n  report: {schedule: [a]}\n",
			    "jobs.report.schedule must be a value");
	expect_config_error("jobs:\n  report: daily\n", "jobs.report must be a map");
	expect_config_error("jobs: [report]\n", "jobs.yaml:1:7: jobs must be a map");

	/* Back to the plugins' own schedules for what follows. */
	CHECK_INT(jobs_init(&set, NULL, &err), 0);
}

/* ------------------------------------------------------------------------ */
/* Running                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct line_log {
	int n;
	char last[64];
} line_log;

static void on_line(void *ctx, const char *line)
{
	line_log *l = ctx;

	l->n++;
	snprintf(l->last, sizeof(l->last), "%s", line);
}

static double runs_value;

static void find_runs(void *ctx, const char *name, const char *help, int type, const char *labels,
		      double value)
{
	(void)help, (void)type;
	if (strcmp(name, "berth_jobs_runs_total") == 0 && strcmp(labels, ctx) == 0)
		runs_value = value;
}

static double runs_metric(const char *labels)
{
	runs_value = 0;
	metrics_foreach(find_runs, (void *)labels);
	return runs_value;
}

static void test_run(void)
{
	line_log lines = {0};
	job_output out = {.on_line = on_line, .ctx = &lines};
	berth_error err = {0};
	job_info info;
	int64_t before = (int64_t)time(NULL) * 1000;

	CHECK_INT(jobs_run("report", 0, &out, &err), 0);
	CHECK_INT(state_a.last_dry_run, 0);
	CHECK_STR(out.text, "checked 3 repositories\n"
			    "deleted 2 tags\n"
			    "two\n"
			    "lines\n"
			    "bell? and ? byte\tkept tab\n"
			    "\n");
	CHECK_INT(out.n_lines, 6);
	CHECK_INT(lines.n, 6);
	CHECK_STR(lines.last, "");
	CHECK(info_for("report", &info) != NULL);
	CHECK(info.last_run_ms >= before);
	CHECK_INT(info.last_result, 0);
	CHECK(!info.running);
	job_output_free(&out);

	CHECK_INT(jobs_run("report", 1, &out, &err), 0);
	CHECK_INT(state_a.last_dry_run, 1);
	CHECK(strstr(out.text, "would delete 2 tags\n") != NULL);
	job_output_free(&out);
	CHECK(out.text == NULL);

	/* Without an output buffer the lines only reach the log. */
	CHECK_INT(jobs_run("report", 7, NULL, &err), 0);
	CHECK_INT(state_a.last_dry_run, 1);
	CHECK(runs_metric("job=\"report\",result=\"ok\"") == 3);

	CHECK_INT(jobs_run("fail", 0, &out, &err), BERTH_E_IO);
	CHECK_STR(err.message, "storage unreachable");
	CHECK_STR(out.text, "about to fail\n");
	CHECK(info_for("fail", &info) != NULL);
	CHECK_INT(info.last_result, BERTH_E_IO);
	CHECK_STR(info.last_error, "storage unreachable");
	CHECK(runs_metric("job=\"fail\",result=\"failed\"") == 1);
	job_output_free(&out);

	CHECK_INT(jobs_run("silent-fail", 0, NULL, &err), BERTH_E_INVALID);
	CHECK_STR(err.message, "run() returned -5");
	CHECK_INT(jobs_run("positive", 0, NULL, &err), BERTH_E_INTERNAL);
	CHECK_STR(err.message, "run() returned 7");
	CHECK_INT(jobs_run("not-found", 0, NULL, &err), BERTH_E_NOT_FOUND);
	/* A plugin's message cannot forge log lines. */
	CHECK_STR(err.message, "repository?gone");

	CHECK_INT(jobs_run("nope", 0, NULL, &err), BERTH_E_NOT_FOUND);
	CHECK_STR(err.message, "no job named 'nope'");
	CHECK_INT(jobs_run(NULL, 0, NULL, &err), BERTH_E_NOT_FOUND);

	/* Output past the cap is cut, with a last line that says so. */
	lines.n = 0;
	CHECK_INT(jobs_run("big", 0, &out, &err), 0);
	CHECK_INT(lines.n, 2000);
	CHECK(out.truncated);
	CHECK(out.len <= JOB_OUTPUT_MAX);
	CHECK(out.len > JOB_OUTPUT_MAX - 2000);
	CHECK(out.len >= 20 && strcmp(out.text + out.len - 19, "(output truncated)\n") == 0);
	job_output_free(&out);

	/* The host services tolerate a missing run handle. */
	CHECK_INT(jobs_host_dry_run(NULL), 1);
	jobs_host_print(NULL, "ignored");
}

static void test_serialized(void)
{
	berth_error err = {0};

	instances[0].desc.flags = BERTH_PLUGIN_SERIALIZED;
	state_a.check_serial = &instances[0];
	CHECK_INT(jobs_run("report", 0, NULL, &err), 0);
	CHECK(state_a.serial_held);
	instances[0].desc.flags = 0;
	CHECK_INT(jobs_run("report", 0, NULL, &err), 0);
	CHECK(!state_a.serial_held);
	state_a.check_serial = NULL;
}

static void *run_in_thread(void *arg)
{
	berth_error err = {0};

	return (void *)(long)jobs_run(arg, 0, NULL, &err);
}

static void test_one_at_a_time(void)
{
	pthread_t slow, fast;
	int runs_before;

	state_a.gated = 1;
	state_a.entered = 0;
	state_a.max_active = 0;
	pthread_create(&slow, NULL, run_in_thread, "report");
	pthread_mutex_lock(&state_a.lock);
	while (state_a.entered < 1)
		pthread_cond_wait(&state_a.changed, &state_a.lock);
	runs_before = state_b.runs;
	pthread_mutex_unlock(&state_a.lock);

	pthread_create(&fast, NULL, run_in_thread, "not-found");
	usleep(100 * 1000);
	pthread_mutex_lock(&state_b.lock);
	/* The second job waits for the first. */
	CHECK_INT(state_b.runs, runs_before);
	pthread_mutex_unlock(&state_b.lock);

	pthread_mutex_lock(&state_a.lock);
	state_a.gated = 0;
	pthread_cond_broadcast(&state_a.changed);
	pthread_mutex_unlock(&state_a.lock);
	pthread_join(slow, NULL);
	pthread_join(fast, NULL);
	CHECK_INT(state_b.runs, runs_before + 1);
	CHECK_INT(state_a.max_active, 1);
}

/* ------------------------------------------------------------------------ */
/* The job thread                                                           */
/* ------------------------------------------------------------------------ */

static pthread_mutex_t tick_lock = PTHREAD_MUTEX_INITIALIZER;
static int ticks;

static void tick(void *arg)
{
	pthread_mutex_lock(&tick_lock);
	ticks += *(int *)arg;
	pthread_mutex_unlock(&tick_lock);
}

static void test_thread(void)
{
	static int one = 1;
	berth_error err = {0};
	job_info info;
	int runs_before, got_ticks = 0, got_runs = 0;
	int64_t now_ms = (int64_t)time(NULL) * 1000;

	CHECK_INT(jobs_host_schedule(&instances[2], 999, tick, &one), BERTH_E_INVALID);
	CHECK_INT(jobs_host_schedule(&instances[2], 1000, NULL, &one), BERTH_E_INVALID);
	CHECK_INT(jobs_host_schedule(NULL, 1000, tick, &one), BERTH_E_INVALID);
	/* Registered before the thread runs, as plugins do from start(). */
	CHECK_INT(jobs_host_schedule(&instances[2], 1000, tick, &one), 0);

	pthread_mutex_lock(&state_b.lock);
	runs_before = state_b.runs;
	pthread_mutex_unlock(&state_b.lock);
	CHECK_INT(jobs_start(&err), 0);
	CHECK_INT(jobs_start(&err), BERTH_E_INTERNAL);
	CHECK_INT(jobs_init(&set, NULL, &err), BERTH_E_INTERNAL);

	CHECK(info_for("fail", &info) != NULL);
	CHECK(info.next_run_ms > now_ms && info.next_run_ms <= now_ms + 24 * 3600 * 1000 + 1000);
	CHECK(info_for("tick", &info) != NULL);
	CHECK(info.next_run_ms >= now_ms && info.next_run_ms <= now_ms + 3000);
	CHECK(info_for("report", &info) != NULL);
	CHECK_INT(info.next_run_ms, 0);

	for (int i = 0; i < 100 && !(got_ticks >= 2 && got_runs >= 2); i++) {
		usleep(100 * 1000);
		pthread_mutex_lock(&tick_lock);
		got_ticks = ticks;
		pthread_mutex_unlock(&tick_lock);
		pthread_mutex_lock(&state_b.lock);
		got_runs = state_b.runs - runs_before;
		pthread_mutex_unlock(&state_b.lock);
	}
	CHECK(got_ticks >= 2);
	CHECK(got_runs >= 2);
	CHECK(runs_metric("job=\"tick\",result=\"ok\"") >= 2);

	/* Registered while the thread runs. */
	CHECK_INT(jobs_host_schedule(&instances[0], 1000, tick, &one), 0);

	jobs_stop();
	jobs_stop();
	pthread_mutex_lock(&tick_lock);
	got_ticks = ticks;
	pthread_mutex_unlock(&tick_lock);
	usleep(1300 * 1000);
	pthread_mutex_lock(&tick_lock);
	/* Nothing runs once stopped. */
	CHECK_INT(ticks, got_ticks);
	pthread_mutex_unlock(&tick_lock);
	CHECK(info_for("tick", &info) != NULL);
	CHECK_INT(info.next_run_ms, 0);
}

/* ------------------------------------------------------------------------ */
/* The admin endpoint's JSON                                                */
/* ------------------------------------------------------------------------ */

static void test_json(void)
{
	job_output out = {0};
	berth_error err = {0};
	json_t *doc, *jobs, *e;
	int rc;

	rc = jobs_run("report", 1, &out, &err);
	doc = jobs_result_json("report", 1, rc, &err, &out);
	CHECK(doc != NULL);
	CHECK_STR(json_string_value(json_object_get(doc, "job")), "report");
	CHECK(json_is_true(json_object_get(doc, "dry_run")));
	CHECK_STR(json_string_value(json_object_get(doc, "result")), "ok");
	CHECK(json_is_null(json_object_get(doc, "error")));
	CHECK_INT(json_array_size(json_object_get(doc, "output")), 6);
	CHECK_STR(json_string_value(json_array_get(json_object_get(doc, "output"), 0)),
		  "checked 3 repositories");
	CHECK_STR(json_string_value(json_array_get(json_object_get(doc, "output"), 5)), "");
	json_decref(doc);
	job_output_free(&out);

	rc = jobs_run("fail", 0, &out, &err);
	doc = jobs_result_json("fail", 0, rc, &err, &out);
	CHECK(json_is_false(json_object_get(doc, "dry_run")));
	CHECK_STR(json_string_value(json_object_get(doc, "result")), "failed");
	CHECK_STR(json_string_value(json_object_get(doc, "error")), "storage unreachable");
	CHECK_INT(json_array_size(json_object_get(doc, "output")), 1);
	json_decref(doc);
	job_output_free(&out);

	doc = jobs_result_json("x", 0, BERTH_E_IO, &(berth_error){.message = "bad \xff byte"},
			       NULL);
	CHECK(doc != NULL);
	CHECK_STR(json_string_value(json_object_get(doc, "error")), "bad ? byte");
	CHECK_INT(json_array_size(json_object_get(doc, "output")), 0);
	json_decref(doc);

	doc = jobs_list_json();
	jobs = json_object_get(doc, "jobs");
	CHECK_INT(json_array_size(jobs), 8);
	e = json_array_get(jobs, 0);
	CHECK_STR(json_string_value(json_object_get(e, "name")), "gc");
	CHECK(json_is_null(json_object_get(e, "last_run_ms")));
	e = json_array_get(jobs, 1);
	CHECK_STR(json_string_value(json_object_get(e, "name")), "report");
	CHECK_STR(json_string_value(json_object_get(e, "instance")), "maint");
	CHECK_STR(json_string_value(json_object_get(e, "description")), "Print a report");
	CHECK(json_is_null(json_object_get(e, "schedule")));
	CHECK(json_is_integer(json_object_get(e, "last_run_ms")));
	CHECK_STR(json_string_value(json_object_get(e, "last_result")), "ok");
	CHECK(json_is_null(json_object_get(e, "last_error")));
	CHECK(json_is_false(json_object_get(e, "running")));
	e = json_array_get(jobs, 2);
	CHECK_STR(json_string_value(json_object_get(e, "schedule")), "daily 03:30");
	CHECK(json_is_null(json_object_get(e, "description")));
	CHECK_STR(json_string_value(json_object_get(e, "last_result")), "failed");
	CHECK_STR(json_string_value(json_object_get(e, "last_error")), "storage unreachable");
	e = json_array_get(jobs, 7);
	CHECK_STR(json_string_value(json_object_get(e, "name")), "tick");
	json_decref(doc);
}

int main(void)
{
	test_schedule_parse();
	test_schedule_next();
	setup_instances();
	test_init();
	test_init_errors();
	test_config();
	test_run();
	test_serialized();
	test_one_at_a_time();
	test_thread();
	test_json();
	jobs_free();
	CHECK_INT(jobs_count(), 0);
	TEST_MAIN_END();
}

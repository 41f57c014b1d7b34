/*
 * hello_job.c - a plugin that declares a job: count repositories and tags.
 *
 * Jobs are named pieces of work that Berth runs one at a time: on demand,
 *
 *   berth job run hello-count -c berth.yaml            (no server needed)
 *   berth job run hello-count --dry-run -c berth.yaml
 *   curl -X POST http://127.0.0.1:5000/berth/v1/jobs/hello-count
 *
 * or on a schedule ("every 10m", "daily 03:30") by the server's job
 * thread. This one has none: the operator may still give it one in
 * berth.yaml with `jobs: {hello-count: {schedule: "every 1h"}}`.
 *
 * A job that changes things (retention, garbage collection) must change
 * nothing when host->job_dry_run() says so and only report what it would
 * do. This one only reads, but says so all the same; outside a dry run it
 * also emits an event, "hello.count", that every notifier receives.
 *
 *   plugins:
 *     - use: hello-job
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/plugin.h>

BERTH_PRINTF(3, 4)
static int fail(berth_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return code;
}

struct hello_job {
	const berth_host *host;
	const berth_instance *self;    /* emit_event() names the emitter */
};

static int hello_create(const berth_host *host, const berth_instance *self,
			const berth_config *config, void **state, berth_error *err)
{
	struct hello_job *j;

	(void)config;
	if (!BERTH_HOST_HAS(host, job_print))
		return fail(err, BERTH_E_UNSUPPORTED, "hello-job: this Berth is too old");
	j = calloc(1, sizeof(*j));
	if (!j)
		return fail(err, BERTH_E_NOMEM, "hello-job: out of memory");
	j->host = host;
	j->self = self;
	*state = j;
	return 0;
}

static void hello_destroy(void *state)
{
	free(state);
}

/* The repository names, copied: the host's strings only live for the call. */
struct names {
	char **v;
	size_t n, cap;
	int failed;
};

static int collect_name(void *ctx, const char *name)
{
	struct names *names = ctx;

	if (names->n == names->cap) {
		size_t cap = names->cap ? names->cap * 2 : 16;
		char **v = realloc(names->v, cap * sizeof(*v));

		if (!v) {
			names->failed = 1;
			return 1;      /* non-zero stops the listing */
		}
		names->v = v;
		names->cap = cap;
	}
	names->v[names->n] = strdup(name);
	if (!names->v[names->n]) {
		names->failed = 1;
		return 1;
	}
	names->n++;
	return 0;
}

static int count_tag(void *ctx, const char *name)
{
	(void)name;
	(*(size_t *)ctx)++;
	return 0;
}

/*
 * The job. Collect the names first and count tags afterwards, rather than
 * calling back into the host from inside its own listing.
 */
static int hello_count(void *state, berth_job_run *run, berth_error *err)
{
	struct hello_job *j = state;
	const berth_host *host = j->host;
	struct names names = { 0 };
	size_t i, tags_total = 0;
	int dry_run = host->job_dry_run(run);
	char detail[128];
	int rc;

	if (dry_run)
		host->job_print(run, "dry run: nothing to change");

	rc = host->list_repositories(collect_name, &names, err);
	if (rc < 0)
		goto out;
	if (names.failed) {
		rc = fail(err, BERTH_E_NOMEM, "hello-count: out of memory");
		goto out;
	}
	for (i = 0; i < names.n; i++) {
		size_t tags = 0;

		rc = host->list_tags(names.v[i], count_tag, &tags, err);
		/* A repository can lose its last tag (or itself) meanwhile. */
		if (rc == BERTH_E_NOT_FOUND)
			rc = 0;
		if (rc < 0)
			goto out;
		host->job_print(run, "%s: %zu tag%s", names.v[i], tags, tags == 1 ? "" : "s");
		tags_total += tags;
	}
	host->job_print(run, "%zu repositor%s, %zu tag%s", names.n, names.n == 1 ? "y" : "ies",
			tags_total, tags_total == 1 ? "" : "s");
	rc = 0;

	/*
	 * Tell the notifiers. The event is queued, not delivered, so this
	 * never waits for them; a full queue only loses the event.
	 */
	if (!dry_run) {
		snprintf(detail, sizeof(detail), "{\"repositories\":%zu,\"tags\":%zu}", names.n,
			 tags_total);
		if (host->emit_event(j->self, "hello.count", NULL, NULL, NULL, detail) < 0)
			host->log(j->self, BERTH_LOG_WARN, "the hello.count event was not queued");
	}
out:
	for (i = 0; i < names.n; i++)
		free(names.v[i]);
	free(names.v);
	return rc;
}

static const berth_job hello_count_job = {
	.size = sizeof(berth_job),
	.name = "hello-count",
	.description = "print each repository with its number of tags",
	.schedule = NULL,      /* on demand only */
	.run = hello_count,
};

/* Like routes: a NULL-terminated array of pointers. */
static const berth_job *const hello_jobs[] = { &hello_count_job, NULL };

static const berth_plugin hello_plugin = {
	BERTH_PLUGIN_HEADER,
	.name = "hello-job",
	.version = "0.1.0",
	.description = "declares the job hello-count",
	.create = hello_create,
	.destroy = hello_destroy,
	.jobs = hello_jobs,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &hello_plugin;
}

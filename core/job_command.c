/*
 * job_command.c - the two ways an operator runs a job by hand: the
 * `berth job` command, which loads the registry in its own process, and
 * the admin endpoint /berth/v1/jobs of a running server.
 *
 * `berth job run NAME [--dry-run] [-c FILE]` and `berth job list [-c FILE]`.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "errors.h"
#include "events.h"
#include "http.h"
#include "jobs.h"
#include "runtime.h"

/* ------------------------------------------------------------------------ */
/* JSON                                                                     */
/* ------------------------------------------------------------------------ */

/* Plugin text as a JSON string; jansson refuses invalid UTF-8, so such
 * text is shown with its non-ASCII bytes replaced. */
static json_t *text_json(const char *s)
{
	json_t *j;
	char *copy;

	if (!s)
		return json_null();
	j = json_string(s);
	if (j)
		return j;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *ms_json(int64_t ms)
{
	return ms ? json_integer(ms) : json_null();
}

json_t *jobs_list_json(void)
{
	json_t *doc = json_object(), *list = json_array();
	size_t n = jobs_count();
	job_info *info = malloc(sizeof(*info));

	if (!doc || !list || !info)
		goto fail;
	for (size_t i = 0; i < n && jobs_info(i, info) == 0; i++) {
		json_t *e = json_object();
		int ran = info->last_run_ms != 0;

		if (!e || json_array_append_new(list, e) != 0)
			goto fail;
		json_object_set_new(e, "name", json_string(info->name));
		json_object_set_new(e, "instance", text_json(info->instance));
		json_object_set_new(e, "description",
				    info->description[0] ? text_json(info->description)
							 : json_null());
		json_object_set_new(e, "schedule",
				    info->schedule[0] ? json_string(info->schedule) : json_null());
		json_object_set_new(e, "next_run_ms", ms_json(info->next_run_ms));
		json_object_set_new(e, "running", json_boolean(info->running));
		json_object_set_new(e, "last_run_ms", ms_json(info->last_run_ms));
		json_object_set_new(e, "last_result",
				    !ran ? json_null()
					 : json_string(info->last_result == 0 ? "ok" : "failed"));
		json_object_set_new(e, "last_error",
				    ran && info->last_result != 0 ? text_json(info->last_error)
								  : json_null());
	}
	if (json_object_set_new(doc, "jobs", list) != 0) {
		list = NULL;
		goto fail;
	}
	free(info);
	return doc;
fail:
	free(info);
	json_decref(list);
	json_decref(doc);
	return NULL;
}

json_t *jobs_result_json(const char *name, int dry_run, int rc, const berth_error *err,
			 const job_output *out)
{
	json_t *doc = json_object(), *lines = json_array();

	if (!doc || !lines)
		goto fail;
	for (const char *p = out && out->text ? out->text : ""; *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		json_t *line = json_stringn(p, len);

		if (!line || json_array_append_new(lines, line) != 0)
			goto fail;
		p += len + (end ? 1 : 0);
	}
	json_object_set_new(doc, "job", text_json(name));
	json_object_set_new(doc, "dry_run", json_boolean(dry_run));
	json_object_set_new(doc, "result", json_string(rc == 0 ? "ok" : "failed"));
	json_object_set_new(doc, "error",
			    rc != 0 && err ? text_json(err->message) : json_null());
	if (json_object_set_new(doc, "output", lines) != 0) {
		lines = NULL;
		goto fail;
	}
	return doc;
fail:
	json_decref(lines);
	json_decref(doc);
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* The admin endpoint                                                       */
/* ------------------------------------------------------------------------ */

static int job_exists(const char *name)
{
	job_info *info = malloc(sizeof(*info));
	int found = 0;

	for (size_t i = 0; info && !found && jobs_info(i, info) == 0; i++)
		found = strcmp(info->name, name) == 0;
	free(info);
	return found;
}

/* 1 or 0 for dry_run=..., -1 when the value means neither. */
static int parse_dry_run(const char *v)
{
	if (!v || !v[0] || strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
		return 0;
	if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
		return 1;
	return -1;
}

static void respond_doc(http_request *req, json_t *doc)
{
	if (!doc) {
		http_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				   "out of memory");
		return;
	}
	http_respond_json(req, MHD_HTTP_OK, doc, "application/json", NULL);
	json_decref(doc);
}

void jobs_http(http_request *req, const char *name)
{
	static const char *const allow_get[] = {"Allow", "GET, HEAD", NULL};
	static const char *const allow_post[] = {"Allow", "POST", NULL};
	job_output out = {0};
	berth_error err = {0};
	int dry_run, rc;

	if (!name) {
		if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
			http_respond_error_headers(req, MHD_HTTP_METHOD_NOT_ALLOWED,
						   OCI_UNSUPPORTED, allow_get,
						   "use GET to list the jobs");
			return;
		}
		respond_doc(req, jobs_list_json());
		return;
	}
	if (req->method != HTTP_POST) {
		http_respond_error_headers(req, MHD_HTTP_METHOD_NOT_ALLOWED, OCI_UNSUPPORTED,
					   allow_post, "use POST to run a job");
		return;
	}
	/* Looked up first: a job that fails with BERTH_E_NOT_FOUND still ran. */
	if (!job_exists(name)) {
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_NAME_UNKNOWN, "no job named '%.*s'",
				   JOB_NAME_MAX, name);
		return;
	}
	dry_run = parse_dry_run(http_query(req, "dry_run"));
	if (dry_run < 0) {
		http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_UNSUPPORTED,
				   "dry_run must be 1, true, 0 or false");
		return;
	}
	rc = jobs_run(name, dry_run, &out, &err);
	respond_doc(req, jobs_result_json(name, dry_run, rc, &err, &out));
	job_output_free(&out);
}

/* ------------------------------------------------------------------------ */
/* berth job                                                                */
/* ------------------------------------------------------------------------ */

static const char job_usage[] =
	"usage: berth job run NAME [--dry-run] [-c FILE]\n"
	"       berth job list [-c FILE]\n"
	"\n"
	"Run a job a plugin declares, once, in this process: the configuration and\n"
	"its plugins are loaded as `berth serve` would, without listening. What the\n"
	"job prints goes to stdout, its log to stderr. Events the job emits reach the\n"
	"notifiers before the command exits. On a running server, use\n"
	"POST /berth/v1/jobs/NAME instead.\n"
	"\n"
	"Exits 0 when the job succeeds; 1 when it fails or the configuration is\n"
	"invalid; 2 on a usage error or a job name no plugin declares.\n"
	"\n"
	"commands:\n"
	"  run NAME            run the job NAME\n"
	"  list                list the jobs, their plugin instance and schedule\n"
	"\n"
	"options:\n"
	"  --dry-run           report what the job would do and change nothing\n"
	"  -c, --config FILE   the configuration file (default berth.yaml)\n"
	"  -h, --help          show this help\n";

typedef struct job_args {
	const char *action;
	const char *name;
	const char *config;
	int dry_run;
} job_args;

/* 0, 1 when help was shown, -1 on a usage error (printed). */
static int parse_args(int argc, char **argv, job_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0 || strcmp(s, "help") == 0) {
			fputs(job_usage, stdout);
			return 1;
		}
		if (strcmp(s, "-c") == 0 || strcmp(s, "--config") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "berth: %s needs a file\n\n%s", s, job_usage);
				return -1;
			}
			a->config = argv[++i];
		} else if (strncmp(s, "--config=", 9) == 0) {
			a->config = s + 9;
		} else if (strcmp(s, "--dry-run") == 0) {
			a->dry_run = 1;
		} else if (s[0] == '-') {
			fprintf(stderr, "berth: unknown option '%s'\n\n%s", s, job_usage);
			return -1;
		} else if (!a->action) {
			a->action = s;
		} else if (!a->name) {
			a->name = s;
		} else {
			fprintf(stderr, "berth: unexpected argument '%s'\n\n%s", s, job_usage);
			return -1;
		}
	}
	if (!a->action) {
		fputs(job_usage, stderr);
		return -1;
	}
	if (strcmp(a->action, "run") == 0) {
		if (!a->name) {
			fprintf(stderr, "berth: job run needs the NAME of a job\n\n%s", job_usage);
			return -1;
		}
		return 0;
	}
	if (strcmp(a->action, "list") == 0) {
		if (a->name || a->dry_run) {
			fprintf(stderr, "berth: job list takes no NAME and no --dry-run\n\n%s",
				job_usage);
			return -1;
		}
		return 0;
	}
	fprintf(stderr, "berth: unknown job command '%s'\n\n%s", a->action, job_usage);
	return -1;
}

static void print_line(void *ctx, const char *line)
{
	FILE *f = ctx;

	fputs(line, f);
	fputc('\n', f);
	/* A long job's progress should show as it happens, also through a pipe. */
	fflush(f);
}

static void print_list(void)
{
	size_t n = jobs_count();
	job_info *info = malloc(sizeof(*info));

	if (!info)
		return;
	printf("%-24s %-16s %-16s %s\n", "NAME", "INSTANCE", "SCHEDULE", "DESCRIPTION");
	for (size_t i = 0; i < n && jobs_info(i, info) == 0; i++)
		printf("%-24s %-16s %-16s %s\n", info->name, info->instance,
		       info->schedule[0] ? info->schedule : "on demand", info->description);
	free(info);
}

int cmd_job(int argc, char **argv)
{
	job_args a = {.config = "berth.yaml"};
	job_output out = {.on_line = print_line, .ctx = stdout};
	runtime rt = {0};
	berth_error err = {0};
	int events_on = 0;
	int rc, status = 1;

	rc = parse_args(argc, argv, &a);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	/* Output piped into `head` must not kill a job halfway through. */
	signal(SIGPIPE, SIG_IGN);

	rc = runtime_open(a.config, &rt, &err);
	if (rc == 0)
		rc = jobs_init(&rt.plugins, rt.cfg, &err);
	if (rc != 0) {
		fprintf(stderr, "berth: %s\n", err.message);
		goto out;
	}
	if (strcmp(a.action, "list") == 0) {
		print_list();
		status = 0;
		goto out;
	}
	if (!job_exists(a.name)) {
		fprintf(stderr, "berth: no job named '%s' (`berth job list` shows the jobs)\n",
			a.name);
		status = 2;
		goto out;
	}
	rc = events_start(&rt.plugins, rt.cfg->events_queue_size, &err);
	if (rc != 0) {
		fprintf(stderr, "berth: %s\n", err.message);
		goto out;
	}
	events_on = 1;
	rc = jobs_run(a.name, a.dry_run, &out, &err);
	if (rc != 0) {
		fprintf(stderr, "berth: job '%s' failed: %s\n", a.name, err.message);
		goto out;
	}
	status = 0;
out:
	if (events_on)
		events_stop(rt.cfg->shutdown_timeout_ms);
	jobs_free();
	runtime_close(&rt);
	job_output_free(&out);
	return status;
}

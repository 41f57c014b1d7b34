/*
 * gc_command.c - `berth gc`: garbage collection from the command line.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "gc.h"
#include "runtime.h"

static const char gc_usage[] =
	"usage: berth gc [-c FILE] [--dry-run] [--json] [--grace-period DURATION]\n"
	"\n"
	"Free the blobs no manifest of any repository references, layer links no\n"
	"manifest of their repository references, and uploads older than\n"
	"registry.upload_purge_age, in the storage FILE (default berth.yaml)\n"
	"configures. Blobs and links younger than the grace period (gc.grace_period,\n"
	"default 1h) are kept.\n"
	"\n"
	"A running server collects online with its job `gc` (scheduled daily at\n"
	"03:00 UTC; `curl -X POST http://HOST/berth/v1/jobs/gc` runs it now): there\n"
	"its write barrier also protects every push in flight. This command runs in\n"
	"its own process, where only the grace period protects the server's pushes:\n"
	"use it with the server stopped, or keep the grace period longer than any\n"
	"push takes. --dry-run changes nothing and is safe at any time.\n"
	"\n"
	"options:\n"
	"  -c, --config FILE          the configuration file (default berth.yaml)\n"
	"  --dry-run                  list what would be freed, change nothing\n"
	"  --json                     print the report as JSON on stdout (the lines\n"
	"                             go to stderr)\n"
	"  --grace-period DURATION    override gc.grace_period (e.g. 0s, 30m, 24h)\n"
	"  -h, --help                 show this help\n";

static void print_line(void *ctx, const char *line)
{
	FILE *f = ctx;

	fputs(line, f);
	fputc('\n', f);
	fflush(f);
}

int cmd_gc(int argc, char **argv)
{
	const char *config = "berth.yaml", *grace = NULL;
	int dry_run = 0, json = 0, status = 1, rc;
	runtime rt = {0};
	berth_error err = {0};
	gc_options o;
	gc_report r;
	char *text;

	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			fputs(gc_usage, stdout);
			return 0;
		} else if ((strcmp(s, "-c") == 0 || strcmp(s, "--config") == 0) && i + 1 < argc) {
			config = argv[++i];
		} else if (strncmp(s, "--config=", 9) == 0) {
			config = s + 9;
		} else if (strcmp(s, "--dry-run") == 0) {
			dry_run = 1;
		} else if (strcmp(s, "--json") == 0) {
			json = 1;
		} else if (strcmp(s, "--grace-period") == 0 && i + 1 < argc) {
			grace = argv[++i];
		} else if (strncmp(s, "--grace-period=", 15) == 0) {
			grace = s + 15;
		} else {
			fprintf(stderr, "berth: %s '%s'\n\n%s",
				s[0] == '-' ? "unknown or incomplete option" : "unexpected argument", s,
				gc_usage);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	rc = runtime_open(config, &rt, &err);
	if (rc != 0) {
		fprintf(stderr, "berth: %s\n", err.message);
		goto out;
	}
	gc_options_from_config(rt.cfg, &o);
	o.dry_run = dry_run;
	if (grace && config_parse_duration_ms(grace, &o.grace_ms) < 0) {
		fprintf(stderr, "berth: invalid --grace-period '%s': expected a duration such as "
				"30m or 24h\n",
			grace);
		status = 2;
		goto out;
	}
	rc = gc_run(&o, &r, print_line, json ? stderr : stdout, &err);
	if (rc != 0) {
		fprintf(stderr, "berth: gc failed: %s\n", err.message);
		goto out;
	}
	if (json) {
		text = gc_report_json(&r, dry_run);
		if (text)
			printf("%s\n", text);
		free(text);
	}
	status = 0;
out:
	runtime_close(&rt);
	return status;
}

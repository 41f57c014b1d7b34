/*
 * fsck_command.c - `berth fsck`: check (and repair) the registry's storage.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "fsck.h"
#include "runtime.h"

static const char fsck_usage[] =
	"usage: berth fsck [-c FILE] [--repair] [--quick]\n"
	"\n"
	"Check the storage FILE (default berth.yaml) configures: every blob's bytes\n"
	"against its digest, every link against the blob it names, every manifest\n"
	"against what it references, every tag and upload. Each problem is one line.\n"
	"\n"
	"--repair removes what is broken (a corrupt blob, a link to nothing, a\n"
	"manifest that does not parse and its tags, a half-created upload) and never\n"
	"anything else; a manifest missing a layer is only reported, since pushing\n"
	"the layer again heals it. Repair with the server stopped: a running server\n"
	"may be halfway through writing what looks broken.\n"
	"\n"
	"exit status: 0 nothing wrong, 1 problems found and all repaired, 4 problems\n"
	"left, 8 the check could not run, 2 a usage error.\n"
	"\n"
	"options:\n"
	"  -c, --config FILE   the configuration file (default berth.yaml)\n"
	"  --repair            remove what is broken\n"
	"  --quick             do not hash blobs, only check that their data exists\n"
	"  -h, --help          show this help\n";

static void print_line(void *ctx, const char *line)
{
	FILE *out = ctx;

	fputs(line, out);
	fputc('\n', out);
	fflush(out);
}

int cmd_fsck(int argc, char **argv)
{
	const char *config = "berth.yaml";
	fsck_options o = {.verify_data = 1};
	fsck_report r;
	runtime rt = {0};
	berth_error err = {0};
	int status = 8, rc;

	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			fputs(fsck_usage, stdout);
			return 0;
		} else if ((strcmp(s, "-c") == 0 || strcmp(s, "--config") == 0) && i + 1 < argc) {
			config = argv[++i];
		} else if (strncmp(s, "--config=", 9) == 0) {
			config = s + 9;
		} else if (strcmp(s, "--repair") == 0) {
			o.repair = 1;
		} else if (strcmp(s, "--quick") == 0) {
			o.verify_data = 0;
		} else {
			fprintf(stderr, "berth: %s '%s'\n\n%s",
				s[0] == '-' ? "unknown or incomplete option" : "unexpected argument", s,
				fsck_usage);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	rc = runtime_open(config, &rt, &err);
	if (rc == 0)
		rc = fsck_run(&o, &r, print_line, stdout, &err);
	if (rc != 0) {
		fprintf(stderr, "berth: fsck: %s\n", err.message);
		goto out;
	}
	printf("checked %" PRIu64 " blobs (%" PRIu64 " bytes hashed), %" PRIu64
	       " repositories, %" PRIu64 " manifests, %" PRIu64 " tags, %" PRIu64
	       " links: %" PRIu64 " problems, %" PRIu64 " repaired, %" PRIu64 " notes\n",
	       r.blobs, r.bytes_hashed, r.repositories, r.manifests, r.tags, r.links, r.problems,
	       r.repaired, r.notes);
	status = r.problems == 0 ? 0 : r.repaired == r.problems ? 1 : 4;
out:
	runtime_close(&rt);
	return status;
}

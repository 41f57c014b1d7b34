/*
 * main.c - `berth COMMAND [options]`.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const char usage[] =
	"usage: berth COMMAND [options]\n"
	"\n"
	"Berth is a private OCI container registry.\n"
	"\n"
	"commands:\n"
	"  serve           serve the registry (berth serve -c berth.yaml)\n"
	"  config check    validate the configuration, plugins' config included, and exit\n"
	"  plugins         list the configured plugin instances and the order hooks run in\n"
	"  plugin check    load one plugin file, print its descriptor, validate a config\n"
	"  job run NAME    run a plugin's job now (--dry-run to change nothing)\n"
	"  job list        list the jobs plugins provide\n"
	"  gc              free unreferenced blobs (--dry-run to list them)\n"
	"  fsck            check the storage; --repair removes what is broken\n"
	"  version         print the version\n"
	"  passwd          add or change users of the auth-token plugin (berth-passwd)\n"
	"\n"
	"Any other COMMAND runs the program berth-COMMAND from the folder of this\n"
	"binary or from PATH. Run 'berth COMMAND --help' for the options of a command.\n";

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	int rc;

	if (!cmd || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0) {
		fputs(usage, cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("berth %s\n", BERTH_VERSION);
		return 0;
	}
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "config") == 0)
		return cmd_config(argc - 1, argv + 1);
	if (strcmp(cmd, "plugins") == 0)
		return cmd_plugins(argc - 1, argv + 1);
	if (strcmp(cmd, "plugin") == 0)
		return cmd_plugin(argc - 1, argv + 1);
	if (strcmp(cmd, "job") == 0)
		return cmd_job(argc - 1, argv + 1);
	if (strcmp(cmd, "gc") == 0)
		return cmd_gc(argc - 1, argv + 1);
	if (strcmp(cmd, "fsck") == 0)
		return cmd_fsck(argc - 1, argv + 1);
	rc = cmd_external(argv + 1);
	if (rc >= 0)
		return rc;
	fprintf(stderr, "berth: unknown command '%s'\n\n%s", cmd, usage);
	return 2;
}

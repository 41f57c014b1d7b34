/*
 * external_command.c - `berth NAME ...` runs the program berth-NAME.
 *
 * Tools that need a library the core does not link (libcrypt for
 * `berth passwd`) ship beside the binary as berth-NAME, the way git finds
 * git-NAME: first in the folder of the running berth, then on PATH. The
 * core stays small and plugins can bring their own command-line tools.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

static int name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64 || name[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-'))
			return 0;
	return 1;
}

/* The folder holding the running binary, or "" when unknown. */
static void self_dir(char *out, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", out, cap - 1);
	char *slash;

	if (n <= 0) {
		out[0] = '\0';
		return;
	}
	out[n] = '\0';
	slash = strrchr(out, '/');
	if (slash)
		*slash = '\0';
	else
		out[0] = '\0';
}

int cmd_external(char **argv)
{
	char dir[PATH_MAX], path[PATH_MAX + 80], prog[80];
	const char *name = argv[0];

	if (!name_ok(name))
		return -1;
	snprintf(prog, sizeof(prog), "berth-%s", name);
	argv[0] = prog;
	self_dir(dir, sizeof(dir));
	if (dir[0]) {
		snprintf(path, sizeof(path), "%s/%s", dir, prog);
		if (access(path, X_OK) == 0) {
			execv(path, argv);
			fprintf(stderr, "berth: cannot run %s: %s\n", path, strerror(errno));
			return 126;
		}
	}
	execvp(prog, argv);
	argv[0] = (char *)name;
	if (errno == ENOENT)
		return -1;
	fprintf(stderr, "berth: cannot run %s: %s\n", prog, strerror(errno));
	return 126;
}

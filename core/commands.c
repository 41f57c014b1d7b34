/*
 * commands.c - `berth config check` and `berth plugins`, and the option
 * parsing all commands share.
 */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "hooks.h"
#include "jobs.h"
#include "plugin_loader.h"

int command_options(int argc, char **argv, const char **config, const char *usage)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 1;
		}
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "berth: %s needs a file\n\n%s", a, usage);
				return -1;
			}
			*config = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			*config = a + 9;
		} else {
			fprintf(stderr, "berth: unknown option '%s'\n\n%s", a, usage);
			return -1;
		}
	}
	return 0;
}

static const char config_usage[] =
	"usage: berth config check [-c FILE]\n"
	"\n"
	"Read FILE (default berth.yaml) and its includes, load every declared plugin,\n"
	"check its ABI and validate its config against its schema, without serving.\n"
	"Errors name the file and line. Exits 0 when the configuration is valid.\n"
	"\n"
	"options:\n"
	"  -c, --config FILE   the configuration file (default berth.yaml)\n"
	"  -h, --help          show this help\n";

int cmd_config(int argc, char **argv)
{
	const char *file = "berth.yaml";
	server_config *cfg = NULL;
	plugin_set set = {0};
	berth_error err = {0};
	int rc, status = 1;

	if (argc < 2 || (strcmp(argv[1], "check") != 0 && strcmp(argv[1], "--help") != 0 &&
			 strcmp(argv[1], "-h") != 0)) {
		fputs(config_usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "check") != 0) {
		fputs(config_usage, stdout);
		return 0;
	}
	rc = command_options(argc - 1, argv + 1, &file, config_usage);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	rc = config_load(file, &cfg, &err);
	if (rc != 0) {
		fprintf(stderr, "berth: %s\n", err.message);
		goto out;
	}
	for (size_t i = 0; i < cfg->n_warnings; i++)
		fprintf(stderr, "berth: warning: %s\n", cfg->warnings[i]);
	rc = plugins_load(cfg, &set, &err);
	if (rc == 0)
		rc = hooks_init(&set, &err);
	if (rc == 0)
		rc = plugins_check_config(&set, &err);
	if (rc == 0) {
		/* Reads only the copied descriptors: no plugin code runs. */
		rc = jobs_init(&set, cfg, &err);
		jobs_free();
	}
	if (rc != 0) {
		fprintf(stderr, "berth: %s\n", err.message);
		goto out;
	}
	printf("%s: ok (%zu file%s, %zu plugin instance%s)\n", file, cfg->n_files,
	       cfg->n_files == 1 ? "" : "s", set.n, set.n == 1 ? "" : "s");
	for (size_t i = 0; i < set.n; i++) {
		char kinds[128];
		plugin_kinds_string(set.v[i].kinds, kinds, sizeof(kinds));
		printf("  %s: %s %s [%s]\n", set.v[i].name, set.v[i].desc.name,
		       set.v[i].desc.version ? set.v[i].desc.version : "", kinds);
		plugin_config_print(stdout, &set.v[i].config, 4);
	}
	status = 0;
out:
	hooks_reset();
	plugins_unload(&set);
	config_free(cfg);
	return status;
}

static const char plugins_usage[] =
	"usage: berth plugins [-c FILE]\n"
	"\n"
	"List the plugin instances FILE (default berth.yaml) declares: instance name,\n"
	"plugin, version, ABI, kinds, priority and file; then each hook chain in the\n"
	"order it runs (priority, then declared order) and the plugin routes.\n"
	"\n"
	"options:\n"
	"  -c, --config FILE   the configuration file (default berth.yaml)\n"
	"  -h, --help          show this help\n";

int cmd_plugins(int argc, char **argv)
{
	const char *file = "berth.yaml";
	server_config *cfg = NULL;
	plugin_set set = {0};
	berth_error err = {0};
	int rc, status = 1;

	rc = command_options(argc, argv, &file, plugins_usage);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	rc = config_load(file, &cfg, &err);
	if (rc == 0)
		rc = plugins_load(cfg, &set, &err);
	if (rc != 0) {
		fprintf(stderr, "berth: %s\n", err.message);
		goto out;
	}
	printf("%-16s %-16s %-10s %-6s %-10s %-8s %s\n", "INSTANCE", "PLUGIN", "VERSION", "ABI",
	       "KINDS", "PRIORITY", "FILE");
	for (size_t i = 0; i < set.n; i++) {
		plugin_instance *in = &set.v[i];
		char kinds[128], abi[16];
		plugin_kinds_string(in->kinds, kinds, sizeof(kinds));
		snprintf(abi, sizeof(abi), "%u.%u", in->desc.abi_major, in->desc.abi_minor);
		printf("%-16s %-16s %-10s %-6s %-10s %-8d %s\n", in->name, in->desc.name,
		       in->desc.version ? in->desc.version : "-", abi, kinds, in->priority,
		       in->path);
	}
	rc = hooks_init(&set, &err);
	if (rc != 0) {
		fprintf(stderr, "berth: %s\n", err.message);
		goto out;
	}
	printf("\n");
	hooks_print_order(stdout);
	status = 0;
out:
	plugins_unload(&set);
	config_free(cfg);
	return status;
}

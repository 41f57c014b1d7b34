/*
 * plugin_check.c - `berth plugin check FILE.so [--config FILE.yaml] [--start]`:
 * load one plugin through the real loader without a registry, print what its
 * descriptor declares, validate a config for it, and optionally run its
 * lifecycle once. For plugin authors and for operators vetting a .so.
 */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config_node.h"
#include "plugin_loader.h"

static const char check_usage[] =
	"usage: berth plugin check FILE.so [--config FILE.yaml] [--start]\n"
	"\n"
	"Load FILE.so through Berth's loader (ABI checks included), print its\n"
	"descriptor: name, version, ABI, kinds, config schema, routes and jobs.\n"
	"\n"
	"options:\n"
	"  --config FILE.yaml  a YAML map to validate against the plugin's schema\n"
	"                      (what would go under `config:` in conf.d/)\n"
	"  --start             also create(), start(), stop() and destroy() it once\n"
	"  -h, --help          show this help\n";

static const char *type_name(int t)
{
	static const char *const names[] = {"end", "string", "int", "bool", "size", "duration",
					    "list", "map", "list of maps"};
	return t >= 0 && t <= BERTH_CONFIG_MAP_LIST ? names[t] : "?";
}

static int read_config(const char *path, cfg_node **out, berth_error *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	if (!f) {
		snprintf(err->message, sizeof(err->message), "cannot open '%s'", path);
		return BERTH_E_CONFIG;
	}
	for (;;) {
		if (len == cap) {
			char *nb;
			cap = cap ? cap * 2 : 4096;
			if (cap > 1024 * 1024 || !(nb = realloc(buf, cap))) {
				fclose(f);
				free(buf);
				snprintf(err->message, sizeof(err->message), "'%s' is too large", path);
				return BERTH_E_CONFIG;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	rc = cfg_parse(path, buf ? buf : "", len, CFG_PARSE_EXPAND_ENV, out, err);
	free(buf);
	if (rc == 0 && *out && (*out)->type != CFG_MAP) {
		rc = cfg_node_error(err, *out, "the plugin config must be a map");
		cfg_node_free(*out);
		*out = NULL;
	}
	return rc;
}

static void print_descriptor(const plugin_instance *in)
{
	const berth_plugin *d = &in->desc;
	char kinds[128];

	plugin_kinds_string(in->kinds, kinds, sizeof(kinds));
	printf("file:        %s\n", in->path);
	printf("name:        %s\n", d->name);
	printf("version:     %s\n", d->version ? d->version : "-");
	printf("description: %s\n", d->description ? d->description : "-");
	printf("abi:         %u.%u (host %u.%u)\n", d->abi_major, d->abi_minor, BERTH_ABI_MAJOR,
	       BERTH_ABI_MINOR);
	printf("kinds:       %s\n", kinds);
	printf("serialized:  %s\n", (d->flags & BERTH_PLUGIN_SERIALIZED) ? "yes" : "no");
	printf("functions:  %s%s%s%s%s%s\n", d->create ? " create" : "", d->start ? " start" : "",
	       d->stop ? " stop" : "", d->destroy ? " destroy" : "", d->reopen ? " reopen" : "",
	       d->check_config ? " check_config" : "");
	if (d->request)
		printf("request:     priority %d%s%s\n", in->request.priority,
		       in->request.before ? ", before" : "", in->request.after ? ", after" : "");
	if (d->auth)
		printf("auth:        priority %d%s%s%s\n", in->auth.priority,
		       in->auth.authenticate ? ", authenticate" : "",
		       in->auth.authorize ? ", authorize" : "",
		       in->auth.challenge ? ", challenge" : "");
	if (d->notify)
		printf("notify:      %s\n",
		       (in->notify.flags & BERTH_NOTIFY_DURABLE) ? "durable" : "may drop when full");
	printf("config:%s\n", d->config_schema && d->config_schema[0].key ? "" : "      none");
	for (const berth_config_key *k = d->config_schema; k && k->key; k++)
		printf("  %-20s %-8s%s%s%s%s  %s\n", k->key, type_name(k->type),
		       (k->flags & BERTH_CONFIG_REQUIRED) ? " required" : "",
		       (k->flags & BERTH_CONFIG_SECRET) ? " secret" : "",
		       k->default_value ? " default=" : "", k->default_value ? k->default_value : "",
		       k->help ? k->help : "");
	for (size_t i = 0; d->routes && d->routes[i]; i++) {
		const berth_route *r = d->routes[i];
		if (r->size < offsetof(berth_route, flags) + sizeof(r->flags)) {
			printf("route:       (table of %u bytes, too small)\n", r->size);
			continue;
		}
		printf("route:       %s %s%s\n", r->method ? r->method : "*",
		       r->path ? r->path : "(none)", (r->flags & BERTH_ROUTE_PUBLIC) ? " (public)" : "");
	}
	for (size_t i = 0; d->jobs && d->jobs[i]; i++) {
		/* Read only the fields this job table is big enough to hold. */
		const berth_job *j = d->jobs[i];
		int has_schedule = j->size >= offsetof(berth_job, schedule) + sizeof(j->schedule);
		printf("job:         %s%s%s\n",
		       j->size >= offsetof(berth_job, name) + sizeof(j->name) && j->name ? j->name
											 : "(none)",
		       has_schedule && j->schedule ? " schedule=" : "",
		       has_schedule && j->schedule ? j->schedule : "");
	}
}

static int plugin_check(int argc, char **argv)
{
	const char *file = NULL, *config_file = NULL;
	int start = 0, status = 1;
	cfg_node *config = NULL;
	server_config cfg = {0};
	plugin_decl decl = {0};
	plugin_set set = {0};
	berth_error err = {0};
	char path[4096];
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(check_usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config_file = argv[++i];
		} else if (strcmp(argv[i], "--start") == 0) {
			start = 1;
		} else if (argv[i][0] != '-' && !file) {
			file = argv[i];
		} else {
			fprintf(stderr, "berth: unexpected argument '%s'\n\n%s", argv[i], check_usage);
			return 2;
		}
	}
	if (!file) {
		fputs(check_usage, stderr);
		return 2;
	}
	/* A bare name would be looked up on plugin_path; a file is meant here. */
	if (!realpath(file, path)) {
		fprintf(stderr, "berth: cannot find '%s'\n", file);
		goto out;
	}
	if (config_file) {
		rc = read_config(config_file, &config, &err);
		if (rc != 0) {
			fprintf(stderr, "berth: %s\n", err.message);
			goto out;
		}
	}
	if (!config)
		config = cfg_node_new(CFG_MAP, "<no config>", 0, 0);
	decl.use = path;
	decl.name = "plugin";
	decl.config = config;
	decl.file = "<command line>";
	cfg.plugins = &decl;
	cfg.n_plugins = 1;
	rc = plugins_load_unchecked(&cfg, &set, &err);
	if (set.n == 1 && set.v[0].desc.name)
		print_descriptor(&set.v[0]);
	if (rc == 0)
		rc = plugins_check_config(&set, &err);
	if (rc != 0) {
		fprintf(stderr, "berth: %s\n", err.message);
		goto out;
	}
	printf("config:      valid%s\n", config_file ? "" : " (no config given: defaults)");
	if (start) {
		rc = plugins_start(&set, &err, NULL);
		if (rc != 0) {
			fprintf(stderr, "berth: %s\n", err.message);
			goto out;
		}
		printf("lifecycle:   create, start, stop and destroy ran\n");
	}
	status = 0;
out:
	plugins_unload(&set);
	cfg_node_free(config);
	return status;
}

int cmd_plugin(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return plugin_check(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(check_usage, stdout);
		return 0;
	}
	fputs(check_usage, stderr);
	return 2;
}

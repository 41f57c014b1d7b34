/*
 * test_plugin_loader.c - real .so files through the real loader: the
 * shipped storage-fs, and plugins built to be refused (tests/plugins/).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "plugin_loader.h"
#include "test.h"

static char dir[] = "/tmp/berth-loader-XXXXXX";

/* Write a config naming the plugins in `body`, load it, and load its plugins. */
static int load(const char *body, plugin_set *set, server_config **cfg, berth_error *err)
{
	char path[256];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/berth.yaml", dir);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "listen: 127.0.0.1:5999\nplugin_path: [%s, %s]\n%s", BERTH_TEST_PLUGIN_DIR,
		BERTH_TEST_EXTRA_PLUGIN_DIR, body);
	fclose(f);
	memset(err, 0, sizeof(*err));
	rc = config_load(path, cfg, err);
	if (rc != 0)
		return rc;
	return plugins_load(*cfg, set, err);
}

static void unload(plugin_set *set, server_config **cfg)
{
	plugins_unload(set);
	config_free(*cfg);
	*cfg = NULL;
}

static void expect_refusal(const char *use, const char *needle)
{
	char body[512];
	plugin_set set = {0};
	server_config *cfg = NULL;
	berth_error err;
	int rc;

	snprintf(body, sizeof(body),
		 "plugins:\n  - use: storage-fs\n    config: {root: %s/root}\n  - use: %s\n", dir,
		 use);
	rc = load(body, &set, &cfg, &err);
	CHECK(rc < 0);
	if (!strstr(err.message, needle)) {
		test_failures++;
		fprintf(stderr, "%s: message '%s' lacks '%s'\n", use, err.message, needle);
	}
	/* Every refusal says where the plugin was declared. */
	CHECK(strstr(err.message, "berth.yaml:") != NULL);
	unload(&set, &cfg);
}

int main(void)
{
	plugin_set set = {0};
	server_config *cfg = NULL;
	berth_error err;
	char body[512], kinds[64];
	int rc;

	if (!mkdtemp(dir))
		return 1;

	/* The shipped plugin loads, twice with different config. */
	snprintf(body, sizeof(body),
		 "plugins:\n  - use: storage-fs\n    config: {root: %s/a}\n", dir);
	rc = load(body, &set, &cfg, &err);
	CHECK_INT(rc, 0);
	CHECK_INT(set.n, 1);
	if (set.n == 1) {
		CHECK_STR(set.v[0].desc.name, "storage-fs");
		CHECK_INT(set.v[0].desc.abi_major, BERTH_ABI_MAJOR);
		CHECK(set.v[0].kinds == BERTH_KIND_STORAGE);
		plugin_kinds_string(set.v[0].kinds, kinds, sizeof(kinds));
		CHECK_STR(kinds, "storage");
		CHECK(plugins_storage(&set) == &set.v[0]);
		CHECK_INT(plugins_start(&set, &err, NULL), 0);
		CHECK(access(BERTH_TEST_PLUGIN_DIR "/storage-fs.so", F_OK) == 0);
	}
	unload(&set, &cfg);

	/* Exactly one storage instance. */
	snprintf(body, sizeof(body),
		 "plugins:\n  - use: storage-fs\n    name: one\n    config: {root: %s/a}\n"
		 "  - use: storage-fs\n    name: two\n    config: {root: %s/b}\n",
		 dir, dir);
	CHECK(load(body, &set, &cfg, &err) < 0);
	CHECK(strstr(err.message, "second storage plugin 'two'") != NULL);
	if (!strstr(err.message, "berth.yaml:7")) { test_failures++; fprintf(stderr, "second storage: %s\n", err.message); }
	unload(&set, &cfg);

	CHECK(load("plugins: []\n", &set, &cfg, &err) < 0);
	CHECK(strstr(err.message, "no storage plugin is configured") != NULL);
	unload(&set, &cfg);

	/* Refusals, each naming what differs. */
	expect_refusal("abi-newer-minor", "ABI minor version is newer than the host's: plugin has 1.1, host has 1.0");
	expect_refusal("abi-other-major", "ABI major version differs: plugin has 2, host has 1");
	expect_refusal("bad-magic", "descriptor magic is 0x12345678, host expects 0x48545242");
	expect_refusal("no-entry", "no berth_plugin_entry() symbol");
	expect_refusal("hooks-request", "request table has no hook");
	expect_refusal("does-not-exist", "plugin 'does-not-exist' not found: no does-not-exist.so in");
	expect_refusal("./missing/file.so", "does not exist");

	/* A config key the plugin's schema does not know, with file:line. */
	snprintf(body, sizeof(body),
		 "plugins:\n  - use: storage-fs\n    config:\n      root: %s/a\n      rooot: x\n",
		 dir);
	CHECK(load(body, &set, &cfg, &err) < 0);
	CHECK(strstr(err.message, "berth.yaml:7") != NULL);
	CHECK(strstr(err.message, "rooot") != NULL);
	unload(&set, &cfg);

	/* A missing required key. */
	CHECK(load("plugins:\n  - use: storage-fs\n", &set, &cfg, &err) < 0);
	CHECK(strstr(err.message, "root") != NULL);
	unload(&set, &cfg);

	/* create() failing stops the start with the plugin's own message. */
	rc = load("plugins:\n  - use: create-fails\n    config: {reason: disk on fire}\n", &set,
		  &cfg, &err);
	CHECK_INT(rc, 0);
	rc = plugins_start(&set, &err, NULL);
	CHECK(rc < 0);
	CHECK(strstr(err.message, "plugin 'create-fails' failed to start: refusing to start: disk on fire") != NULL);
	unload(&set, &cfg);

	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	}
	TEST_MAIN_END();
}

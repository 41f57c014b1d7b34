/*
 * test_config.c - berth.yaml loading: includes, merging, ${VAR} expansion,
 * value checks and the exact file:line:column of every error, on real
 * files in a temporary directory.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "test.h"

static char tmpdir[256];

static char *tpath(const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, PATH_MAX, "%s/%s", tmpdir, rel);
	return b;
}

static void write_file(const char *rel, const char *text)
{
	char *p = tpath(rel), *slash;
	FILE *f;

	/* Create parent directories as needed. */
	for (slash = strchr(p + strlen(tmpdir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(p, 0700);
		*slash = '/';
	}
	f = fopen(p, "w");
	if (!f) {
		perror(p);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void clean_dir(void)
{
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (mkdir(tmpdir, 0700) < 0) {
		perror(tmpdir);
		exit(2);
	}
}

/* Load tmpdir/main and expect an error whose message is exactly `want`
 * after the temp dir prefix is replaced by "T". */
static void expect_error_file(const char *rel, const char *want, int line)
{
	server_config *c = NULL;
	berth_error err = { 0 };
	char got[sizeof(err.message) + 8];
	size_t tl = strlen(tmpdir);
	int rc = config_load(tpath(rel), &c, &err);
	const char *m = err.message;
	size_t n = 0;

	test_checks++;
	while (*m && n + 2 < sizeof(got)) {
		if (strncmp(m, tmpdir, tl) == 0) {
			got[n++] = 'T';
			m += tl;
		} else {
			got[n++] = *m++;
		}
	}
	got[n] = '\0';
	if (rc != BERTH_E_CONFIG || c || err.code != BERTH_E_CONFIG || strcmp(got, want) != 0) {
		test_failures++;
		fprintf(stderr, "%s:%d: rc %d, message \"%s\", expected \"%s\"\n", __FILE__, line,
			rc, got, want);
	}
	config_free(c);
}
#define EXPECT_ERROR_FILE(rel, want) expect_error_file(rel, want, __LINE__)

static void expect_error_buf(const char *yaml, const char *want, int line)
{
	server_config *c = NULL;
	berth_error err = { 0 };
	int rc = config_load_buffer("b.yaml", yaml, strlen(yaml), &c, &err);

	test_checks++;
	if (rc != BERTH_E_CONFIG || c || err.code != BERTH_E_CONFIG ||
	    strcmp(err.message, want) != 0) {
		test_failures++;
		fprintf(stderr, "%s:%d: rc %d, message \"%s\", expected \"%s\"\n", __FILE__, line,
			rc, err.message, want);
	}
	config_free(c);
}
#define EXPECT_ERROR(yaml, want) expect_error_buf(yaml, want, __LINE__)

static server_config *load_buf(const char *yaml, int line)
{
	server_config *c = NULL;
	berth_error err = { 0 };

	if (config_load_buffer("b.yaml", yaml, strlen(yaml), &c, &err) < 0) {
		fprintf(stderr, "%s:%d: unexpected error: %s\n", __FILE__, line, err.message);
		test_failures++;
	}
	test_checks++;
	return c;
}
#define LOAD(yaml) load_buf(yaml, __LINE__)

static server_config *load_file(const char *rel, int line)
{
	server_config *c = NULL;
	berth_error err = { 0 };

	if (config_load(tpath(rel), &c, &err) < 0) {
		fprintf(stderr, "%s:%d: unexpected error: %s\n", __FILE__, line, err.message);
		test_failures++;
	}
	test_checks++;
	return c;
}
#define LOAD_FILE(rel) load_file(rel, __LINE__)

static void test_parsers(void)
{
	uint64_t u;
	int64_t i;
	int b;

	CHECK_INT(config_parse_size("0", &u), 0);
	CHECK_INT(u, 0);
	CHECK_INT(config_parse_size("4MiB", &u), 0);
	CHECK_INT(u, 4 << 20);
	CHECK_INT(config_parse_size("4M", &u), 0);
	CHECK_INT(u, 4 << 20);
	CHECK_INT(config_parse_size("512k", &u), 0);
	CHECK_INT(u, 512 << 10);
	CHECK_INT(config_parse_size("2 GiB", &u), 0);
	CHECK_INT(u, 2ll << 30);
	CHECK_INT(config_parse_size("100B", &u), 0);
	CHECK_INT(u, 100);
	CHECK_INT(config_parse_size("1Ki", &u), 0);
	CHECK_INT(u, 1024);
	CHECK_INT(config_parse_size("16777215T", &u), 0);
	CHECK_INT(config_parse_size("16777216T", &u), BERTH_E_INVALID);
	CHECK_INT(config_parse_size("18446744073709551616", &u), BERTH_E_INVALID);
	CHECK_INT(config_parse_size("-1", &u), BERTH_E_INVALID);
	CHECK_INT(config_parse_size("1.5M", &u), BERTH_E_INVALID);
	CHECK_INT(config_parse_size("MiB", &u), BERTH_E_INVALID);
	CHECK_INT(config_parse_size("4Mx", &u), BERTH_E_INVALID);
	CHECK_INT(config_parse_size("", &u), BERTH_E_INVALID);
	CHECK_INT(config_parse_size(NULL, &u), BERTH_E_INVALID);

	CHECK_INT(config_parse_duration_ms("60", &u), 0);
	CHECK_INT(u, 60000);
	CHECK_INT(config_parse_duration_ms("60s", &u), 0);
	CHECK_INT(u, 60000);
	CHECK_INT(config_parse_duration_ms("250ms", &u), 0);
	CHECK_INT(u, 250);
	CHECK_INT(config_parse_duration_ms("2m", &u), 0);
	CHECK_INT(u, 120000);
	CHECK_INT(config_parse_duration_ms("168h", &u), 0);
	CHECK_INT(u, 168ll * 3600 * 1000);
	CHECK_INT(config_parse_duration_ms("1h30m", &u), 0);
	CHECK_INT(u, 5400000);
	CHECK_INT(config_parse_duration_ms("7d", &u), 0);
	CHECK_INT(u, 7ll * 86400 * 1000);
	CHECK_INT(config_parse_duration_ms("0", &u), 0);
	CHECK_INT(u, 0);
	CHECK_INT(config_parse_duration_ms("", &u), BERTH_E_INVALID);
	CHECK_INT(config_parse_duration_ms("s", &u), BERTH_E_INVALID);
	CHECK_INT(config_parse_duration_ms("5x", &u), BERTH_E_INVALID);
	CHECK_INT(config_parse_duration_ms("-5s", &u), BERTH_E_INVALID);
	CHECK_INT(config_parse_duration_ms("1.5h", &u), BERTH_E_INVALID);
	CHECK_INT(config_parse_duration_ms("18446744073709552", &u), BERTH_E_INVALID);
	CHECK_INT(config_parse_duration_ms("9999999999999999999d", &u), BERTH_E_INVALID);

	CHECK_INT(config_parse_bool("true", &b), 0);
	CHECK_INT(b, 1);
	CHECK_INT(config_parse_bool("Off", &b), 0);
	CHECK_INT(b, 0);
	CHECK_INT(config_parse_bool("YES", &b), 0);
	CHECK_INT(b, 1);
	CHECK_INT(config_parse_bool("1", &b), BERTH_E_INVALID);
	CHECK_INT(config_parse_bool("", &b), BERTH_E_INVALID);

	CHECK_INT(config_parse_int("-42", &i), 0);
	CHECK_INT(i, -42);
	CHECK_INT(config_parse_int("+7", &i), 0);
	CHECK_INT(i, 7);
	CHECK_INT(config_parse_int("9223372036854775807", &i), 0);
	CHECK_INT(config_parse_int("9223372036854775808", &i), BERTH_E_INVALID);
	CHECK_INT(config_parse_int(" 1", &i), BERTH_E_INVALID);
	CHECK_INT(config_parse_int("1 ", &i), BERTH_E_INVALID);
	CHECK_INT(config_parse_int("0x10", &i), BERTH_E_INVALID);
}

static void test_full_file(void)
{
	server_config *c;

	clean_dir();
	write_file("etc/berth.yaml",
		   "listen: 127.0.0.1:5000\n"
		   "plugin_path: [./build/plugins, /opt/berth/plugins]\n"
		   "tls:\n"
		   "  cert: certs/cert.pem\n"
		   "  key: /abs/key.pem\n"
		   "  min_version: \"1.3\"\n"
		   "limits:\n"
		   "  max_manifest_size: 8MiB\n"
		   "  max_connections: 50\n"
		   "  threads: 3\n"
		   "  connection_timeout: 90s\n"
		   "  shutdown_timeout: 500ms\n"
		   "  max_chunk_size: 64M\n"
		   "logging:\n"
		   "  level: debug\n"
		   "  format: json\n"
		   "  access_log: false\n"
		   "registry:\n"
		   "  delete_enabled: no\n"
		   "  tag_delete_enabled: off\n"
		   "  upload_purge_age: 24h\n"
		   "plugins:\n"
		   "  - use: storage-fs\n"
		   "    name: fs\n"
		   "    priority: -5\n"
		   "    config:\n"
		   "      root: ./var/registry\n"
		   "  - use: ./lib/notify-webhook.so\n");
	c = LOAD_FILE("etc/berth.yaml");
	if (!c)
		return;
	CHECK_STR(c->listen_host, "127.0.0.1");
	CHECK_INT(c->listen_port, 5000);
	CHECK_INT(c->n_plugin_path, 2);
	CHECK_STR(c->plugin_path[0], tpath("etc/build/plugins"));
	CHECK_STR(c->plugin_path[1], "/opt/berth/plugins");
	CHECK_STR(c->tls_cert, tpath("etc/certs/cert.pem"));
	CHECK_STR(c->tls_key, "/abs/key.pem");
	CHECK_INT(c->tls_min_version, 13);
	CHECK_INT(c->max_manifest_size, 8 << 20);
	CHECK_INT(c->max_connections, 50);
	CHECK_INT(c->threads, 3);
	CHECK_INT(c->connection_timeout_ms, 90000);
	CHECK_INT(c->shutdown_timeout_ms, 500);
	CHECK_INT(c->max_chunk_size, 64 << 20);
	CHECK_INT(c->log_level, BERTH_LOG_DEBUG);
	CHECK_INT(c->log_json, 1);
	CHECK_INT(c->access_log, 0);
	CHECK_INT(c->delete_enabled, 0);
	CHECK_INT(c->tag_delete_enabled, 0);
	CHECK_INT(c->upload_purge_age_ms, 24ll * 3600 * 1000);
	CHECK_INT(c->n_plugins, 2);
	if (c->n_plugins == 2) {
		CHECK_STR(c->plugins[0].use, "storage-fs");
		CHECK_STR(c->plugins[0].name, "fs");
		CHECK_INT(c->plugins[0].priority, -5);
		CHECK_INT(c->plugins[0].line, 23);
		CHECK_STR(c->plugins[0].file, tpath("etc/berth.yaml"));
		CHECK(c->plugins[0].config && c->plugins[0].config->type == CFG_MAP);
		/* Plugin paths are the plugin's business: left as written. */
		CHECK_STR(cfg_map_get(c->plugins[0].config, "root")->scalar, "./var/registry");
		CHECK_INT(cfg_map_get(c->plugins[0].config, "root")->line, 27);
		CHECK_STR(c->plugins[1].use, "./lib/notify-webhook.so");
		CHECK_STR(c->plugins[1].name, "notify-webhook");
		CHECK_INT(c->plugins[1].priority, 0);
		CHECK(c->plugins[1].config && c->plugins[1].config->type == CFG_MAP &&
		      c->plugins[1].config->n_pairs == 0);
	}
	CHECK_INT(c->n_files, 1);
	config_free(c);
}

static void test_defaults(void)
{
	server_config *c = LOAD("listen: \"[::1]:5000\"\n");

	if (!c)
		return;
	CHECK_STR(c->listen_host, "::1");
	CHECK_INT(c->listen_port, 5000);
	CHECK_INT(c->n_plugin_path, 0);
	CHECK(c->tls_cert == NULL && c->tls_key == NULL);
	CHECK_INT(c->tls_min_version, 12);
	CHECK_INT(c->max_manifest_size, 4 << 20);
	CHECK_INT(c->max_connections, 1024);
	CHECK(c->threads >= 2);
	CHECK_INT(c->connection_timeout_ms, 60000);
	CHECK_INT(c->shutdown_timeout_ms, 30000);
	CHECK_INT(c->max_chunk_size, 0);
	CHECK_INT(c->log_level, BERTH_LOG_INFO);
	CHECK_INT(c->log_json, 0);
	CHECK_INT(c->access_log, 1);
	CHECK_INT(c->delete_enabled, 1);
	CHECK_INT(c->tag_delete_enabled, 1);
	CHECK_INT(c->upload_purge_age_ms, 168ll * 3600 * 1000);
	CHECK_INT(c->n_plugins, 0);
	CHECK_INT(c->n_warnings, 0);
	config_free(c);

	/* Empty sections are fine and mean the defaults. */
	c = LOAD("listen: registry.local:443\ntls:\nlimits:\nplugins:\n");
	if (c) {
		CHECK_STR(c->listen_host, "registry.local");
		CHECK_INT(c->listen_port, 443);
		CHECK_INT(c->n_plugins, 0);
	}
	config_free(c);
	c = LOAD("listen: 0.0.0.0:80\nplugin_path: one/dir\n");
	if (c) {
		CHECK_INT(c->n_plugin_path, 1);
		CHECK_STR(c->plugin_path[0], "one/dir");
	}
	config_free(c);
}

static void test_includes(void)
{
	server_config *c;

	clean_dir();
	write_file("berth.yaml",
		   "listen: 127.0.0.1:5000\n"
		   "include: conf.d/*.yaml\n"
		   "limits:\n"
		   "  max_connections: 10\n"
		   "  threads: 2\n"
		   "logging:\n"
		   "  level: warn\n"
		   "plugins:\n"
		   "  - use: main-plugin\n");
	write_file("conf.d/20-second.yaml",
		   "logging:\n"
		   "  level: debug\n"
		   "plugins:\n"
		   "  - use: second\n");
	write_file("conf.d/10-first.yaml",
		   "limits: {threads: 4}\n"
		   "logging:\n"
		   "  level: error\n"
		   "  format: json\n"
		   "plugin_path: ../plugins\n"
		   "tls:\n"
		   "  cert: c.pem\n"
		   "  key: k.pem\n"
		   "plugins:\n"
		   "  - use: first-a\n"
		   "  - use: first-b\n");
	write_file("conf.d/30-empty.yaml", "# nothing here\n");
	write_file("conf.d/40-null.yaml", "logging:\nlimits:\n  threads:\n");
	write_file("conf.d/README.md", "not yaml: [\n");
	mkdir(tpath("conf.d/sub.yaml"), 0700);
	c = LOAD_FILE("berth.yaml");
	if (!c)
		return;
	/* Maps merge key by key; a later scalar wins; an empty value erases nothing. */
	CHECK_INT(c->max_connections, 10);
	CHECK_INT(c->threads, 4);
	CHECK_INT(c->log_level, BERTH_LOG_DEBUG);
	CHECK_INT(c->log_json, 1);
	/* Paths resolve against the directory of the file that set them. */
	CHECK_STR(c->plugin_path[0], tpath("conf.d/../plugins"));
	CHECK_STR(c->tls_cert, tpath("conf.d/c.pem"));
	CHECK_INT(c->n_plugins, 4);
	if (c->n_plugins == 4) {
		CHECK_STR(c->plugins[0].name, "main-plugin");
		CHECK_STR(c->plugins[1].name, "first-a");
		CHECK_STR(c->plugins[2].name, "first-b");
		CHECK_STR(c->plugins[3].name, "second");
		CHECK_STR(c->plugins[1].file, tpath("conf.d/10-first.yaml"));
		CHECK_INT(c->plugins[1].line, 10);
	}
	CHECK_INT(c->n_files, 5);
	if (c->n_files == 5) {
		CHECK_STR(c->files[0], tpath("berth.yaml"));
		CHECK_STR(c->files[1], tpath("conf.d/10-first.yaml"));
		CHECK_STR(c->files[2], tpath("conf.d/20-second.yaml"));
		CHECK_STR(c->files[3], tpath("conf.d/30-empty.yaml"));
		CHECK_STR(c->files[4], tpath("conf.d/40-null.yaml"));
	}
	config_free(c);

	/* A list of globs and plain paths; a glob matching nothing only warns;
	 * a file matched twice (or the main file itself) is read once. */
	clean_dir();
	write_file("berth.yaml",
		   "listen: 127.0.0.1:5000\n"
		   "include:\n"
		   "  - extra.yaml\n"
		   "  - none.d/*.yaml\n"
		   "  - '*.yaml'\n");
	write_file("extra.yaml", "limits:\n  threads: 7\n");
	c = LOAD_FILE("berth.yaml");
	if (c) {
		CHECK_INT(c->threads, 7);
		CHECK_INT(c->n_files, 2);
		CHECK_INT(c->n_warnings, 1);
		if (c->n_warnings == 1)
			CHECK(strstr(c->warnings[0], "berth.yaml:4:5: include 'none.d/*.yaml' matched no files") != NULL);
	}
	config_free(c);

	/* A plain path that does not exist is an error where it is named. */
	write_file("berth.yaml", "listen: 127.0.0.1:5000\ninclude: [extra.yaml, missing.yaml]\n");
	EXPECT_ERROR_FILE("berth.yaml",
			  "T/berth.yaml:2:23: cannot open 'missing.yaml': No such file or directory");
	mkdir(tpath("adir"), 0700);
	write_file("berth.yaml", "listen: 127.0.0.1:5000\ninclude: adir\n");
	EXPECT_ERROR_FILE("berth.yaml", "T/berth.yaml:2:10: cannot include 'adir': not a regular file");

	/* Includes only from the main file. */
	clean_dir();
	write_file("berth.yaml", "listen: 127.0.0.1:5000\ninclude: conf.d/*.yaml\n");
	write_file("conf.d/a.yaml", "limits:\n  threads: 2\ninclude: other.yaml\n");
	EXPECT_ERROR_FILE("berth.yaml",
			  "T/conf.d/a.yaml:3:1: include is only allowed in the main file, not in an included file");

	/* Errors inside fragments point into the fragment. */
	write_file("conf.d/a.yaml", "limits:\n  threds: 2\n");
	EXPECT_ERROR_FILE("berth.yaml",
			  "T/conf.d/a.yaml:2:3: unknown key 'threds' in limits (did you mean 'threads'?)");
	write_file("conf.d/a.yaml", "limits:\n  threads: lots\n");
	EXPECT_ERROR_FILE("berth.yaml",
			  "T/conf.d/a.yaml:2:12: invalid limits.threads 'lots': expected a whole number from 0 to 1024");
	write_file("conf.d/a.yaml", "plugins:\n  - use: fs\n");
	write_file("conf.d/b.yaml", "plugins:\n  - name: x\n    use: fs\n    name: y\n");
	EXPECT_ERROR_FILE("berth.yaml",
			  "T/conf.d/b.yaml:4:5: duplicate key 'name' (first set at line 2)");
	write_file("conf.d/b.yaml", "plugins:\n  - use: /x/fs.so\n");
	EXPECT_ERROR_FILE("berth.yaml",
			  "T/conf.d/b.yaml:2:10: duplicate instance name 'fs' (first declared at T/conf.d/a.yaml:2): give one of them a different 'name'");
	write_file("conf.d/b.yaml", "listen: [1\n");
	EXPECT_ERROR_FILE("berth.yaml",
			  "T/conf.d/b.yaml:2:1: did not find expected ',' or ']' (while parsing a flow sequence that starts at line 1)");

	/* No more than 64 included files. */
	clean_dir();
	write_file("berth.yaml", "listen: 127.0.0.1:5000\ninclude: conf.d/*.yaml\n");
	for (int i = 0; i < 65; i++) {
		char name[64];

		snprintf(name, sizeof(name), "conf.d/%02d.yaml", i);
		write_file(name, "limits: {threads: 2}\n");
	}
	EXPECT_ERROR_FILE("berth.yaml", "T/berth.yaml:2:10: include brings in more than 64 files");
	remove(tpath("conf.d/64.yaml"));
	c = LOAD_FILE("berth.yaml");
	if (c)
		CHECK_INT(c->n_files, 65);
	config_free(c);
}

static void test_file_errors(void)
{
	char *big;
	FILE *f;
	size_t i;

	clean_dir();
	EXPECT_ERROR_FILE("nope.yaml", "cannot open 'T/nope.yaml': No such file or directory");
	mkdir(tpath("dir.yaml"), 0700);
	EXPECT_ERROR_FILE("dir.yaml", "cannot read 'T/dir.yaml': not a regular file");

	/* Larger than 1 MiB: refused before parsing, included or not. */
	big = malloc(1024 * 1024 + 2);
	if (!big)
		return;
	memcpy(big, "listen: 127.0.0.1:5000\n#", 24);
	for (i = 24; i < 1024 * 1024 + 1; i++)
		big[i] = 'x';
	big[i] = '\0';
	write_file("big.yaml", big);
	EXPECT_ERROR_FILE("big.yaml", "T/big.yaml:1:1: file is larger than 1 MiB");
	write_file("berth.yaml", "listen: 127.0.0.1:5000\ninclude: big.yaml\n");
	EXPECT_ERROR_FILE("berth.yaml", "T/big.yaml:1:1: file is larger than 1 MiB");
	/* Exactly 1 MiB is allowed. */
	big[1024 * 1024] = '\0';
	write_file("big.yaml", big);
	{
		server_config *c = LOAD_FILE("big.yaml");

		config_free(c);
	}
	free(big);

	/* Random bytes never crash and always fail cleanly. */
	f = fopen(tpath("garbage.yaml"), "w");
	if (f) {
		unsigned s = 12345;

		for (i = 0; i < 100000; i++) {
			s = s * 1103515245u + 12345u;
			fputc((int)(s >> 16) & 0xff, f);
		}
		fclose(f);
		{
			server_config *c = NULL;
			berth_error err = { 0 };

			CHECK(config_load(tpath("garbage.yaml"), &c, &err) < 0);
			CHECK(c == NULL);
			CHECK(strncmp(err.message, tpath("garbage.yaml"), strlen(tpath("garbage.yaml"))) == 0);
		}
	}
}

static void test_env(void)
{
	server_config *c;

	setenv("BERTH_T_PORT", "6000", 1);
	setenv("BERTH_T_EMPTY", "", 1);
	unsetenv("BERTH_T_UNSET");
	c = LOAD("listen: 127.0.0.1:${BERTH_T_PORT}\n"
		 "logging:\n"
		 "  level: ${BERTH_T_UNSET:-debug}\n"
		 "  format: ${BERTH_T_EMPTY:-json}\n"
		 "plugins:\n"
		 "  - use: x\n"
		 "    config:\n"
		 "      price: $$5 and $ and $${NOT}\n"
		 "      \"${KEY}\": '${BERTH_T_PORT}$$'\n");
	if (c) {
		CHECK_INT(c->listen_port, 6000);
		CHECK_INT(c->log_level, BERTH_LOG_DEBUG);
		CHECK_INT(c->log_json, 1);
		if (c->n_plugins == 1) {
			CHECK_STR(cfg_map_get(c->plugins[0].config, "price")->scalar,
				  "$5 and $ and ${NOT}");
			/* Keys are never expanded. */
			CHECK_STR(cfg_map_get(c->plugins[0].config, "${KEY}")->scalar, "6000$");
		}
	}
	config_free(c);

	EXPECT_ERROR("listen: 127.0.0.1:5000\nplugins:\n  - use: x\n    config: {pw: \"${BERTH_T_UNSET}\"}\n",
		     "b.yaml:4:18: environment variable 'BERTH_T_UNSET' is not set (use ${BERTH_T_UNSET:-default} for a default)");
	EXPECT_ERROR("listen: ${BERTH_T_PORT\n",
		     "b.yaml:1:9: unterminated '${' in value '${BERTH_T_PORT'");
	EXPECT_ERROR("listen: a${1X}\n",
		     "b.yaml:1:9: invalid variable reference '${1X}': use ${NAME} or ${NAME:-default}");
	EXPECT_ERROR("listen: a${}\n",
		     "b.yaml:1:9: invalid variable reference '${}': use ${NAME} or ${NAME:-default}");
	EXPECT_ERROR("listen: ${X:=1}\n",
		     "b.yaml:1:9: invalid variable reference '${X:=1}': use ${NAME} or ${NAME:-default}");
}

/* ${file:PATH}: secrets from files, relative to the YAML that names them. */
static void test_file_values(void)
{
	server_config *c;
	char yaml[1024];

	write_file("secrets/token", "s3cr3t\n");
	write_file("secrets/empty", "");
	write_file("conf/main.yaml",
		   "listen: 127.0.0.1:5000\n"
		   "plugins:\n"
		   "  - use: x\n"
		   "    config:\n"
		   "      token: ${file:../secrets/token}\n"
		   "      bearer: \"Bearer ${file:../secrets/token}!\"\n"
		   "      empty: \"[${file:../secrets/empty}]\"\n");
	c = LOAD_FILE("conf/main.yaml");
	if (c && c->n_plugins == 1) {
		CHECK_STR(cfg_map_get(c->plugins[0].config, "token")->scalar, "s3cr3t");
		CHECK_STR(cfg_map_get(c->plugins[0].config, "bearer")->scalar, "Bearer s3cr3t!");
		CHECK_STR(cfg_map_get(c->plugins[0].config, "empty")->scalar, "[]");
	}
	config_free(c);

	snprintf(yaml, sizeof(yaml), "listen: 127.0.0.1:5000\nplugins:\n  - use: x\n"
		 "    config: {pw: \"${file:%s}\"}\n", tpath("secrets/token"));
	c = LOAD(yaml);
	if (c && c->n_plugins == 1)
		CHECK_STR(cfg_map_get(c->plugins[0].config, "pw")->scalar, "s3cr3t");
	config_free(c);

	EXPECT_ERROR("listen: 127.0.0.1:5000\nplugins:\n  - use: x\n    config: {pw: \"${file:/nonexistent/pw}\"}\n",
		     "b.yaml:4:18: cannot read the file of ${file:/nonexistent/pw}: No such file or directory");
	EXPECT_ERROR("listen: ${file:}\n", "b.yaml:1:9: invalid ${file:...}: give a path");
}

static void test_errors(void)
{
	/* Syntax. */
	EXPECT_ERROR("listen: 127.0.0.1:5000\n  bad: 1\n",
		     "b.yaml:2:6: mapping values are not allowed in this context");
	EXPECT_ERROR("listen: \"x\n",
		     "b.yaml:2:1: found unexpected end of stream (while scanning a quoted scalar that starts at line 1)");
	EXPECT_ERROR("a: \xff\n", "b.yaml:1:4: invalid leading UTF-8 octet");
	EXPECT_ERROR("a: b\x01\n", "b.yaml:1:5: control characters are not allowed");
	EXPECT_ERROR("listen: \"a\\0b\"\n", "b.yaml:1:9: values may not contain a NUL character");
	EXPECT_ERROR("- listen\n", "b.yaml:1:1: the top level must be a map of settings, found a list");
	EXPECT_ERROR("just text\n", "b.yaml:1:1: the top level must be a map of settings, found a value");
	EXPECT_ERROR("listen: a:1\n---\nlisten: b:1\n",
		     "b.yaml:2:1: only one YAML document per file is allowed");
	EXPECT_ERROR("", "b.yaml:1:1: missing required key 'listen' (HOST:PORT, such as 127.0.0.1:5000)");
	EXPECT_ERROR("listen:\n", "b.yaml:1:1: missing required key 'listen' (HOST:PORT, such as 127.0.0.1:5000)");

	/* Structure. */
	EXPECT_ERROR("listen: 127.0.0.1:5000\nlisten: 127.0.0.1:6000\n",
		     "b.yaml:2:1: duplicate key 'listen' (first set at line 1)");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nlimits: {threads: 1, threads: 2}\n",
		     "b.yaml:2:22: duplicate key 'threads' (first set at line 2)");
	EXPECT_ERROR("base: &b 1\nlisten: *b\n", "b.yaml:1:7: anchors and aliases are not supported");
	EXPECT_ERROR("listen: *b\n", "b.yaml:1:9: aliases are not supported");
	EXPECT_ERROR("? [a]\n: 1\n", "b.yaml:1:3: keys must be plain values, not lists");
	EXPECT_ERROR("\"\": 1\n", "b.yaml:1:1: empty key");

	/* Unknown keys, with a suggestion when one is close. */
	EXPECT_ERROR("listen: 127.0.0.1:5000\nlissten: 1\n",
		     "b.yaml:2:1: unknown key 'lissten' (did you mean 'listen'?)");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nplugin_paht: x\n",
		     "b.yaml:2:1: unknown key 'plugin_paht' (did you mean 'plugin_path'?)");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nstorage: {}\n", "b.yaml:2:1: unknown key 'storage'");
	EXPECT_ERROR("listen: 127.0.0.1:5000\ntls:\n  cret: x\n",
		     "b.yaml:3:3: unknown key 'cret' in tls (did you mean 'cert'?)");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nregistry:\n  delete: true\n",
		     "b.yaml:3:3: unknown key 'delete' in registry");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nlogging: {levl: info}\n",
		     "b.yaml:2:11: unknown key 'levl' in logging (did you mean 'level'?)");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nplugins:\n  - use: x\n    confg: {}\n",
		     "b.yaml:4:5: unknown key 'confg' in plugin entry (did you mean 'config'?)");

	/* listen. */
	EXPECT_ERROR("listen: localhost\n",
		     "b.yaml:1:9: invalid listen 'localhost': expected HOST:PORT, such as 127.0.0.1:5000 or [::1]:5000");
	EXPECT_ERROR("listen: \":5000\"\n",
		     "b.yaml:1:9: invalid listen ':5000': the host is missing (use 0.0.0.0:PORT or [::]:PORT for every address)");
	EXPECT_ERROR("listen: ::1:5000\n",
		     "b.yaml:1:9: invalid listen '::1:5000': write an IPv6 address in brackets, such as [::1]:5000");
	EXPECT_ERROR("listen: 127.0.0.1:0\n", "b.yaml:1:9: invalid listen port in '127.0.0.1:0': expected 1-65535");
	EXPECT_ERROR("listen: 127.0.0.1:65536\n",
		     "b.yaml:1:9: invalid listen port in '127.0.0.1:65536': expected 1-65535");
	EXPECT_ERROR("listen: '127.0.0.1:'\n", "b.yaml:1:9: invalid listen port in '127.0.0.1:': expected 1-65535");
	EXPECT_ERROR("listen: 127.0.0.1:50a\n", "b.yaml:1:9: invalid listen port in '127.0.0.1:50a': expected 1-65535");
	EXPECT_ERROR("listen: 127.0.0.1:0000001\n",
		     "b.yaml:1:9: invalid listen port in '127.0.0.1:0000001': expected 1-65535");
	EXPECT_ERROR("listen: \"[::1]5000\"\n",
		     "b.yaml:1:9: invalid listen '[::1]5000': expected [IPV6]:PORT, such as [::1]:5000");
	EXPECT_ERROR("listen: \"[zz::1]:5000\"\n", "b.yaml:1:9: invalid listen '[zz::1]:5000': not an IPv6 address");
	EXPECT_ERROR("listen: \"bad host:1\"\n", "b.yaml:1:9: invalid listen 'bad host:1': not a host name or address");
	EXPECT_ERROR("listen: [a, b]\n", "b.yaml:1:9: invalid listen: expected a single value, found a list");

	/* tls. */
	EXPECT_ERROR("listen: 127.0.0.1:5000\ntls:\n  cert: /c.pem\n",
		     "b.yaml:3:9: tls.cert is set but tls.key is not (set both or neither)");
	EXPECT_ERROR("listen: 127.0.0.1:5000\ntls:\n  key: /k.pem\n",
		     "b.yaml:3:8: tls.key is set but tls.cert is not (set both or neither)");
	EXPECT_ERROR("listen: 127.0.0.1:5000\ntls:\n  cert: /c\n  key: /k\n  min_version: 1.1\n",
		     "b.yaml:5:16: tls.min_version 1.1 is refused: TLS before 1.2 is insecure (use \"1.2\" or \"1.3\")");
	EXPECT_ERROR("listen: 127.0.0.1:5000\ntls:\n  min_version: \"1.0\"\n",
		     "b.yaml:3:16: tls.min_version 1.0 is refused: TLS before 1.2 is insecure (use \"1.2\" or \"1.3\")");
	EXPECT_ERROR("listen: 127.0.0.1:5000\ntls:\n  min_version: 2\n",
		     "b.yaml:3:16: invalid tls.min_version '2': expected \"1.2\" or \"1.3\"");
	EXPECT_ERROR("listen: 127.0.0.1:5000\ntls: yes\n", "b.yaml:2:6: invalid tls: expected a map, found a value");
	EXPECT_ERROR("listen: 127.0.0.1:5000\ntls: {cert: '', key: /k}\n", "b.yaml:2:13: invalid tls.cert: empty path");

	/* limits, logging, registry. */
	EXPECT_ERROR("listen: 127.0.0.1:5000\nlimits:\n  max_manifest_size: 4QB\n",
		     "b.yaml:3:22: invalid limits.max_manifest_size '4QB': expected a size such as 4MiB");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nlimits:\n  max_manifest_size: 0\n",
		     "b.yaml:3:22: invalid limits.max_manifest_size '0': expected 1 byte to 1GiB");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nlimits:\n  max_connections: 0\n",
		     "b.yaml:3:20: invalid limits.max_connections '0': expected a whole number from 1 to 1048576");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nlimits:\n  threads: -1\n",
		     "b.yaml:3:12: invalid limits.threads '-1': expected a whole number from 0 to 1024");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nlimits:\n  connection_timeout: soon\n",
		     "b.yaml:3:23: invalid limits.connection_timeout 'soon': expected a duration such as 30s, 500ms or 1h");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nlimits:\n  threads: {a: 1}\n",
		     "b.yaml:3:12: invalid limits.threads: expected a single value, found a map");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nlogging:\n  level: loud\n",
		     "b.yaml:3:10: invalid logging.level 'loud': expected error, warn, info or debug");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nlogging:\n  format: xml\n",
		     "b.yaml:3:11: invalid logging.format 'xml': expected text or json");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nlogging:\n  access_log: maybe\n",
		     "b.yaml:3:15: invalid logging.access_log 'maybe': expected true or false");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nregistry:\n  upload_purge_age: forever\n",
		     "b.yaml:3:21: invalid registry.upload_purge_age 'forever': expected a duration such as 30s, 500ms or 1h");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nplugin_path: {a: 1}\n",
		     "b.yaml:2:14: invalid plugin_path: expected a directory or a list of directories, found a map");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nplugin_path: [a, '']\n",
		     "b.yaml:2:18: invalid plugin_path entry: expected a directory, found an empty value");
	EXPECT_ERROR("listen: 127.0.0.1:5000\ninclude: {a: 1}\n",
		     "b.yaml:2:10: invalid include: expected a path or a list of paths, found a map");

	/* plugins. */
	EXPECT_ERROR("listen: 127.0.0.1:5000\nplugins:\n  use: fs\n",
		     "b.yaml:3:3: invalid plugins: expected a list of plugin entries, found a map");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nplugins:\n  - fs\n",
		     "b.yaml:3:5: invalid plugin entry: expected a map with 'use', found a value");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nplugins:\n  - name: fs\n    priority: 1\n",
		     "b.yaml:3:5: plugin entry has no 'use' (the plugin to load)");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nplugins:\n  - use: a\n  - use: b\n    name: a\n",
		     "b.yaml:5:11: duplicate instance name 'a' (first declared at b.yaml:3): give one of them a different 'name'");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nplugins:\n  - use: a\n    priority: high\n",
		     "b.yaml:4:15: invalid plugin.priority 'high': expected a whole number");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nplugins:\n  - use: a\n    priority: 3000000000\n",
		     "b.yaml:4:15: invalid plugin.priority '3000000000': expected a whole number");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nplugins:\n  - use: a\n    config: [1]\n",
		     "b.yaml:4:13: invalid plugin.config: expected a map, found a list");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nplugins:\n  - use: a\n    name: 'b c'\n",
		     "b.yaml:4:11: invalid plugin.name 'b c': use up to 64 letters, digits, '.', '_' or '-'");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nplugins:\n  - use: ./lib/\n",
		     "b.yaml:3:10: cannot name an instance after './lib/': set 'name'");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nplugins:\n  - use: 'a b'\n",
		     "b.yaml:3:10: invalid plugin.use 'a b': expected a plugin name such as storage-fs, or a path containing '/'");

	/* Hostile values are cut and cleaned in messages. */
	EXPECT_ERROR("listen: 127.0.0.1:5000\nlogging:\n  level: \"a\\tb\\x1bc\"\n",
		     "b.yaml:3:10: invalid logging.level 'a?b?c': expected error, warn, info or debug");
	EXPECT_ERROR("listen: 127.0.0.1:5000\nlogging:\n  level: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		     "b.yaml:3:10: invalid logging.level 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...': expected error, warn, info or debug");
}

static void test_hostile_structure(void)
{
	server_config *c = NULL;
	berth_error err = { 0 };
	char *deep, *wide;
	size_t i, n;

	/* Nesting deeper than the limit is refused, not recursed into. */
	deep = malloc(200000);
	if (!deep)
		return;
	n = 0;
	n += (size_t)sprintf(deep, "listen: 127.0.0.1:5000\nx: ");
	for (i = 0; i < 50000; i++)
		deep[n++] = '[';
	deep[n] = '\0';
	CHECK_INT(config_load_buffer("d.yaml", deep, n, &c, &err), BERTH_E_CONFIG);
	CHECK_STR(err.message, "d.yaml:2:67: nesting is deeper than 64 levels");
	free(deep);

	/* A wide flow map with a duplicate at the end: found without O(n^2). */
	wide = malloc(3000000);
	if (!wide)
		return;
	n = (size_t)sprintf(wide, "listen: 127.0.0.1:5000\nplugins:\n  - use: x\n    config: {");
	for (i = 0; i < 60000; i++)
		n += (size_t)sprintf(wide + n, "k%zu: 1, ", i);
	n += (size_t)sprintf(wide + n, "k5: 2}\n");
	CHECK_INT(config_load_buffer("w.yaml", wide, n, &c, &err), BERTH_E_CONFIG);
	CHECK(strstr(err.message, "duplicate key 'k5' (first set at line 4)") != NULL);
	free(wide);

	/* Many plugin entries with one repeated name at the end. */
	wide = malloc(1000000);
	if (!wide)
		return;
	n = (size_t)sprintf(wide, "listen: 127.0.0.1:5000\nplugins:\n");
	for (i = 0; i < 50000; i++)
		n += (size_t)sprintf(wide + n, "- use: p%zu\n", i);
	n += (size_t)sprintf(wide + n, "- use: p7\n");
	CHECK_INT(config_load_buffer("m.yaml", wide, n, &c, &err), BERTH_E_CONFIG);
	CHECK_STR(err.message,
		  "m.yaml:50003:8: duplicate instance name 'p7' (first declared at m.yaml:10): give one of them a different 'name'");

	/* Two files with the same huge map merge in n log n. */
	clean_dir();
	n = (size_t)sprintf(wide, "listen: 127.0.0.1:5000\ninclude: b.yaml\nlimits:\n  threads:\n");
	for (i = 0; i < 40000; i++)
		n += (size_t)sprintf(wide + n, "    k%zu: 1\n", i);
	write_file("a.yaml", wide);
	write_file("b.yaml", wide + strlen("listen: 127.0.0.1:5000\ninclude: b.yaml\n"));
	EXPECT_ERROR_FILE("a.yaml", "T/a.yaml:5:5: invalid limits.threads: expected a single value, found a map");
	free(wide);

	/* Loading from memory does not follow includes, but warns. */
	c = LOAD("listen: 127.0.0.1:5000\ninclude: [conf.d/*.yaml]\n");
	if (c) {
		CHECK_INT(c->n_warnings, 1);
		if (c->n_warnings)
			CHECK_STR(c->warnings[0],
				  "b.yaml:2:11: include 'conf.d/*.yaml' is not followed when loading from memory");
	}
	config_free(c);
	CHECK_INT(config_load_buffer(NULL, NULL, 0, &c, &err), BERTH_E_CONFIG);
	CHECK(c == NULL);
	CHECK_INT(config_load(NULL, &c, &err), BERTH_E_INVALID);
	config_free(NULL);
}

int main(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/berth-test-config-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	test_parsers();
	test_full_file();
	test_defaults();
	test_includes();
	test_file_errors();
	test_env();
	test_file_values();
	test_errors();
	test_hostile_structure();
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	TEST_MAIN_END();
}

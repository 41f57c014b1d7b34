/*
 * test_plugin_config.c - a plugin's config map: schema validation with
 * file:line:column errors, the typed getters of the host table, cached
 * child handles and masked printing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "plugin_config.h"
#include "test.h"

static const berth_config_key storage_schema[] = {
	{ "root", BERTH_CONFIG_STRING, BERTH_CONFIG_REQUIRED, NULL, "where blobs live" },
	{ "workers", BERTH_CONFIG_INT, 0, "4", "parallel writers" },
	{ "fsync", BERTH_CONFIG_BOOL, 0, "true", "fsync before commit" },
	{ "max_size", BERTH_CONFIG_SIZE, 0, "1GiB", "largest object" },
	{ "timeout", BERTH_CONFIG_DURATION, 0, "30s", "per-operation timeout" },
	{ "hosts", BERTH_CONFIG_LIST, 0, "[a.example, b.example]", "mirrors" },
	{ "tags", BERTH_CONFIG_LIST, 0, NULL, "extra tags" },
	{ "tls", BERTH_CONFIG_MAP, 0, NULL, "client TLS" },
	{ "labels", BERTH_CONFIG_MAP, 0, "{team: core}", "labels" },
	{ "password", BERTH_CONFIG_STRING, BERTH_CONFIG_SECRET, NULL, "remote password" },
	{ "api_key", BERTH_CONFIG_STRING, BERTH_CONFIG_SECRET, "default-key", "key" },
	{ "mode", BERTH_CONFIG_STRING, 0, "fast", "mode" },
	{ NULL, BERTH_CONFIG_END, 0, NULL, NULL }
};

static const berth_config_key empty_schema[] = {
	{ NULL, BERTH_CONFIG_END, 0, NULL, NULL }
};

/* Parse a plugins: entry's config out of a whole berth.yaml buffer. */
static server_config *load(const char *yaml)
{
	server_config *c = NULL;
	berth_error err = { 0 };

	if (config_load_buffer("p.yaml", yaml, strlen(yaml), &c, &err) < 0) {
		fprintf(stderr, "load failed: %s\n", err.message);
		return NULL;
	}
	return c;
}

static void expect_invalid(const char *config_yaml, const berth_config_key *schema,
			   const char *want, int line)
{
	char yaml[2048];
	server_config *c;
	berth_error err = { 0 };
	int rc;

	snprintf(yaml, sizeof(yaml),
		 "listen: 127.0.0.1:5000\nplugins:\n  - use: storage-fs\n    name: fs\n%s",
		 config_yaml);
	c = load(yaml);
	test_checks++;
	if (!c || c->n_plugins != 1) {
		test_failures++;
		fprintf(stderr, "%s:%d: could not load\n", __FILE__, line);
		config_free(c);
		return;
	}
	rc = plugin_config_validate(c->plugins[0].config, schema, c->plugins[0].name, &err);
	if (rc != BERTH_E_CONFIG || err.code != BERTH_E_CONFIG || strcmp(err.message, want) != 0) {
		test_failures++;
		fprintf(stderr, "%s:%d: rc %d, message \"%s\", expected \"%s\"\n", __FILE__, line, rc,
			err.message, want);
	}
	config_free(c);
}
#define EXPECT_INVALID(y, s, w) expect_invalid(y, s, w, __LINE__)

static void test_validate_errors(void)
{
	EXPECT_INVALID("    config:\n      rooot: /x\n", storage_schema,
		       "p.yaml:6:7: plugin 'fs': unknown key 'rooot' (did you mean 'root'?)");
	EXPECT_INVALID("    config:\n      root: /x\n      colour: red\n", storage_schema,
		       "p.yaml:7:7: plugin 'fs': unknown key 'colour'");
	EXPECT_INVALID("    config:\n      root: /x\n", NULL,
		       "p.yaml:6:7: plugin 'fs': unknown key 'root' (the plugin takes no config)");
	EXPECT_INVALID("    config:\n      root: /x\n", empty_schema,
		       "p.yaml:6:7: plugin 'fs': unknown key 'root' (the plugin takes no config)");
	EXPECT_INVALID("    config:\n      workers: 4\n", storage_schema,
		       "p.yaml:6:7: plugin 'fs': missing required key 'root'");
	EXPECT_INVALID("    priority: 1\n", storage_schema,
		       "p.yaml:3:5: plugin 'fs': missing required key 'root'");
	EXPECT_INVALID("    config:\n      root:\n", storage_schema,
		       "p.yaml:6:7: plugin 'fs': required key 'root' has no value");
	EXPECT_INVALID("    config: {root: /x, workers: many}\n", storage_schema,
		       "p.yaml:5:33: plugin 'fs': invalid 'workers' 'many': expected a whole number");
	EXPECT_INVALID("    config: {root: /x, workers: 99999999999999999999}\n", storage_schema,
		       "p.yaml:5:33: plugin 'fs': invalid 'workers' '99999999999999999999': expected a whole number");
	EXPECT_INVALID("    config: {root: /x, fsync: maybe}\n", storage_schema,
		       "p.yaml:5:31: plugin 'fs': invalid 'fsync' 'maybe': expected true or false");
	EXPECT_INVALID("    config: {root: /x, max_size: huge}\n", storage_schema,
		       "p.yaml:5:34: plugin 'fs': invalid 'max_size' 'huge': expected a size such as 512MiB");
	EXPECT_INVALID("    config: {root: /x, max_size: 9000000000G}\n", storage_schema,
		       "p.yaml:5:34: plugin 'fs': invalid 'max_size' '9000000000G': expected a size such as 512MiB");
	EXPECT_INVALID("    config: {root: /x, timeout: 5y}\n", storage_schema,
		       "p.yaml:5:33: plugin 'fs': invalid 'timeout' '5y': expected a duration such as 30s");
	EXPECT_INVALID("    config: {root: [a], timeout: 5}\n", storage_schema,
		       "p.yaml:5:20: plugin 'fs': invalid 'root': expected a string, found a list");
	EXPECT_INVALID("    config: {root: /x, hosts: {a: 1}}\n", storage_schema,
		       "p.yaml:5:31: plugin 'fs': invalid 'hosts': expected a list of values, found a map");
	EXPECT_INVALID("    config: {root: /x, hosts: [a, [b]]}\n", storage_schema,
		       "p.yaml:5:31: plugin 'fs': invalid 'hosts': expected a list of values, found a list");
	EXPECT_INVALID("    config: {root: /x, tls: on}\n", storage_schema,
		       "p.yaml:5:29: plugin 'fs': invalid 'tls': expected a map, found a value");

	{
		static const berth_config_key bad_default[] = {
			{ "n", BERTH_CONFIG_INT, 0, "ten", NULL },
			{ NULL, BERTH_CONFIG_END, 0, NULL, NULL }
		};
		static const berth_config_key bad_list_default[] = {
			{ "l", BERTH_CONFIG_LIST, 0, "{a: 1}", NULL },
			{ NULL, BERTH_CONFIG_END, 0, NULL, NULL }
		};
		static const berth_config_key bad_type[] = {
			{ "x", 42, 0, NULL, NULL },
			{ NULL, BERTH_CONFIG_END, 0, NULL, NULL }
		};

		EXPECT_INVALID("    config: {}\n", bad_default,
			       "p.yaml:5:13: plugin 'fs': schema default of 'n' ('ten') is not a whole number");
		EXPECT_INVALID("    config: {}\n", bad_list_default,
			       "p.yaml:5:13: plugin 'fs': schema default of 'l' ('{a: 1}') is not a list");
		EXPECT_INVALID("    config: {}\n", bad_type,
			       "p.yaml:5:13: plugin 'fs': schema key 'x' has unknown type 42");
	}
}

static void test_getters(void)
{
	server_config *c;
	berth_error err = { 0 };
	berth_config cfg;
	const berth_config *tls, *tls2, *inner, *labels;

	c = load("listen: 127.0.0.1:5000\n"
		 "plugins:\n"
		 "  - use: storage-fs\n"
		 "    config:\n"
		 "      root: ./var/registry\n"
		 "      workers: -12\n"
		 "      fsync: off\n"
		 "      max_size: 512MiB\n"
		 "      timeout: 1m30s\n"
		 "      tags: single\n"
		 "      mode:\n"
		 "      tls:\n"
		 "        ca: /etc/ca.pem\n"
		 "        verify: yes\n"
		 "        depth: 3\n"
		 "        inner: {x: y}\n"
		 "        names: [one, two]\n");
	if (!c || c->n_plugins != 1) {
		config_free(c);
		test_failures++;
		return;
	}
	CHECK_INT(plugin_config_validate(c->plugins[0].config, storage_schema, "storage-fs", &err), 0);
	cfg.node = c->plugins[0].config;
	cfg.schema = storage_schema;

	CHECK_STR(plugin_config_string(&cfg, "root"), "./var/registry");
	CHECK_INT(plugin_config_int(&cfg, "workers", 0), -12);
	CHECK_INT(plugin_config_bool(&cfg, "fsync", 1), 0);
	CHECK_INT(plugin_config_int(&cfg, "max_size", 0), 512ll << 20);
	CHECK_INT(plugin_config_int(&cfg, "timeout", 0), 90000);
	/* An empty value reads as absent: the schema default. */
	CHECK_STR(plugin_config_string(&cfg, "mode"), "fast");
	/* Absent keys: schema defaults, else the caller's default. */
	CHECK(plugin_config_string(&cfg, "password") == NULL);
	CHECK_STR(plugin_config_string(&cfg, "api_key"), "default-key");
	CHECK(plugin_config_string(&cfg, "nonexistent") == NULL);
	CHECK_INT(plugin_config_int(&cfg, "nonexistent", 77), 77);
	CHECK_INT(plugin_config_bool(&cfg, "nonexistent", 1), 1);
	/* A value of another type falls back rather than misreading. */
	CHECK_INT(plugin_config_int(&cfg, "root", 5), 5);
	CHECK(plugin_config_string(&cfg, "tls") == NULL);

	/* Lists: written, written as one value, defaults, absent. */
	CHECK_INT(plugin_config_list_count(&cfg, "tags"), 1);
	CHECK_STR(plugin_config_list_string(&cfg, "tags", 0), "single");
	CHECK(plugin_config_list_string(&cfg, "tags", 1) == NULL);
	CHECK_INT(plugin_config_list_count(&cfg, "hosts"), 2);
	CHECK_STR(plugin_config_list_string(&cfg, "hosts", 0), "a.example");
	CHECK_STR(plugin_config_list_string(&cfg, "hosts", 1), "b.example");
	CHECK(plugin_config_list_string(&cfg, "hosts", 2) == NULL);
	CHECK_INT(plugin_config_list_count(&cfg, "nonexistent"), 0);
	CHECK(plugin_config_list_string(&cfg, "nonexistent", 0) == NULL);

	/* Children: one cached handle per map, no schema inside. */
	tls = plugin_config_child(&cfg, "tls");
	tls2 = plugin_config_child(&cfg, "tls");
	CHECK(tls != NULL);
	CHECK(tls == tls2);
	CHECK_STR(plugin_config_string(tls, "ca"), "/etc/ca.pem");
	CHECK_INT(plugin_config_bool(tls, "verify", 0), 1);
	CHECK_INT(plugin_config_int(tls, "depth", 0), 3);
	CHECK_INT(plugin_config_list_count(tls, "names"), 2);
	CHECK_STR(plugin_config_list_string(tls, "names", 1), "two");
	inner = plugin_config_child(tls, "inner");
	CHECK_STR(plugin_config_string(inner, "x"), "y");
	CHECK(plugin_config_child(tls, "ca") == NULL);
	CHECK(plugin_config_child(&cfg, "nonexistent") == NULL);
	labels = plugin_config_child(&cfg, "labels");
	CHECK_STR(plugin_config_string(labels, "team"), "core");
	CHECK(labels == plugin_config_child(&cfg, "labels"));

	/* NULL handles chain safely. */
	CHECK(plugin_config_string(plugin_config_child(&cfg, "nope"), "x") == NULL);
	CHECK_INT(plugin_config_int(NULL, "x", 9), 9);
	CHECK_INT(plugin_config_bool(NULL, "x", 1), 1);
	CHECK_INT(plugin_config_list_count(NULL, "x"), 0);
	CHECK(plugin_config_list_string(NULL, "x", 0) == NULL);
	CHECK(plugin_config_child(NULL, "x") == NULL);
	CHECK(plugin_config_string(&cfg, NULL) == NULL);

	config_free(c);
}

static void test_defaults_only(void)
{
	server_config *c;
	berth_config cfg;

	c = load("listen: 127.0.0.1:5000\nplugins:\n  - use: storage-fs\n");
	if (!c || c->n_plugins != 1) {
		config_free(c);
		test_failures++;
		return;
	}
	cfg.node = c->plugins[0].config;
	cfg.schema = storage_schema;
	CHECK_INT(plugin_config_int(&cfg, "workers", 0), 4);
	CHECK_INT(plugin_config_bool(&cfg, "fsync", 0), 1);
	CHECK_INT(plugin_config_int(&cfg, "max_size", 0), 1ll << 30);
	CHECK_INT(plugin_config_int(&cfg, "timeout", 0), 30000);
	CHECK_INT(plugin_config_list_count(&cfg, "hosts"), 2);
	CHECK(plugin_config_child(&cfg, "tls") == NULL);
	config_free(c);
}

static void test_print(void)
{
	server_config *c;
	berth_config cfg;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	c = load("listen: 127.0.0.1:5000\n"
		 "plugins:\n"
		 "  - use: storage-fs\n"
		 "    config:\n"
		 "      root: ./var registry\n"
		 "      password: hunter2\n"
		 "      tags: [x, \"y\\tz\"]\n"
		 "      tls:\n"
		 "        ca: /ca.pem\n"
		 "        client_token: abc\n"
		 "      labels: {}\n");
	if (!c || c->n_plugins != 1) {
		config_free(c);
		test_failures++;
		return;
	}
	cfg.node = c->plugins[0].config;
	cfg.schema = storage_schema;
	f = open_memstream(&text, &len);
	if (!f) {
		config_free(c);
		return;
	}
	plugin_config_print(f, &cfg, 2);
	fclose(f);
	CHECK_STR(text,
		  "  root: \"./var registry\"\n"
		  "  password: ********\n"
		  "  tags:\n"
		  "    - x\n"
		  "    - \"y\\tz\"\n"
		  "  tls:\n"
		  "    ca: /ca.pem\n"
		  "    client_token: ********\n"
		  "  labels: {}\n"
		  "  workers: 4  # default\n"
		  "  fsync: true  # default\n"
		  "  max_size: 1GiB  # default\n"
		  "  timeout: 30s  # default\n"
		  "  hosts: [a.example, b.example]  # default\n"
		  "  api_key: ********  # default\n"
		  "  mode: fast  # default\n");
	CHECK(strstr(text, "hunter2") == NULL);
	CHECK(strstr(text, "abc") == NULL);
	free(text);
	config_free(c);
}

struct race {
	const berth_config *cfg;
	const berth_config *child;
	const char *host;
};

static void *race_child(void *arg)
{
	struct race *r = arg;

	r->child = plugin_config_child(r->cfg, "tls");
	r->host = plugin_config_list_string(r->cfg, "hosts", 1);
	return NULL;
}

/* Lazily built caches must hand every thread the same object and leak none. */
static void test_threads(void)
{
	server_config *c;
	berth_config cfg;
	pthread_t t[8];
	struct race r[8];
	int i, started[8];

	c = load("listen: 127.0.0.1:5000\nplugins:\n  - use: storage-fs\n    config: {root: /x, tls: {a: 1}}\n");
	if (!c || c->n_plugins != 1) {
		config_free(c);
		test_failures++;
		return;
	}
	cfg.node = c->plugins[0].config;
	cfg.schema = storage_schema;
	for (i = 0; i < 8; i++) {
		r[i].cfg = &cfg;
		started[i] = pthread_create(&t[i], NULL, race_child, &r[i]) == 0;
	}
	for (i = 0; i < 8; i++)
		if (started[i])
			pthread_join(t[i], NULL);
	for (i = 0; i < 8; i++) {
		if (!started[i])
			continue;
		CHECK(r[i].child != NULL && r[i].child == plugin_config_child(&cfg, "tls"));
		CHECK_STR(r[i].host, "b.example");
	}
	config_free(c);
}

int main(void)
{
	test_validate_errors();
	test_getters();
	test_defaults_only();
	test_print();
	test_threads();
	TEST_MAIN_END();
}

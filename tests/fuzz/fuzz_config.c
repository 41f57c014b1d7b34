/*
 * fuzz_config.c - libFuzzer target for configuration parsing.
 *
 * Feeds arbitrary bytes to config_load_buffer (libyaml, ${VAR} expansion,
 * every value check), then runs whatever loaded through schema validation,
 * every getter and the masked printer, and the value parsers over the raw
 * input. Build: clang -fsanitize=fuzzer,address,undefined.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "plugin_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const berth_config_key schema[] = {
	{ "root", BERTH_CONFIG_STRING, BERTH_CONFIG_REQUIRED, NULL, NULL },
	{ "n", BERTH_CONFIG_INT, 0, "4", NULL },
	{ "b", BERTH_CONFIG_BOOL, 0, "yes", NULL },
	{ "size", BERTH_CONFIG_SIZE, 0, "1GiB", NULL },
	{ "t", BERTH_CONFIG_DURATION, 0, "1h30m", NULL },
	{ "l", BERTH_CONFIG_LIST, 0, "[a, b]", NULL },
	{ "m", BERTH_CONFIG_MAP, 0, "{k: v}", NULL },
	{ "password", BERTH_CONFIG_STRING, BERTH_CONFIG_SECRET, NULL, NULL },
	{ NULL, BERTH_CONFIG_END, 0, NULL, NULL }
};

static const char *const keys[] = { "root", "n", "b", "size", "t", "l", "m", "password", "x" };

static void exercise(const berth_config *cfg, FILE *sink, int depth)
{
	size_t i, j, n;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *s = plugin_config_string(cfg, keys[i]);

		if (s)
			fputs(s, sink);
		fprintf(sink, "%lld %d", (long long)plugin_config_int(cfg, keys[i], 1),
			plugin_config_bool(cfg, keys[i], 0));
		n = plugin_config_list_count(cfg, keys[i]);
		for (j = 0; j <= n && j < 4; j++) {
			s = plugin_config_list_string(cfg, keys[i], j);
			if (s)
				fputs(s, sink);
		}
		if (depth < 3)
			exercise(plugin_config_child(cfg, keys[i]), sink, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	server_config *c = NULL;
	berth_error err;
	uint64_t u;
	int64_t i64;
	int b;
	size_t i;
	char *text;

	if (!sink)
		sink = fopen("/dev/null", "w");
	if (config_load_buffer("fuzz/berth.yaml", (const char *)data, size, &c, &err) == 0) {
		for (i = 0; i < c->n_plugins; i++) {
			berth_config cfg = { c->plugins[i].config, schema };

			plugin_config_validate(c->plugins[i].config, schema, c->plugins[i].name, &err);
			plugin_config_validate(c->plugins[i].config, NULL, c->plugins[i].name, &err);
			exercise(&cfg, sink, 0);
			if (sink)
				plugin_config_print(sink, &cfg, 2);
		}
		config_free(c);
	}

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	config_parse_size(text, &u);
	config_parse_duration_ms(text, &u);
	config_parse_bool(text, &b);
	config_parse_int(text, &i64);
	free(text);
	return 0;
}

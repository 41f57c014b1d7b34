/*
 * A storage plugin whose create() refuses its config: the server must not
 * start, and must print this plugin's message.
 */
#include <stdio.h>

#include "berth/plugin.h"

static int fail_create(const berth_host *host, const berth_instance *self,
		       const berth_config *config, void **state, berth_error *err)
{
	const char *why = host->config_string(config, "reason");

	err->code = BERTH_E_CONFIG;
	snprintf(err->message, sizeof(err->message), "refusing to start: %s",
		 why ? why : "no reason given");
	return BERTH_E_CONFIG;
}

static int no_stat(void *s, const char *k, berth_stat *st, berth_error *e) { return BERTH_E_IO; }
static int no_read_all(void *s, const char *k, void *b, size_t c, size_t *l, berth_error *e) { return BERTH_E_IO; }
static int no_open(void *s, const char *k, uint64_t o, berth_read_handle *h, berth_error *e) { return BERTH_E_IO; }
static int no_wopen(void *s, const char *k, unsigned f, void **w, berth_error *e) { return BERTH_E_IO; }
static int no_write(void *s, void *w, const void *b, size_t l, berth_error *e) { return BERTH_E_IO; }
static int no_commit(void *s, void *w, berth_error *e) { return BERTH_E_IO; }
static void no_cancel(void *s, void *w) { }
static int no_move(void *s, const char *a, const char *b, berth_error *e) { return BERTH_E_IO; }
static int no_remove(void *s, const char *k, berth_error *e) { return BERTH_E_IO; }
static int no_list(void *s, const char *p, berth_list_fn fn, void *c, berth_error *e) { return BERTH_E_IO; }

static const berth_storage_ops storage_ops = {
	.size = sizeof(berth_storage_ops),
	.stat = no_stat,
	.read_all = no_read_all,
	.open_read = no_open,
	.write_open = no_wopen,
	.write = no_write,
	.write_commit = no_commit,
	.write_cancel = no_cancel,
	.move = no_move,
	.remove = no_remove,
	.list = no_list,
};

static const berth_config_key schema[] = {
	{"reason", BERTH_CONFIG_STRING, 0, NULL, "why create() fails"},
	{NULL, BERTH_CONFIG_END, 0, NULL, NULL},
};

static const berth_plugin descriptor = {
	BERTH_PLUGIN_HEADER,
	.name = "create-fails",
	.version = "1",
	.config_schema = schema,
	.create = fail_create,
	.storage = &storage_ops,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &descriptor;
}

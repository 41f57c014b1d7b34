/*
 * plugin_data.h - plugins' own objects in the registry's storage
 * (host->data_write and friends; signatures are those of berth_host).
 */
#ifndef BERTH_PLUGIN_DATA_H
#define BERTH_PLUGIN_DATA_H

#include "plugin_loader.h"

/* The longest key a plugin may use, not counting the folder the core adds. */
#define PLUGIN_DATA_KEY_MAX 512

/* 1 when key is a valid plugin data key ("" only where allow_empty). */
int plugin_data_key_valid(const char *key, int allow_empty);

int plugin_data_write(const berth_instance *self, const char *key, const void *data,
		      size_t len, berth_error *err);
int plugin_data_read(const berth_instance *self, const char *key, uint64_t max,
		     berth_bytes_fn fn, void *ctx, berth_error *err);
int plugin_data_remove(const berth_instance *self, const char *key, berth_error *err);
int plugin_data_list(const berth_instance *self, const char *prefix, berth_list_fn fn,
		     void *ctx, berth_error *err);

#endif

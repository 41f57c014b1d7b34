/*
 * plugin_data.c - the objects plugins keep in the registry's storage.
 *
 * Each plugin gets the folder _berth/plugins/<plugin name>/ beside the
 * Distribution tree, so what it stores (scan reports, state of its own)
 * lives wherever the registry's bytes live: it survives restarts and is
 * seen by every node sharing the storage. The folder is named after the
 * plugin, not the instance, so renaming an instance in YAML keeps its data.
 *
 * Keys are checked here more strictly than storage keys in general: the
 * plugin chooses them, often from client input (a repository name, a
 * digest), and they must never leave the plugin's folder.
 */
#include "plugin_data.h"

#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "layout.h"
#include "storage.h"

static int key_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("._:@+=-", c) != NULL;
}

int plugin_data_key_valid(const char *key, int allow_empty)
{
	size_t seg = 0, len;

	if (!key)
		return 0;
	len = strlen(key);
	if (len == 0)
		return allow_empty;
	if (len > PLUGIN_DATA_KEY_MAX)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		if (key[i] == '/' || key[i] == '\0') {
			size_t n = i - seg;
			if (n == 0 || (n == 1 && key[seg] == '.') ||
			    (n == 2 && key[seg] == '.' && key[seg + 1] == '.'))
				return 0;
			seg = i + 1;
			continue;
		}
		if (!key_char_ok(key[i]))
			return 0;
	}
	return 1;
}

static const char *plugin_of(const berth_instance *self)
{
	return self && self->desc.name ? self->desc.name : NULL;
}

/* The storage key of a plugin's key ("" names the plugin's folder). */
static int full_key(const berth_instance *self, const char *key, int allow_empty,
		    layout_key out, berth_error *err)
{
	const char *plugin = plugin_of(self);
	int n;

	if (!plugin)
		return error_set(err, BERTH_E_INVALID, "plugin data needs the instance handle");
	if (!plugin_data_key_valid(key, allow_empty))
		return error_set(err, BERTH_E_INVALID,
				 "invalid plugin data key '%.80s': segments of [A-Za-z0-9._:@+=-], "
				 "no '.' or '..', at most %d bytes",
				 key ? key : "(null)", PLUGIN_DATA_KEY_MAX);
	n = snprintf(out, LAYOUT_KEY_MAX, LAYOUT_BERTH "/plugins/%s%s%s", plugin,
		     key[0] ? "/" : "", key);
	if (n < 0 || n >= LAYOUT_KEY_MAX)
		return error_set(err, BERTH_E_INVALID, "plugin data key too long");
	return 0;
}

int plugin_data_write(const berth_instance *self, const char *key, const void *data,
		      size_t len, berth_error *err)
{
	layout_key k;
	int rc;

	if (!data && len > 0)
		return error_set(err, BERTH_E_INVALID, "data_write: no data");
	rc = full_key(self, key, 0, k, err);
	if (rc != 0)
		return rc;
	return storage_write_all(k, data ? data : "", len, err);
}

int plugin_data_read(const berth_instance *self, const char *key, uint64_t max,
		     berth_bytes_fn fn, void *ctx, berth_error *err)
{
	layout_key k;
	int rc;

	if (!fn)
		return error_set(err, BERTH_E_INVALID, "data_read: no callback");
	rc = full_key(self, key, 0, k, err);
	if (rc != 0)
		return rc;
	return storage_stream(k, max, BERTH_E_RANGE, fn, ctx, err);
}

int plugin_data_remove(const berth_instance *self, const char *key, berth_error *err)
{
	layout_key k;
	int rc;

	rc = full_key(self, key, 0, k, err);
	if (rc != 0)
		return rc;
	return storage_remove(k, err);
}

int plugin_data_list(const berth_instance *self, const char *prefix, berth_list_fn fn,
		     void *ctx, berth_error *err)
{
	layout_key k;
	int rc;

	if (!fn)
		return error_set(err, BERTH_E_INVALID, "data_list: no callback");
	rc = full_key(self, prefix ? prefix : "", 1, k, err);
	if (rc != 0)
		return rc;
	rc = storage_list(k, fn, ctx, err);
	if (rc == BERTH_E_NOT_FOUND) {
		err->code = 0;
		err->message[0] = '\0';
		rc = 0;
	}
	return rc;
}

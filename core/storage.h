/*
 * storage.h - the core's access to the one storage driver.
 *
 * Thin wrappers over the driver's berth_storage_ops that check every key
 * (no "..", no empty segment, no leading '/') before it reaches the driver,
 * honour BERTH_PLUGIN_SERIALIZED, and add the few compound operations the
 * registry needs (read a link, write a small object atomically).
 */
#ifndef BERTH_STORAGE_H
#define BERTH_STORAGE_H

#include <pthread.h>
#include <stddef.h>

#include "berth/plugin.h"
#include "digest.h"

typedef struct storage_driver {
	berth_storage_ops ops;       /* copied, fields past the plugin's size are NULL */
	void *state;
	pthread_mutex_t *serial;     /* non-NULL when the plugin asked to be serialized */
	const char *instance;
} storage_driver;

void storage_set_driver(const storage_driver *d);
const storage_driver *storage_get_driver(void);

/* 1 if key is a safe relative key. */
int storage_key_valid(const char *key);

int storage_stat(const char *key, berth_stat *st, berth_error *err);
/* 1 if key exists, 0 if not; errors other than NOT_FOUND count as absent and are logged. */
int storage_exists(const char *key);

/* Read a whole object of at most max bytes into a malloc'd, NUL-terminated buffer. */
int storage_read_small(const char *key, size_t max, char **buf, size_t *len, berth_error *err);
/* Read into a caller buffer; BERTH_E_RANGE with *len = size when it does not fit. */
int storage_read_into(const char *key, void *buf, size_t cap, size_t *len, berth_error *err);
/* Atomically replace key with data. */
int storage_write_all(const char *key, const void *data, size_t len, berth_error *err);

int storage_read_link(const char *key, digest *out, berth_error *err);
int storage_write_link(const char *key, const digest *d, berth_error *err);

int storage_open_read(const char *key, uint64_t offset, berth_read_handle *h, berth_error *err);
ssize_t storage_read_at(void *stream, uint64_t offset, void *buf, size_t cap, berth_error *err);
void storage_read_close(void *stream);

/*
 * Stream a whole object through fn in pieces of up to 256 KiB (fn returns
 * non-zero to stop); `too_large` is the code when it is over max bytes.
 */
typedef int (*storage_bytes_fn)(void *ctx, const void *data, size_t len);
int storage_stream(const char *key, uint64_t max, int too_large, storage_bytes_fn fn, void *ctx,
		   berth_error *err);

int storage_write_open(const char *key, unsigned flags, void **writer, berth_error *err);
int storage_write(void *writer, const void *buf, size_t len, berth_error *err);
int storage_write_commit(void *writer, berth_error *err);
void storage_write_cancel(void *writer);

int storage_move(const char *from, const char *to, berth_error *err);
int storage_remove(const char *key, berth_error *err);
int storage_list(const char *prefix, berth_list_fn fn, void *ctx, berth_error *err);
/* The driver's usage(); BERTH_E_UNSUPPORTED when it has none. Slow. */
int storage_usage(berth_storage_usage *u, berth_error *err);
/* A presigned URL for key; BERTH_E_UNSUPPORTED when the driver has none. */
int storage_redirect_url(const char *key, const char *method, char *url, size_t cap,
			 berth_error *err);


#endif

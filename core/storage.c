#include "storage.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "errors.h"
#include "layout.h"
#include "log.h"

static storage_driver driver;

void storage_set_driver(const storage_driver *d)
{
	driver = *d;
}

const storage_driver *storage_get_driver(void)
{
	return &driver;
}

int storage_key_valid(const char *key)
{
	const char *seg = key;

	if (!key || !*key || *key == '/')
		return 0;
	for (const char *p = key;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t n = (size_t)(p - seg);
			if (n == 0 || (n == 1 && seg[0] == '.') ||
			    (n == 2 && seg[0] == '.' && seg[1] == '.'))
				return 0;
			if (*p == '\0')
				return 1;
			seg = p + 1;
		} else if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			return 0;
		}
	}
}

#define LOCK()                                    \
	do {                                      \
		if (driver.serial)                \
			pthread_mutex_lock(driver.serial); \
	} while (0)
#define UNLOCK()                                    \
	do {                                        \
		if (driver.serial)                  \
			pthread_mutex_unlock(driver.serial); \
	} while (0)

#define CHECK_KEY(key, err)                                                            \
	do {                                                                           \
		if (!storage_key_valid(key))                                           \
			return error_set(err, BERTH_E_INVALID, "unsafe storage key '%s'", \
					    key ? key : "(null)");                   \
	} while (0)

int storage_stat(const char *key, berth_stat *st, berth_error *err)
{
	int rc;

	CHECK_KEY(key, err);
	LOCK();
	rc = driver.ops.stat(driver.state, key, st, err);
	UNLOCK();
	return rc;
}

int storage_exists(const char *key)
{
	berth_stat st;
	berth_error err = {0};
	int rc = storage_stat(key, &st, &err);

	if (rc == 0)
		return 1;
	if (rc != BERTH_E_NOT_FOUND)
		log_warn("storage: cannot stat '%s': %s", key, err.message);
	return 0;
}

int storage_read_into(const char *key, void *buf, size_t cap, size_t *len, berth_error *err)
{
	int rc;

	CHECK_KEY(key, err);
	LOCK();
	rc = driver.ops.read_all(driver.state, key, buf, cap, len, err);
	UNLOCK();
	return rc;
}

int storage_read_small(const char *key, size_t max, char **out, size_t *outlen, berth_error *err)
{
	/* Most objects read this way (links, manifests) are small: try a
	 * modest buffer first and only ask again when the driver says how big
	 * the object really is. */
	size_t cap = 4096, len = 0;
	char *buf = NULL;
	int rc;

	for (int attempt = 0; attempt < 3; attempt++) {
		char *nb = realloc(buf, cap + 1);
		if (!nb) {
			rc = error_set(err, BERTH_E_NOMEM, "out of memory reading '%s'", key);
			goto out;
		}
		buf = nb;
		rc = storage_read_into(key, buf, cap, &len, err);
		if (rc == 0)
			break;
		if (rc != BERTH_E_RANGE)
			goto out;
		if (len > max) {
			rc = error_set(err, BERTH_E_TOO_LARGE, "'%s' is larger than %zu bytes", key,
					  max);
			goto out;
		}
		cap = len;
	}
	if (rc != 0)
		goto out;
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	free(buf);
	return rc;
}

int storage_write_all(const char *key, const void *data, size_t len, berth_error *err)
{
	void *w = NULL;
	int rc;

	rc = storage_write_open(key, 0, &w, err);
	if (rc != 0)
		return rc;
	rc = storage_write(w, data, len, err);
	if (rc != 0) {
		storage_write_cancel(w);
		return rc;
	}
	return storage_write_commit(w, err);
}

int storage_read_link(const char *key, digest *out, berth_error *err)
{
	char buf[DIGEST_STRING_MAX + 8];
	size_t len = 0;
	int rc;

	rc = storage_read_into(key, buf, sizeof(buf), &len, err);
	if (rc == BERTH_E_RANGE)
		return error_set(err, BERTH_E_IO, "link '%s' is corrupt (%zu bytes)", key, len);
	if (rc != 0)
		return rc;
	if (layout_parse_link(buf, len, out) != 0)
		return error_set(err, BERTH_E_IO, "link '%s' does not hold a digest", key);
	return 0;
}

int storage_write_link(const char *key, const digest *d, berth_error *err)
{
	char s[DIGEST_STRING_MAX];

	digest_format(d, s);
	return storage_write_all(key, s, strlen(s), err);
}

int storage_open_read(const char *key, uint64_t offset, berth_read_handle *h, berth_error *err)
{
	int rc;

	CHECK_KEY(key, err);
	h->fd = -1;
	h->size = 0;
	h->stream = NULL;
	LOCK();
	rc = driver.ops.open_read(driver.state, key, offset, h, err);
	UNLOCK();
	return rc;
}

ssize_t storage_read_at(void *stream, uint64_t offset, void *buf, size_t cap, berth_error *err)
{
	ssize_t n;

	if (!driver.ops.read_at)
		return error_set(err, BERTH_E_UNSUPPORTED, "storage driver cannot stream");
	LOCK();
	n = driver.ops.read_at(driver.state, stream, offset, buf, cap, err);
	UNLOCK();
	return n;
}

void storage_read_close(void *stream)
{
	if (!driver.ops.read_close)
		return;
	LOCK();
	driver.ops.read_close(driver.state, stream);
	UNLOCK();
}

int storage_write_open(const char *key, unsigned flags, void **writer, berth_error *err)
{
	int rc;

	CHECK_KEY(key, err);
	LOCK();
	rc = driver.ops.write_open(driver.state, key, flags, writer, err);
	UNLOCK();
	return rc;
}

int storage_write(void *writer, const void *buf, size_t len, berth_error *err)
{
	int rc;

	LOCK();
	rc = driver.ops.write(driver.state, writer, buf, len, err);
	UNLOCK();
	return rc;
}

int storage_write_commit(void *writer, berth_error *err)
{
	int rc;

	LOCK();
	rc = driver.ops.write_commit(driver.state, writer, err);
	UNLOCK();
	return rc;
}

void storage_write_cancel(void *writer)
{
	LOCK();
	driver.ops.write_cancel(driver.state, writer);
	UNLOCK();
}

int storage_move(const char *from, const char *to, berth_error *err)
{
	int rc;

	CHECK_KEY(from, err);
	CHECK_KEY(to, err);
	LOCK();
	rc = driver.ops.move(driver.state, from, to, err);
	UNLOCK();
	return rc;
}

int storage_remove(const char *key, berth_error *err)
{
	int rc;

	CHECK_KEY(key, err);
	LOCK();
	rc = driver.ops.remove(driver.state, key, err);
	UNLOCK();
	return rc;
}

int storage_list(const char *prefix, berth_list_fn fn, void *ctx, berth_error *err)
{
	int rc;

	/* "" is the root: the one key that may be empty. */
	if (prefix[0] != '\0')
		CHECK_KEY(prefix, err);
	LOCK();
	rc = driver.ops.list(driver.state, prefix, fn, ctx, err);
	UNLOCK();
	return rc;
}

int storage_redirect_url(const char *key, const char *method, char *url, size_t cap,
			 berth_error *err)
{
	int rc;

	if (!driver.ops.redirect_url)
		return BERTH_E_UNSUPPORTED;
	CHECK_KEY(key, err);
	LOCK();
	rc = driver.ops.redirect_url(driver.state, key, method, url, cap, err);
	UNLOCK();
	return rc;
}

int storage_usage(berth_storage_usage *u, berth_error *err)
{
	int rc;

	if (!u)
		return BERTH_E_INVALID;
	if (!driver.ops.usage)
		return error_set(err, BERTH_E_UNSUPPORTED, "the storage driver reports no usage");
	memset(u, 0, sizeof(*u));
	u->size = sizeof(*u);
	LOCK();
	rc = driver.ops.usage(driver.state, u, err);
	UNLOCK();
	return rc;
}

int storage_stream(const char *key, uint64_t max, int too_large, storage_bytes_fn fn, void *ctx,
		   berth_error *err)
{
	berth_read_handle h = {.fd = -1};
	char *buf = NULL;
	size_t cap = 256 * 1024;
	uint64_t off = 0;
	int rc;

	rc = storage_open_read(key, 0, &h, err);
	if (rc != 0)
		return rc;
	if (h.size > max) {
		rc = error_set(err, too_large, "'%s' is %llu bytes, over the %llu asked for", key,
			       (unsigned long long)h.size, (unsigned long long)max);
		goto out;
	}
	if (h.size < cap)
		cap = h.size > 0 ? (size_t)h.size : 1;
	buf = malloc(cap);
	if (!buf) {
		rc = error_set(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	while (off < h.size) {
		size_t want = h.size - off < cap ? (size_t)(h.size - off) : cap;
		ssize_t n = h.fd >= 0 ? pread(h.fd, buf, want, (off_t)off)
				      : storage_read_at(h.stream, off, buf, want, err);
		if (n <= 0) {
			rc = n < 0 && h.fd < 0 ? (int)n
					       : error_set(err, BERTH_E_IO, "cannot read '%s'", key);
			goto out;
		}
		off += (uint64_t)n;
		if (fn(ctx, buf, (size_t)n))
			break;
	}
out:
	free(buf);
	if (h.fd >= 0)
		close(h.fd);
	else if (h.stream)
		storage_read_close(h.stream);
	return rc;
}

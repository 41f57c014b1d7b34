/*
 * test_conformance.c - storage-s3 against a live S3 store.
 *
 * dlopen()s the built storage-s3.so as the server does, runs the generic
 * storage conformance suite (the one storage-fs passes), then what only an
 * object store driver can be asked: multipart writes and appends across
 * part boundaries, streamed reads across windows, multipart copies, root
 * directories that do not see each other, and the errors of a wrong
 * credential, a missing bucket and an endpoint that is down.
 *
 * The store comes from S3_TEST_ENDPOINT, S3_TEST_BUCKET, S3_TEST_ACCESS and
 * S3_TEST_SECRET; without them the program exits 77 (skipped).
 * tests/integration/test_storage_s3.sh starts a Ceph RGW and runs it.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "berth/plugin.h"
#include "test.h"
#include "storage_conformance.c"

#ifndef BERTH_TEST_PLUGIN_DIR
#error "BERTH_TEST_PLUGIN_DIR must name the directory holding storage-s3.so"
#endif

#define MIB (1024u * 1024u)

struct berth_config {
	const char *const *kv;
};

struct berth_instance {
	const char *name;
};

static int log_lines;
static char last_log[1024];

static void host_log(const berth_instance *self, int level, const char *fmt, ...)
	BERTH_PRINTF(3, 4);

static void host_log(const berth_instance *self, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
	log_lines++;
	fprintf(stderr, "[%s] %d: %s\n", self ? self->name : "?", level, last_log);
}

static const char *host_config_string(const berth_config *cfg, const char *key)
{
	size_t i;

	for (i = 0; cfg && cfg->kv[i]; i += 2)
		if (strcmp(cfg->kv[i], key) == 0)
			return cfg->kv[i + 1];
	return NULL;
}

static int64_t host_config_int(const berth_config *cfg, const char *key, int64_t def)
{
	const char *v = host_config_string(cfg, key);

	return v ? strtoll(v, NULL, 10) : def;
}

static int host_config_bool(const berth_config *cfg, const char *key, int def)
{
	const char *v = host_config_string(cfg, key);

	if (!v)
		return def;
	return strcmp(v, "true") == 0;
}

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t host_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

static int64_t host_monotonic_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

static const berth_host test_host = {
	.size = sizeof(berth_host),
	.abi_major = BERTH_ABI_MAJOR,
	.abi_minor = BERTH_ABI_MINOR,
	.version = "test",
	.log = host_log,
	.config_string = host_config_string,
	.config_int = host_config_int,
	.config_bool = host_config_bool,
	.now_ms = host_now_ms,
	.monotonic_ms = host_monotonic_ms,
};

static const berth_instance test_instance = {.name = "storage-s3"};

static const char *endpoint, *bucket, *access_key, *secret_key;

/* Create an instance with the store's settings plus extra key/value pairs. */
static int create(const berth_plugin *p, void **state, berth_error *err, ...)
{
	const char *kv[40];
	berth_config cfg = {.kv = kv};
	size_t n = 0;
	va_list ap;
	const char *k;
	int rc;

	kv[n++] = "endpoint";
	kv[n++] = endpoint;
	kv[n++] = "bucket";
	kv[n++] = bucket;
	kv[n++] = "access_key";
	kv[n++] = access_key;
	kv[n++] = "secret_key";
	kv[n++] = secret_key;
	kv[n++] = "retry_backoff";
	kv[n++] = "20";
	va_start(ap, err);
	while ((k = va_arg(ap, const char *)) != NULL && n < 36) {
		/* A later value for the same key wins. */
		size_t i;
		const char *v = va_arg(ap, const char *);

		for (i = 0; i < n; i += 2)
			if (strcmp(kv[i], k) == 0)
				break;
		if (i < n) {
			kv[i + 1] = v;
		} else {
			kv[n++] = k;
			kv[n++] = v;
		}
	}
	va_end(ap);
	kv[n] = NULL;
	memset(err, 0, sizeof(*err));
	rc = p->create(&test_host, &test_instance, &cfg, state, err);
	if (rc == 0 && p->start)
		p->start(*state, err);
	return rc;
}

static void fill(unsigned char *b, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (unsigned char)((i * 2654435761u + seed) >> 13);
}

static int put(const berth_plugin *p, void *st, const char *key, const void *data, size_t len,
	       size_t chunk, unsigned flags)
{
	const struct sc s = {p->storage, st};

	return sc_put_chunked(&s, key, data, len, chunk, flags);
}

/* Stream key from offset through read_at in odd-sized reads and compare with want. */
static void expect_stream(const berth_plugin *p, void *st, const char *key, uint64_t offset,
			  const unsigned char *want, size_t len)
{
	const berth_storage_ops *o = p->storage;
	berth_read_handle h = {.fd = -1};
	berth_error err;
	unsigned char *got = malloc(len + 1);
	size_t n = 0;
	ssize_t r;

	CHECK(got != NULL);
	CHECK_INT(o->open_read(st, key, offset, &h, &err), 0);
	CHECK_INT(h.fd, -1);
	if (!got || !h.stream) {
		free(got);
		return;
	}
	while (n < len && (r = o->read_at(st, h.stream, offset + n, got + n,
					  len - n < 100003 ? len - n : 100003, &err)) > 0)
		n += (size_t)r;
	CHECK_INT(n, len);
	CHECK(memcmp(got, want, n) == 0);
	o->read_close(st, h.stream);
	free(got);
}

static void multipart_write_and_stream(const berth_plugin *p, void *st)
{
	const size_t size = 12 * MIB + 4321;
	unsigned char *data = malloc(size);
	berth_error err;
	berth_stat sb;

	CHECK(data != NULL);
	if (!data)
		return;
	fill(data, size, 1);
	/* part_size 5 MiB: three parts, the last one short. */
	CHECK_INT(put(p, st, SC_KEY("mp/big"), data, size, 65536 + 7, 0), 0);
	CHECK_INT(p->storage->stat(st, SC_KEY("mp/big"), &sb, &err), 0);
	CHECK_INT(sb.size, size);
	expect_stream(p, st, SC_KEY("mp/big"), 0, data, size);
	expect_stream(p, st, SC_KEY("mp/big"), 5 * MIB - 3, data + 5 * MIB - 3, size - 5 * MIB + 3);

	/* Append to an object past the copy limit: the old bytes are copied server side. */
	CHECK_INT(put(p, st, SC_KEY("mp/up"), data, 6 * MIB, 1 * MIB, BERTH_WRITE_APPEND), 0);
	CHECK_INT(put(p, st, SC_KEY("mp/up"), data + 6 * MIB, 1000, 1000, BERTH_WRITE_APPEND), 0);
	CHECK_INT(put(p, st, SC_KEY("mp/up"), data + 6 * MIB + 1000, size - 6 * MIB - 1000,
		      3 * MIB, BERTH_WRITE_APPEND), 0);
	CHECK_INT(p->storage->stat(st, SC_KEY("mp/up"), &sb, &err), 0);
	CHECK_INT(sb.size, size);
	expect_stream(p, st, SC_KEY("mp/up"), 0, data, size);

	/* A move above copy_threshold is a multipart copy. */
	SC_EXPECT(0, p->storage->move(st, SC_KEY("mp/up"), SC_KEY("mp/moved"), &sc_err));
	SC_EXPECT(BERTH_E_NOT_FOUND, p->storage->stat(st, SC_KEY("mp/up"), &sb, &sc_err));
	expect_stream(p, st, SC_KEY("mp/moved"), 0, data, size);
	free(data);
}

static void cancel_aborts(const berth_plugin *p, void *st)
{
	const size_t size = 6 * MIB;
	unsigned char *data = malloc(size);
	berth_error err;
	berth_stat sb;
	void *w = NULL;

	CHECK(data != NULL);
	if (!data)
		return;
	fill(data, size, 2);
	/* More than one part: the multipart upload has started when cancel comes. */
	CHECK_INT(p->storage->write_open(st, SC_KEY("mp/cancel"), 0, &w, &err), 0);
	if (w) {
		CHECK_INT(p->storage->write(st, w, data, size, &err), 0);
		p->storage->write_cancel(st, w);
	}
	SC_EXPECT(BERTH_E_NOT_FOUND, p->storage->stat(st, SC_KEY("mp/cancel"), &sb, &sc_err));
	free(data);
}

static void roots_apart(const berth_plugin *p)
{
	void *a = NULL, *b = NULL;
	berth_error err;
	berth_stat sb;

	CHECK_INT(create(p, &a, &err, "rootdirectory", "/berth-conformance/root-a/", NULL), 0);
	CHECK_INT(create(p, &b, &err, "rootdirectory", "berth-conformance/root-b", NULL), 0);
	if (!a || !b)
		goto out;
	CHECK_INT(put(p, a, "k", "in a", 4, 4, 0), 0);
	SC_EXPECT(BERTH_E_NOT_FOUND, p->storage->stat(b, "k", &sb, &sc_err));
	CHECK_INT(p->storage->stat(a, "k", &sb, &err), 0);
	CHECK_INT(sb.size, 4);
	CHECK_INT(p->storage->remove(a, "k", &err), 0);
out:
	if (a)
		p->destroy(a);
	if (b)
		p->destroy(b);
}

static void redirect_url(const berth_plugin *p, void *st)
{
	void *r = NULL;
	berth_error err;
	char url[4096];

	SC_EXPECT(BERTH_DECLINED, p->storage->redirect_url(st, SC_KEY("vis/k"), "GET", url,
							     sizeof(url), &sc_err));
	CHECK_INT(create(p, &r, &err, "redirect", "true", NULL), 0);
	if (!r)
		return;
	CHECK_INT(p->storage->redirect_url(r, SC_KEY("x"), "GET", url, sizeof(url), &err), 0);
	CHECK(strncmp(url, endpoint, strlen(endpoint)) == 0);
	CHECK(strstr(url, "X-Amz-Signature=") != NULL);
	CHECK(strstr(url, "X-Amz-Expires=1200") != NULL);
	SC_EXPECT(BERTH_E_RANGE, p->storage->redirect_url(r, SC_KEY("x"), "GET", url, 20, &sc_err));
	p->destroy(r);
}

static void errors(const berth_plugin *p)
{
	void *st = NULL;
	berth_error err;
	berth_stat sb;

	CHECK_INT(create(p, &st, &err, "secret_key", "wrong-secret", NULL), 0);
	if (st) {
		SC_EXPECT(BERTH_E_IO, p->storage->stat(st, SC_KEY("x"), &sb, &sc_err));
		/* A HEAD answer has no body, so no S3 error code: the status says it. */
		CHECK_INT(p->storage->stat(st, SC_KEY("x"), &sb, &err), BERTH_E_IO);
		CHECK(strstr(err.message, "refused access (403") != NULL);
		CHECK_INT(p->storage->list(st, "", sc_list_cb, &(struct sc_list){0}, &err),
			  BERTH_E_IO);
		CHECK(strstr(err.message, "SignatureDoesNotMatch") != NULL);
		CHECK(strstr(err.message, "credentials") != NULL);
		CHECK(strstr(last_log, "wrong-secret") == NULL);
		p->destroy(st);
	}
	st = NULL;
	CHECK_INT(create(p, &st, &err, "bucket", "no-such-bucket-here", NULL), 0);
	if (st) {
		CHECK_INT(put(p, st, "k", "x", 1, 1, 0), BERTH_E_IO);
		CHECK_INT(p->storage->list(st, "", sc_list_cb, &(struct sc_list){0}, &err),
			  BERTH_E_IO);
		CHECK(strstr(err.message, "bucket 'no-such-bucket-here' does not exist") != NULL);
		p->destroy(st);
	}
	st = NULL;
	/* Port 1 on loopback: nothing listens; retries end in AGAIN (503 to clients). */
	CHECK_INT(create(p, &st, &err, "endpoint", "http://127.0.0.1:1", "retries", "2", NULL), 0);
	if (st) {
		int64_t t0 = host_monotonic_ms();

		CHECK_INT(p->storage->stat(st, SC_KEY("x"), &sb, &err), BERTH_E_AGAIN);
		CHECK(strstr(err.message, "cannot reach the object store at http://127.0.0.1:1") !=
		      NULL);
		CHECK(host_monotonic_ms() - t0 < 5000);
		p->destroy(st);
	}
}

static void config_errors(const berth_plugin *p)
{
	static const char *const bad[][2] = {
		{"endpoint", "ftp://x"}, {"endpoint", "http://host/path"}, {"bucket", "a"},
		{"part_size", "1024"}, {"rootdirectory", "a/../b"}, {"retries", "99"},
		{"secret_key_file", "/nonexistent/secret"},
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *st = NULL;
		berth_error err;

		CHECK_INT(create(p, &st, &err, bad[i][0], bad[i][1], NULL), BERTH_E_CONFIG);
		CHECK(st == NULL);
		CHECK(strstr(err.message, "storage-s3") != NULL);
		if (st)
			p->destroy(st);
	}
}

int main(void)
{
	const berth_plugin *p;
	berth_plugin_entry_fn entry;
	berth_error err;
	void *so, *st = NULL;

	endpoint = getenv("S3_TEST_ENDPOINT");
	bucket = getenv("S3_TEST_BUCKET");
	access_key = getenv("S3_TEST_ACCESS");
	secret_key = getenv("S3_TEST_SECRET");
	if (!endpoint || !bucket || !access_key || !secret_key) {
		fprintf(stderr, "S3_TEST_* not set: no store to test against\n");
		return 77;
	}
	so = dlopen(BERTH_TEST_PLUGIN_DIR "/storage-s3.so", RTLD_NOW | RTLD_LOCAL);
	if (!so) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	entry = (berth_plugin_entry_fn)dlsym(so, BERTH_PLUGIN_ENTRY_SYMBOL);
	CHECK(entry != NULL);
	if (!entry)
		return 1;
	p = entry();
	CHECK_INT(p->magic, BERTH_PLUGIN_MAGIC);
	CHECK_STR(p->name, "storage-s3");
	config_errors(p);
	CHECK_INT(create(p, &st, &err, "part_size", "5242880", "copy_threshold", "5242880",
			 "copy_part_size", "5242880", "read_window", "1048576", NULL), 0);
	if (!st) {
		fprintf(stderr, "create: %s\n", err.message);
		return 1;
	}
	storage_conformance_run(p, st);
	multipart_write_and_stream(p, st);
	cancel_aborts(p, st);
	roots_apart(p);
	redirect_url(p, st);
	errors(p);
	SC_EXPECT(0, p->storage->remove(st, STORAGE_CONFORMANCE_PREFIX, &sc_err));
	p->destroy(st);
	dlclose(so);
	TEST_MAIN_END();
}

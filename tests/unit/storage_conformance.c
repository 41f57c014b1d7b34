/*
 * storage_conformance.c - the generic storage driver suite; see the header.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage_conformance.h"
#include "test.h"

#define SC_KEY(k) STORAGE_CONFORMANCE_PREFIX "/" k
#define SC_OPS_HAS(o, member) \
	((o)->size >= offsetof(berth_storage_ops, member) + sizeof((o)->member))
#define SC_THREADS 8
#define SC_RACE_SIZE (256u * 1024u)
#define SC_LIST_MAX 32

struct sc {
	const berth_storage_ops *o;
	void *st;
};

/*
 * Run `call` (which names sc_err) with a fresh error and expect status
 * `want`. A failure must fill the error: the same code and a message that
 * is non-empty and free of control bytes, whatever the key contained.
 */
#define SC_EXPECT(want, call)                                              \
	do {                                                               \
		berth_error sc_err;                                        \
		int sc_rc_;                                                \
		memset(&sc_err, 0, sizeof(sc_err));                        \
		sc_rc_ = (int)(call);                                      \
		CHECK_INT(sc_rc_, (want));                                 \
		if (sc_rc_ < 0) {                                          \
			CHECK_INT(sc_err.code, sc_rc_);                    \
			CHECK(sc_err.message[0] != '\0');                  \
			CHECK(sc_message_clean(sc_err.message));           \
		}                                                          \
	} while (0)

static int sc_message_clean(const char *m)
{
	size_t i;

	for (i = 0; i < BERTH_ERROR_MESSAGE_MAX && m[i]; i++)
		if ((unsigned char)m[i] < 0x20 || m[i] == 0x7f)
			return 0;
	return i < BERTH_ERROR_MESSAGE_MAX;
}

static int64_t sc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write key in chunks of at most `chunk` bytes and commit. */
static int sc_put_chunked(const struct sc *s, const char *key, const void *data,
			  size_t len, size_t chunk, unsigned flags)
{
	berth_error err;
	void *w = NULL;
	size_t off = 0;
	int rc;

	rc = s->o->write_open(s->st, key, flags, &w, &err);
	if (rc < 0)
		return rc;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;

		rc = s->o->write(s->st, w, (const char *)data + off, n, &err);
		if (rc < 0) {
			s->o->write_cancel(s->st, w);
			return rc;
		}
		off += n;
	}
	return s->o->write_commit(s->st, w, &err);
}

static int sc_put(const struct sc *s, const char *key, const char *text)
{
	return sc_put_chunked(s, key, text, strlen(text), 4096, 0);
}

/* Read a small object as a string; "" plus a failed check when absent. */
static void sc_get(const struct sc *s, const char *key, char *buf, size_t cap)
{
	berth_error err;
	size_t len = 0;
	int rc;

	rc = s->o->read_all(s->st, key, buf, cap - 1, &len, &err);
	CHECK_INT(rc, 0);
	if (rc < 0 || len >= cap)
		len = 0;
	buf[len] = '\0';
}

#define SC_EXPECT_CONTENT(s, key, text)                                    \
	do {                                                               \
		char sc_buf_[256];                                         \
		sc_get((s), (key), sc_buf_, sizeof(sc_buf_));              \
		CHECK_STR(sc_buf_, (text));                                \
	} while (0)

struct sc_list {
	int count;
	int calls;
	int stop_after;        /* return non-zero after this many calls; 0 never */
	char names[SC_LIST_MAX][64];
	int is_dir[SC_LIST_MAX];
};

static int sc_list_cb(void *ctx, const char *name, int is_dir)
{
	struct sc_list *l = ctx;

	l->calls++;
	if (l->count < SC_LIST_MAX) {
		snprintf(l->names[l->count], sizeof(l->names[0]), "%s", name);
		l->is_dir[l->count] = is_dir;
		l->count++;
	}
	return l->stop_after && l->calls >= l->stop_after;
}

static int sc_list(const struct sc *s, const char *prefix, struct sc_list *l)
{
	berth_error err;

	memset(l, 0, sizeof(*l));
	return s->o->list(s->st, prefix, sc_list_cb, l, &err);
}

/* -1 when name is not in the listing, else its is_dir. */
static int sc_listed(const struct sc_list *l, const char *name)
{
	int i;

	for (i = 0; i < l->count; i++)
		if (strcmp(l->names[i], name) == 0)
			return l->is_dir[i];
	return -1;
}

/* A prefix with no entries may be absent or empty, depending on the driver. */
static void sc_expect_empty_or_absent(const struct sc *s, const char *prefix)
{
	struct sc_list l;
	int rc = sc_list(s, prefix, &l);

	CHECK(rc == 0 || rc == BERTH_E_NOT_FOUND);
	CHECK_INT(l.count, 0);
}

static int sc_check_ops(const berth_plugin *p)
{
	const berth_storage_ops *o = p ? p->storage : NULL;

	CHECK(o != NULL);
	if (!o)
		return -1;
	CHECK(SC_OPS_HAS(o, list));
	if (!SC_OPS_HAS(o, list))
		return -1;
	CHECK(o->stat && o->read_all && o->open_read && o->write_open &&
	      o->write && o->write_commit && o->write_cancel && o->move &&
	      o->remove && o->list);
	if (!(o->stat && o->read_all && o->open_read && o->write_open &&
	      o->write && o->write_commit && o->write_cancel && o->move &&
	      o->remove && o->list))
		return -1;
	/* A driver that hands out streams must be able to read and close them. */
	CHECK(!o->read_at == !o->read_close);
	return 0;
}

static void sc_visible_after_commit(const struct sc *s)
{
	berth_error err;
	struct sc_list l;
	berth_stat st;
	void *w = NULL;
	size_t len;
	char buf[16];

	CHECK_INT(s->o->write_open(s->st, SC_KEY("vis/k"), 0, &w, &err), 0);
	if (!w)
		return;
	CHECK_INT(s->o->write(s->st, w, "hello", 5, &err), 0);
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->stat(s->st, SC_KEY("vis/k"), &st, &sc_err));
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->read_all(s->st, SC_KEY("vis/k"), buf,
						    sizeof(buf), &len, &sc_err));
	if (sc_list(s, SC_KEY("vis"), &l) == 0)
		CHECK_INT(sc_listed(&l, "k"), -1);
	CHECK_INT(s->o->write_commit(s->st, w, &err), 0);

	memset(&st, 0, sizeof(st));
	CHECK_INT(s->o->stat(s->st, SC_KEY("vis/k"), &st, &err), 0);
	CHECK_INT(st.size, 5);
	CHECK_INT(st.is_dir, 0);
	/* Generous: an object store's clock may differ from ours. */
	CHECK(llabs(st.mtime_ms - sc_now_ms()) < 3600 * 1000);
	SC_EXPECT_CONTENT(s, SC_KEY("vis/k"), "hello");
	CHECK_INT(sc_list(s, SC_KEY("vis"), &l), 0);
	CHECK_INT(l.count, 1);
	CHECK_INT(sc_listed(&l, "k"), 0);
}

static void sc_cancel(const struct sc *s)
{
	berth_error err;
	berth_stat st;
	void *w = NULL;

	CHECK_INT(s->o->write_open(s->st, SC_KEY("cancel/k"), 0, &w, &err), 0);
	if (w) {
		CHECK_INT(s->o->write(s->st, w, "discard me", 10, &err), 0);
		s->o->write_cancel(s->st, w);
	}
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->stat(s->st, SC_KEY("cancel/k"), &st, &sc_err));
	sc_expect_empty_or_absent(s, SC_KEY("cancel"));

	/* Cancel with nothing written. */
	w = NULL;
	CHECK_INT(s->o->write_open(s->st, SC_KEY("cancel/k"), 0, &w, &err), 0);
	if (w)
		s->o->write_cancel(s->st, w);
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->stat(s->st, SC_KEY("cancel/k"), &st, &sc_err));
	sc_expect_empty_or_absent(s, SC_KEY("cancel"));

	/* Cancelling a replacement keeps the previous object. */
	CHECK_INT(sc_put(s, SC_KEY("cancel/kept"), "before"), 0);
	w = NULL;
	CHECK_INT(s->o->write_open(s->st, SC_KEY("cancel/kept"), 0, &w, &err), 0);
	if (w) {
		CHECK_INT(s->o->write(s->st, w, "after", 5, &err), 0);
		s->o->write_cancel(s->st, w);
	}
	SC_EXPECT_CONTENT(s, SC_KEY("cancel/kept"), "before");
}

static void sc_empty_object(const struct sc *s)
{
	berth_error err;
	berth_stat st;
	size_t len = 99;
	char buf[4];

	CHECK_INT(sc_put(s, SC_KEY("empty"), ""), 0);
	memset(&st, 0xff, sizeof(st));
	CHECK_INT(s->o->stat(s->st, SC_KEY("empty"), &st, &err), 0);
	CHECK_INT(st.size, 0);
	CHECK_INT(st.is_dir, 0);
	CHECK_INT(s->o->read_all(s->st, SC_KEY("empty"), buf, sizeof(buf), &len, &err), 0);
	CHECK_INT(len, 0);
}

static void sc_overwrite(const struct sc *s)
{
	berth_error err;
	void *w = NULL;

	CHECK_INT(sc_put(s, SC_KEY("over/k"), "old"), 0);
	CHECK_INT(s->o->write_open(s->st, SC_KEY("over/k"), 0, &w, &err), 0);
	if (w) {
		CHECK_INT(s->o->write(s->st, w, "new value", 9, &err), 0);
		/* The old object stays whole until the commit. */
		SC_EXPECT_CONTENT(s, SC_KEY("over/k"), "old");
		CHECK_INT(s->o->write_commit(s->st, w, &err), 0);
	}
	SC_EXPECT_CONTENT(s, SC_KEY("over/k"), "new value");
	/* A shorter replacement leaves nothing of the longer one. */
	CHECK_INT(sc_put(s, SC_KEY("over/k"), "s"), 0);
	SC_EXPECT_CONTENT(s, SC_KEY("over/k"), "s");
}

static void sc_append(const struct sc *s)
{
	berth_error err;
	void *w = NULL;

	CHECK_INT(sc_put_chunked(s, SC_KEY("append/data"), "hello ", 6, 6,
				 BERTH_WRITE_APPEND), 0);
	SC_EXPECT_CONTENT(s, SC_KEY("append/data"), "hello ");
	CHECK_INT(sc_put_chunked(s, SC_KEY("append/data"), "world", 5, 2,
				 BERTH_WRITE_APPEND), 0);
	SC_EXPECT_CONTENT(s, SC_KEY("append/data"), "hello world");
	/* The ABI: cancelling an append keeps what was written. */
	CHECK_INT(s->o->write_open(s->st, SC_KEY("append/data"), BERTH_WRITE_APPEND,
				   &w, &err), 0);
	if (w) {
		CHECK_INT(s->o->write(s->st, w, "!", 1, &err), 0);
		s->o->write_cancel(s->st, w);
	}
	SC_EXPECT_CONTENT(s, SC_KEY("append/data"), "hello world!");
}

static void sc_fill(unsigned char *buf, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)((i * 131u + seed) >> 3);
}

static void sc_read_all(const struct sc *s)
{
	const size_t size = 1024 * 1024 + 123;
	unsigned char *data = malloc(size), *back = malloc(size);
	berth_error err;
	berth_stat st;
	size_t len = 0;

	CHECK(data && back);
	if (!data || !back)
		goto out;
	sc_fill(data, size, 7);
	/* An odd chunk size so writes never line up with pages. */
	CHECK_INT(sc_put_chunked(s, SC_KEY("big"), data, size, 65521, 0), 0);
	CHECK_INT(s->o->stat(s->st, SC_KEY("big"), &st, &err), 0);
	CHECK_INT(st.size, size);
	CHECK_INT(s->o->read_all(s->st, SC_KEY("big"), back, size, &len, &err), 0);
	CHECK_INT(len, size);
	CHECK(memcmp(data, back, size) == 0);

	len = 0;
	SC_EXPECT(BERTH_E_RANGE, s->o->read_all(s->st, SC_KEY("big"), back, size - 1,
						&len, &sc_err));
	CHECK_INT(len, size);
	len = 0;
	SC_EXPECT(BERTH_E_RANGE, s->o->read_all(s->st, SC_KEY("big"), back, 0, &len,
						&sc_err));
	CHECK_INT(len, size);
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->read_all(s->st, SC_KEY("nope"), back, size,
						    &len, &sc_err));
out:
	free(data);
	free(back);
}

/* Read what a handle offers to the end, by whichever path the host would. */
static size_t sc_drain(const struct sc *s, berth_read_handle *h, uint64_t offset,
		       char *buf, size_t cap)
{
	berth_error err;
	size_t got = 0;
	ssize_t n;

	if (h->fd >= 0) {
		/* The host sends from the fd's position, then closes it. */
		CHECK_INT(lseek(h->fd, 0, SEEK_CUR), offset);
		while (got < cap && (n = read(h->fd, buf + got, cap - got)) > 0)
			got += (size_t)n;
		close(h->fd);
		return got;
	}
	CHECK(s->o->read_at && h->stream);
	if (!s->o->read_at)
		return 0;
	while (got < cap &&
	       (n = s->o->read_at(s->st, h->stream, offset + got, buf + got,
				  cap - got, &err)) > 0)
		got += (size_t)n;
	s->o->read_close(s->st, h->stream);
	return got;
}

static void sc_open_read(const struct sc *s)
{
	static const char text[] = "0123456789abcdefghijklmnopqrstuvwxyz"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				   "the end of one hundred bytes";
	const size_t size = sizeof(text) - 1;
	static const uint64_t offsets[] = { 0, 1, 37, 99, 100 };
	berth_read_handle h;
	char buf[256];
	size_t i, got;

	CHECK_INT(size, 100);
	CHECK_INT(sc_put(s, SC_KEY("stream/obj"), text), 0);
	for (i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		berth_error err;

		memset(&h, 0, sizeof(h));
		h.fd = -1;
		CHECK_INT(s->o->open_read(s->st, SC_KEY("stream/obj"), offsets[i], &h,
					  &err), 0);
		CHECK_INT(h.size, size);
		got = sc_drain(s, &h, offsets[i], buf, sizeof(buf));
		CHECK_INT(got, size - offsets[i]);
		CHECK(memcmp(buf, text + offsets[i], got) == 0);
	}
	SC_EXPECT(BERTH_E_RANGE, s->o->open_read(s->st, SC_KEY("stream/obj"), size + 1,
						 &h, &sc_err));
	SC_EXPECT(BERTH_E_RANGE, s->o->open_read(s->st, SC_KEY("stream/obj"),
						 UINT64_MAX, &h, &sc_err));
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->open_read(s->st, SC_KEY("stream/none"), 0,
						     &h, &sc_err));
	/* A prefix is not an object. */
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->open_read(s->st, SC_KEY("stream"), 0, &h,
						     &sc_err));
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->read_all(s->st, SC_KEY("stream"), buf,
						    sizeof(buf), &got, &sc_err));
}

static void sc_read_at(const struct sc *s)
{
	char text[100], buf[64];
	berth_read_handle h;
	berth_error err;
	void *stream;

	if (!s->o->read_at)
		return;
	memset(text, 0, sizeof(text));
	sc_fill((unsigned char *)text, sizeof(text) - 1, 3);
	CHECK_INT(sc_put_chunked(s, SC_KEY("stream/at"), text, sizeof(text), 7, 0), 0);
	memset(&h, 0, sizeof(h));
	CHECK_INT(s->o->open_read(s->st, SC_KEY("stream/at"), 0, &h, &err), 0);
	stream = h.stream;
	CHECK(stream != NULL);
	if (!stream) {
		if (h.fd >= 0)
			close(h.fd);
		return;
	}
	/* Absolute offsets, in any order; the host never touches h.fd here. */
	CHECK_INT(s->o->read_at(s->st, stream, 10, buf, 20, &err), 20);
	CHECK(memcmp(buf, text + 10, 20) == 0);
	CHECK_INT(s->o->read_at(s->st, stream, 0, buf, 5, &err), 5);
	CHECK(memcmp(buf, text, 5) == 0);
	CHECK_INT(s->o->read_at(s->st, stream, 95, buf, sizeof(buf), &err), 5);
	CHECK(memcmp(buf, text + 95, 5) == 0);
	CHECK_INT(s->o->read_at(s->st, stream, 100, buf, sizeof(buf), &err), 0);
	CHECK_INT(s->o->read_at(s->st, stream, 5000, buf, sizeof(buf), &err), 0);
	s->o->read_close(s->st, stream);
}

static void sc_move(const struct sc *s)
{
	berth_stat st;

	CHECK_INT(sc_put(s, SC_KEY("mv/a"), "A"), 0);
	CHECK_INT(sc_put(s, SC_KEY("mv/b"), "B"), 0);
	SC_EXPECT(0, s->o->move(s->st, SC_KEY("mv/a"), SC_KEY("mv/b"), &sc_err));
	SC_EXPECT_CONTENT(s, SC_KEY("mv/b"), "A");
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->stat(s->st, SC_KEY("mv/a"), &st, &sc_err));
	/* The destination's parents come into being. */
	SC_EXPECT(0, s->o->move(s->st, SC_KEY("mv/b"), SC_KEY("mv/deep/er/c"), &sc_err));
	SC_EXPECT_CONTENT(s, SC_KEY("mv/deep/er/c"), "A");
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->stat(s->st, SC_KEY("mv/b"), &st, &sc_err));
	/* A missing source fails and creates nothing. */
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->move(s->st, SC_KEY("mv/none"),
						SC_KEY("mv/nowhere/x"), &sc_err));
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->stat(s->st, SC_KEY("mv/nowhere"), &st,
						&sc_err));
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->move(s->st, SC_KEY("mv/gone/none"),
						SC_KEY("mv/x"), &sc_err));
}

static void sc_remove(const struct sc *s)
{
	berth_stat st;

	CHECK_INT(sc_put(s, SC_KEY("rm/f"), "f"), 0);
	SC_EXPECT(0, s->o->remove(s->st, SC_KEY("rm/f"), &sc_err));
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->stat(s->st, SC_KEY("rm/f"), &st, &sc_err));

	CHECK_INT(sc_put(s, SC_KEY("rm/d/a"), "a"), 0);
	CHECK_INT(sc_put(s, SC_KEY("rm/d/sub/b"), "b"), 0);
	CHECK_INT(sc_put(s, SC_KEY("rm/d/sub/deeper/c"), "c"), 0);
	CHECK_INT(sc_put(s, SC_KEY("rm/d2/x"), "x"), 0);
	CHECK_INT(sc_put(s, SC_KEY("rm/keep"), "keep"), 0);
	SC_EXPECT(0, s->o->remove(s->st, SC_KEY("rm/d"), &sc_err));
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->stat(s->st, SC_KEY("rm/d"), &st, &sc_err));
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->stat(s->st, SC_KEY("rm/d/sub/b"), &st,
						&sc_err));
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->stat(s->st, SC_KEY("rm/d/sub/deeper/c"), &st,
						&sc_err));
	/* A sibling sharing the name as a string prefix is not under it. */
	SC_EXPECT_CONTENT(s, SC_KEY("rm/d2/x"), "x");
	SC_EXPECT_CONTENT(s, SC_KEY("rm/keep"), "keep");

	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->remove(s->st, SC_KEY("rm/none"), &sc_err));
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->remove(s->st, SC_KEY("rm/none/deeper"),
						  &sc_err));
}

static void sc_list_tree(const struct sc *s)
{
	struct sc_list l;
	berth_stat st;

	CHECK_INT(sc_put(s, SC_KEY("ls/a"), "a"), 0);
	CHECK_INT(sc_put(s, SC_KEY("ls/b/c"), "c"), 0);
	CHECK_INT(sc_put(s, SC_KEY("ls/b/d/e"), "e"), 0);

	CHECK_INT(sc_list(s, SC_KEY("ls"), &l), 0);
	CHECK_INT(l.count, 2);
	CHECK_INT(sc_listed(&l, "a"), 0);
	CHECK_INT(sc_listed(&l, "b"), 1);

	CHECK_INT(sc_list(s, SC_KEY("ls/b"), &l), 0);
	CHECK_INT(l.count, 2);
	CHECK_INT(sc_listed(&l, "c"), 0);
	CHECK_INT(sc_listed(&l, "d"), 1);

	CHECK_INT(sc_list(s, "", &l), 0);
	CHECK_INT(sc_listed(&l, STORAGE_CONFORMANCE_PREFIX), 1);

	CHECK_INT(sc_list(s, SC_KEY("ls/missing"), &l), BERTH_E_NOT_FOUND);
	CHECK_INT(sc_list(s, SC_KEY("ls/a"), &l), BERTH_E_NOT_FOUND);
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->list(s->st, SC_KEY("ls/missing"), sc_list_cb,
						&l, &sc_err));

	/* A callback that returns non-zero stops the listing, which succeeds. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	SC_EXPECT(0, s->o->list(s->st, SC_KEY("ls"), sc_list_cb, &l, &sc_err));
	CHECK_INT(l.calls, 1);

	memset(&st, 0, sizeof(st));
	SC_EXPECT(0, s->o->stat(s->st, SC_KEY("ls/b"), &st, &sc_err));
	CHECK_INT(st.is_dir, 1);
}

static void sc_bad_keys(const struct sc *s)
{
	static const char *const bad[] = {
		"../x", "/abs", "a//b", "a/./b", "", "a/../../etc/passwd",
		".", "..", "a/", "a/..", "./a", "a\nb", "a\001b", "a\x7f",
		"../../../../../../../../tmp/berth-escape",
	};
	char buf[16];
	berth_read_handle h;
	berth_stat st;
	size_t i, len;

	CHECK_INT(sc_put(s, SC_KEY("bad/good"), "good"), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *k = bad[i];
		void *w = NULL;

		SC_EXPECT(BERTH_E_INVALID, s->o->stat(s->st, k, &st, &sc_err));
		SC_EXPECT(BERTH_E_INVALID, s->o->read_all(s->st, k, buf, sizeof(buf),
							  &len, &sc_err));
		SC_EXPECT(BERTH_E_INVALID, s->o->open_read(s->st, k, 0, &h, &sc_err));
		SC_EXPECT(BERTH_E_INVALID, s->o->write_open(s->st, k, 0, &w, &sc_err));
		CHECK(w == NULL);
		if (w)
			s->o->write_cancel(s->st, w);
		w = NULL;
		SC_EXPECT(BERTH_E_INVALID, s->o->write_open(s->st, k, BERTH_WRITE_APPEND,
							    &w, &sc_err));
		CHECK(w == NULL);
		if (w)
			s->o->write_cancel(s->st, w);
		SC_EXPECT(BERTH_E_INVALID, s->o->move(s->st, k, SC_KEY("bad/x"), &sc_err));
		SC_EXPECT(BERTH_E_INVALID, s->o->move(s->st, SC_KEY("bad/good"), k,
						      &sc_err));
		SC_EXPECT(BERTH_E_INVALID, s->o->remove(s->st, k, &sc_err));
		if (k[0] != '\0')
			SC_EXPECT(BERTH_E_INVALID, s->o->list(s->st, k, sc_list_cb,
							      &(struct sc_list){ 0 },
							      &sc_err));
	}
	SC_EXPECT_CONTENT(s, SC_KEY("bad/good"), "good");
	SC_EXPECT(BERTH_E_NOT_FOUND, s->o->stat(s->st, SC_KEY("bad/x"), &st, &sc_err));
}

struct sc_race {
	const struct sc *s;
	int id;
	int rc;
	int torn;              /* reader: partial objects seen */
	int seen;              /* reader: whole objects seen */
	volatile int *done;
};

static void *sc_race_writer(void *arg)
{
	struct sc_race *r = arg;
	unsigned char *data = malloc(SC_RACE_SIZE);

	if (!data) {
		r->rc = BERTH_E_NOMEM;
		return NULL;
	}
	memset(data, 'A' + r->id, SC_RACE_SIZE);
	r->rc = sc_put_chunked(r->s, SC_KEY("race/k"), data, SC_RACE_SIZE, 16384, 0);
	free(data);
	return NULL;
}

static int sc_uniform(const unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 1; i < len; i++)
		if (buf[i] != buf[0])
			return 0;
	return len > 0 && buf[0] >= 'A' && buf[0] < 'A' + SC_THREADS;
}

/* Reads while the writers run: every read is absent or one whole value. */
static void *sc_race_reader(void *arg)
{
	struct sc_race *r = arg;
	unsigned char *buf = malloc(SC_RACE_SIZE);
	berth_error err;
	size_t len;
	int rc;

	if (!buf) {
		r->rc = BERTH_E_NOMEM;
		return NULL;
	}
	while (!__atomic_load_n(r->done, __ATOMIC_ACQUIRE)) {
		rc = r->s->o->read_all(r->s->st, SC_KEY("race/k"), buf, SC_RACE_SIZE,
				       &len, &err);
		if (rc == BERTH_E_NOT_FOUND)
			continue;
		if (rc < 0 || len != SC_RACE_SIZE || !sc_uniform(buf, len))
			r->torn++;
		else
			r->seen++;
	}
	free(buf);
	return NULL;
}

static void sc_concurrent_writers(const struct sc *s)
{
	struct sc_race w[SC_THREADS], reader;
	pthread_t tw[SC_THREADS], tr;
	unsigned char *buf = malloc(SC_RACE_SIZE);
	volatile int done = 0;
	int started[SC_THREADS], reader_started, i;
	struct sc_list l;
	size_t len = 0;
	berth_error err;

	CHECK(buf != NULL);
	if (!buf)
		return;
	memset(&reader, 0, sizeof(reader));
	reader.s = s;
	reader.done = &done;
	reader_started = pthread_create(&tr, NULL, sc_race_reader, &reader) == 0;
	CHECK(reader_started);
	for (i = 0; i < SC_THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].s = s;
		w[i].id = i;
		w[i].rc = -1000;
		started[i] = pthread_create(&tw[i], NULL, sc_race_writer, &w[i]) == 0;
		CHECK(started[i]);
	}
	for (i = 0; i < SC_THREADS; i++) {
		if (started[i])
			pthread_join(tw[i], NULL);
		CHECK_INT(w[i].rc, 0);
	}
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	if (reader_started)
		pthread_join(tr, NULL);
	CHECK_INT(reader.torn, 0);

	CHECK_INT(s->o->read_all(s->st, SC_KEY("race/k"), buf, SC_RACE_SIZE, &len,
				 &err), 0);
	CHECK_INT(len, SC_RACE_SIZE);
	CHECK(sc_uniform(buf, len));
	CHECK_INT(sc_list(s, SC_KEY("race"), &l), 0);
	CHECK_INT(l.count, 1);
	CHECK_INT(sc_listed(&l, "k"), 0);
	free(buf);
}

static void sc_clear(const struct sc *s)
{
	berth_error err;
	int rc = s->o->remove(s->st, STORAGE_CONFORMANCE_PREFIX, &err);

	CHECK(rc == 0 || rc == BERTH_E_NOT_FOUND);
}

int storage_conformance_run(const berth_plugin *p, void *state)
{
	int failures = test_failures;
	struct sc s;
	berth_stat st;

	if (sc_check_ops(p) < 0)
		return test_failures - failures;
	s.o = p->storage;
	s.st = state;

	sc_clear(&s);
	sc_visible_after_commit(&s);
	sc_cancel(&s);
	sc_empty_object(&s);
	sc_overwrite(&s);
	sc_append(&s);
	sc_read_all(&s);
	sc_open_read(&s);
	sc_read_at(&s);
	sc_move(&s);
	sc_remove(&s);
	sc_list_tree(&s);
	sc_bad_keys(&s);
	sc_concurrent_writers(&s);

	SC_EXPECT(0, s.o->remove(s.st, STORAGE_CONFORMANCE_PREFIX, &sc_err));
	SC_EXPECT(BERTH_E_NOT_FOUND, s.o->stat(s.st, STORAGE_CONFORMANCE_PREFIX, &st,
					       &sc_err));
	return test_failures - failures;
}

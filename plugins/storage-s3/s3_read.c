/*
 * s3_read.c - stat and the three ways of reading an object.
 *
 * A stream reads the object in windows of `read_window` bytes, one ranged
 * GET each, so a blob is never held in memory whole and a slow client never
 * holds a connection to the store open. Every window after the first is
 * asked for with If-Match on the ETag seen at open: an object replaced
 * while it is streamed fails the read instead of mixing two versions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

struct s3_stream {
	char *okey;
	char etag[128];
	uint64_t size;
	char *win;             /* the window, allocated at the first read */
	uint64_t win_off;
	size_t win_len;
};

/* HEAD an object: size, ETag and mtime (each output may be NULL). */
int s3_head(struct s3_state *s, const char *okey, const char *q, uint64_t *size, char *etag,
	    size_t etag_cap, int64_t *mtime_ms, berth_error *err)
{
	struct s3_request r;
	char what[S3_QUOTE_MAX + 32];
	int rc;

	memset(&r, 0, sizeof(r));
	r.method = "HEAD";
	r.key = okey;
	snprintf(what, sizeof(what), "cannot stat '%s'", q);
	rc = s3_perform(s, &r, what, err);
	if (rc != 0)
		return rc;
	if (size)
		*size = r.content_length;
	if (etag)
		snprintf(etag, etag_cap, "%s", r.etag);
	if (mtime_ms)
		*mtime_ms = r.mtime_ms;
	return 0;
}

struct stat_probe {
	const char *okey;          /* the object key */
	size_t len;
	int object;                /* seen as an object */
	int dir;                   /* seen as okey + "/" */
	uint64_t size;
	int64_t mtime_ms;
};

static int probe_entry(void *ctx, const char *name, int is_prefix, uint64_t size,
			 int64_t mtime_ms)
{
	struct stat_probe *p = ctx;

	if (strncmp(name, p->okey, p->len) != 0)
		return 0;
	/* Past "key/" in the listing's byte order: nothing more to learn. */
	if ((unsigned char)name[p->len] > '/')
		return 1;
	if (!is_prefix && name[p->len] == '\0') {
		p->object = 1;
		p->size = size;
		p->mtime_ms = mtime_ms;
	} else if (is_prefix && name[p->len] == '/' && name[p->len + 1] == '\0') {
		p->dir = 1;
	}
	/* Names sort, and "key/" comes after "key" and its siblings "key-x", "key.x". */
	return p->dir;
}

/*
 * One ListObjectsV2 (prefix = the key, delimiter '/') tells at once whether
 * the key is an object, a "directory" (a prefix of other keys), or neither:
 * the registry stats folders as often as files (the catalog, tag lists),
 * and a HEAD would need a second request for them.
 */
int s3_stat(void *state, const char *key, berth_stat *st, berth_error *err)
{
	struct s3_state *s = state;
	struct stat_probe p = {0};
	char q[S3_QUOTE_MAX + 8], *okey;
	int rc;

	rc = s3_key_check(key, 0, err);
	if (rc < 0)
		return rc;
	s3_quote(q, sizeof(q), key);
	okey = s3_object_key(s, key, 0);
	if (!okey)
		return s3_fail(err, BERTH_E_NOMEM, "cannot stat '%s': out of memory", q);
	p.okey = okey;
	p.len = strlen(okey);
	rc = s3_list_raw(s, okey, 1, 0, probe_entry, &p, q, err);
	if (rc == 0 && p.object) {
		st->size = p.size;
		st->is_dir = 0;
		st->mtime_ms = p.mtime_ms > 0 ? p.mtime_ms : 0;
	} else if (rc == 0 && p.dir) {
		/* A prefix has no time of its own. */
		st->size = 0;
		st->is_dir = 1;
		st->mtime_ms = s->host->now_ms();
	} else if (rc == 0) {
		rc = s3_fail(err, BERTH_E_NOT_FOUND, "cannot stat '%s': not found", q);
	}
	free(okey);
	return rc;
}

int s3_read_all(void *state, const char *key, void *buf, size_t cap, size_t *len,
		berth_error *err)
{
	struct s3_state *s = state;
	struct s3_request r;
	char q[S3_QUOTE_MAX + 8], what[S3_QUOTE_MAX + 32], *okey;
	int rc;

	rc = s3_key_check(key, 0, err);
	if (rc < 0)
		return rc;
	s3_quote(q, sizeof(q), key);
	okey = s3_object_key(s, key, 0);
	if (!okey)
		return s3_fail(err, BERTH_E_NOMEM, "cannot read '%s': out of memory", q);
	memset(&r, 0, sizeof(r));
	r.method = "GET";
	r.key = okey;
	r.fixed = buf;
	r.fixed_cap = cap;
	snprintf(what, sizeof(what), "cannot read '%s'", q);
	rc = s3_perform(s, &r, what, err);
	free(okey);
	if (rc == BERTH_E_RANGE && r.overflow) {
		if (len)
			*len = r.content_length > SIZE_MAX ? SIZE_MAX : (size_t)r.content_length;
		return s3_fail(err, BERTH_E_RANGE, "cannot read '%s': %llu bytes do not fit in %zu",
			       q, (unsigned long long)r.content_length, cap);
	}
	if (rc != 0)
		return rc;
	if (len)
		*len = r.fixed_len;
	return 0;
}

int s3_open_read(void *state, const char *key, uint64_t offset, berth_read_handle *h,
		 berth_error *err)
{
	struct s3_state *s = state;
	struct s3_stream *st = NULL;
	char q[S3_QUOTE_MAX + 8];
	int rc;

	rc = s3_key_check(key, 0, err);
	if (rc < 0)
		return rc;
	s3_quote(q, sizeof(q), key);
	st = calloc(1, sizeof(*st));
	if (!st || !(st->okey = s3_object_key(s, key, 0))) {
		rc = s3_fail(err, BERTH_E_NOMEM, "cannot open '%s': out of memory", q);
		goto out;
	}
	rc = s3_head(s, st->okey, q, &st->size, st->etag, sizeof(st->etag), NULL, err);
	if (rc != 0)
		goto out;
	if (offset > st->size) {
		rc = s3_fail(err, BERTH_E_RANGE,
			     "cannot read '%s' from offset %llu: it has %llu bytes", q,
			     (unsigned long long)offset, (unsigned long long)st->size);
		goto out;
	}
	h->fd = -1;
	h->size = st->size;
	h->stream = st;
out:
	if (rc != 0 && st) {
		free(st->okey);
		free(st);
	}
	return rc;
}

static int fetch_window(struct s3_state *s, struct s3_stream *st, uint64_t offset,
			berth_error *err)
{
	struct s3_request r;
	struct s3_header hdr[2];
	char range[64], q[S3_QUOTE_MAX + 8], what[S3_QUOTE_MAX + 64];
	uint64_t last = offset + s->cfg.read_window - 1;
	int rc;

	if (last >= st->size)
		last = st->size - 1;
	if (!st->win && !(st->win = malloc(s->cfg.read_window)))
		return s3_fail(err, BERTH_E_NOMEM, "cannot read: out of memory");
	snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)offset,
		 (unsigned long long)last);
	hdr[0] = (struct s3_header){"range", range};
	hdr[1] = (struct s3_header){"if-match", st->etag};
	memset(&r, 0, sizeof(r));
	r.method = "GET";
	r.key = st->okey;
	r.headers = hdr;
	r.n_headers = st->etag[0] ? 2 : 1;
	r.fixed = st->win;
	r.fixed_cap = s->cfg.read_window;
	s3_quote(q, sizeof(q), st->okey);
	snprintf(what, sizeof(what), "cannot read '%s' at %llu", q, (unsigned long long)offset);
	st->win_len = 0;
	rc = s3_perform(s, &r, what, err);
	if (rc != 0)
		return rc;
	if (r.status != 206 && offset != 0)
		return s3_fail(err, BERTH_E_IO, "%s: the store ignored the range", what);
	st->win_off = offset;
	st->win_len = r.fixed_len;
	if (st->win_len == 0)
		return s3_fail(err, BERTH_E_IO, "%s: the store sent nothing", what);
	return 0;
}

ssize_t s3_read_at(void *state, void *stream, uint64_t offset, void *buf, size_t cap,
		   berth_error *err)
{
	struct s3_stream *st = stream;
	size_t n;
	int rc;

	if (!st)
		return s3_fail(err, BERTH_E_INVALID, "cannot read: no open object");
	if (offset >= st->size || cap == 0)
		return 0;
	if (!(st->win && offset >= st->win_off && offset < st->win_off + st->win_len)) {
		rc = fetch_window(state, st, offset, err);
		if (rc != 0)
			return rc;
	}
	n = (size_t)(st->win_off + st->win_len - offset);
	if (n > cap)
		n = cap;
	memcpy(buf, st->win + (offset - st->win_off), n);
	return (ssize_t)n;
}

void s3_read_close(void *state, void *stream)
{
	struct s3_stream *st = stream;

	(void)state;
	if (!st)
		return;
	free(st->win);
	free(st->okey);
	free(st);
}

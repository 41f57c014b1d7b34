/*
 * s3_write.c - streamed writes.
 *
 * A PUT is atomic per object on S3, and so is the completion of a multipart
 * upload: readers see the old object or the new one, never a mix. A write
 * gathers up to part_size bytes in memory; if the whole object fits it is
 * sent with one PUT at commit, otherwise each full part is uploaded as it
 * fills and commit completes the multipart upload. Cancel aborts it, so
 * nothing becomes visible.
 *
 * S3 cannot append. An APPEND write (upload data) rewrites the object at
 * commit as its old bytes followed by the new ones: an old part of 5 MiB or
 * more is copied inside the store (UploadPartCopy, no bytes through Berth),
 * a smaller one is read back into the first part. The object is replaced
 * atomically, so a crash in between leaves the old bytes whole, and the
 * copy is conditional on the ETag read at open, so two writers cannot both
 * extend the same bytes. Cancelling an APPEND keeps what was written, as the
 * ABI says: it commits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

struct s3_writer {
	char q[S3_QUOTE_MAX + 8];
	struct s3_multipart mp;
	char *buf;
	size_t len;
	size_t cap;
	int append;
	int dirty;             /* something must be stored at commit */
	int failed;            /* status of a failed part upload, or 0 */
	uint64_t old_size;     /* APPEND: bytes of the old object still to copy */
	char old_etag[128];
};

static void writer_free(struct s3_writer *w)
{
	s3_mp_free(&w->mp);
	free(w->buf);
	free(w);
}

/* APPEND: learn the old object; bring it into the buffer when too small to copy. */
static int open_append(struct s3_state *s, struct s3_writer *w, berth_error *err)
{
	struct s3_request r;
	char what[S3_QUOTE_MAX + 32];
	int rc;

	rc = s3_head(s, w->mp.okey, w->q, &w->old_size, w->old_etag, sizeof(w->old_etag), NULL,
		     err);
	if (rc == BERTH_E_NOT_FOUND) {
		w->old_size = 0;
		w->dirty = 1;
		return 0;
	}
	if (rc != 0 || w->old_size >= S3_MIN_PART || w->old_size == 0)
		return rc;
	memset(&r, 0, sizeof(r));
	r.method = "GET";
	r.key = w->mp.okey;
	r.fixed = w->buf;
	r.fixed_cap = w->cap;
	{
		struct s3_header hdr[] = {{"if-match", w->old_etag}};

		r.headers = hdr;
		r.n_headers = w->old_etag[0] ? 1 : 0;
		snprintf(what, sizeof(what), "cannot append to '%s'", w->q);
		rc = s3_perform(s, &r, what, err);
	}
	if (rc != 0)
		return rc == BERTH_E_RANGE ? s3_fail(err, BERTH_E_AGAIN, "%s: it grew meanwhile", what)
					   : rc;
	w->len = r.fixed_len;
	w->old_size = 0;
	return 0;
}

int s3_write_open(void *state, const char *key, unsigned flags, void **writer,
		  berth_error *err)
{
	struct s3_state *s = state;
	struct s3_writer *w = NULL;
	int rc;

	*writer = NULL;
	rc = s3_key_check(key, 0, err);
	if (rc < 0)
		return rc;
	w = calloc(1, sizeof(*w));
	if (!w)
		return s3_fail(err, BERTH_E_NOMEM, "cannot write: out of memory");
	s3_quote(w->q, sizeof(w->q), key);
	if (flags & ~(unsigned)BERTH_WRITE_APPEND) {
		rc = s3_fail(err, BERTH_E_UNSUPPORTED, "cannot write '%s': unknown flags 0x%x", w->q,
			     flags);
		goto out;
	}
	w->append = !!(flags & BERTH_WRITE_APPEND);
	w->dirty = !w->append;
	w->cap = (size_t)s->cfg.part_size;
	w->mp.okey = s3_object_key(s, key, 0);
	w->buf = malloc(w->cap);
	if (!w->mp.okey || !w->buf) {
		rc = s3_fail(err, BERTH_E_NOMEM, "cannot write '%s': out of memory", w->q);
		goto out;
	}
	if (w->append)
		rc = open_append(s, w, err);
out:
	if (rc != 0)
		writer_free(w);
	else
		*writer = w;
	return rc;
}

/* Start the multipart upload (with the old bytes of an APPEND copied in) if not yet. */
static int ensure_multipart(struct s3_state *s, struct s3_writer *w, berth_error *err)
{
	int rc;

	if (w->mp.upload_id)
		return 0;
	rc = s3_mp_begin(s, &w->mp, w->q, err);
	if (rc == 0 && w->old_size > 0)
		rc = s3_mp_copy_object(s, &w->mp, w->mp.okey, w->old_etag, w->old_size, w->q, err);
	return rc;
}

static int flush_part(struct s3_state *s, struct s3_writer *w, berth_error *err)
{
	int rc = ensure_multipart(s, w, err);

	if (rc == 0 && w->len > 0)
		rc = s3_mp_part(s, &w->mp, w->buf, w->len, w->q, err);
	if (rc == 0)
		w->len = 0;
	return rc;
}

int s3_write(void *state, void *writer, const void *buf, size_t len, berth_error *err)
{
	struct s3_writer *w = writer;
	const char *p = buf;
	int rc;

	if (w->failed)
		return s3_fail(err, w->failed, "cannot write '%s': an earlier write failed", w->q);
	if (len)
		w->dirty = 1;
	while (len > 0) {
		size_t n = w->cap - w->len < len ? w->cap - w->len : len;

		memcpy(w->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
		if (w->len == w->cap) {
			rc = flush_part(state, w, err);
			if (rc != 0) {
				w->failed = rc;
				return rc;
			}
		}
	}
	return 0;
}

static int put_whole(struct s3_state *s, struct s3_writer *w, berth_error *err)
{
	struct s3_request r;
	char what[S3_QUOTE_MAX + 32];

	memset(&r, 0, sizeof(r));
	r.method = "PUT";
	r.key = w->mp.okey;
	r.body = w->buf;
	r.body_len = w->len;
	snprintf(what, sizeof(what), "cannot write '%s'", w->q);
	return s3_perform(s, &r, what, err);
}

static int commit(struct s3_state *s, struct s3_writer *w, berth_error *err)
{
	int rc;

	if (w->failed)
		return s3_fail(err, w->failed, "cannot commit '%s': an earlier write failed", w->q);
	if (!w->dirty)
		return 0;
	if (!w->mp.upload_id && w->old_size == 0)
		return put_whole(s, w, err);
	rc = flush_part(s, w, err);
	if (rc == 0)
		rc = s3_mp_complete(s, &w->mp, w->q, err);
	return rc;
}

int s3_write_commit(void *state, void *writer, berth_error *err)
{
	struct s3_writer *w = writer;
	int rc = commit(state, w, err);

	if (rc != 0)
		s3_mp_abort(state, &w->mp);
	writer_free(w);
	return rc;
}

void s3_write_cancel(void *state, void *writer)
{
	struct s3_state *s = state;
	struct s3_writer *w = writer;
	berth_error err;

	if (!w)
		return;
	if (w->append && commit(s, w, &err) != 0)
		s->host->log(s->self, BERTH_LOG_WARN, "keeping appended bytes: %s", err.message);
	s3_mp_abort(s, &w->mp);
	writer_free(w);
}

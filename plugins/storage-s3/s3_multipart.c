/*
 * s3_multipart.c - multipart uploads: begin, upload or copy a part,
 * complete, abort.
 *
 * Parts are numbered from 1 in the order they are added. The ETag of each
 * is kept unquoted (RGW's copy answers come unquoted, AWS's quoted) and sent
 * quoted in the complete request. The complete answer's ETag is never used:
 * RGW 16 sends it empty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

int s3_mp_begin(struct s3_state *s, struct s3_multipart *mp, const char *q, berth_error *err)
{
	struct s3_query query[] = {{"uploads", ""}};
	struct s3_buf out = {.max = S3_XML_MAX};
	struct s3_request r;
	char what[S3_QUOTE_MAX + 48], id[1024];
	int rc;

	memset(&r, 0, sizeof(r));
	r.method = "POST";
	r.key = mp->okey;
	r.query = query;
	r.n_query = 1;
	r.out = &out;
	snprintf(what, sizeof(what), "cannot start a multipart upload of '%s'", q);
	rc = s3_perform(s, &r, what, err);
	if (rc != 0)
		goto out;
	if (!out.data ||
	    s3_xml_text(out.data, out.len, "InitiateMultipartUploadResult", "UploadId", id,
			sizeof(id)) != 0 ||
	    !id[0]) {
		rc = s3_fail(err, BERTH_E_IO, "%s: the store sent no upload id", what);
		goto out;
	}
	mp->upload_id = strdup(id);
	if (!mp->upload_id)
		rc = s3_fail(err, BERTH_E_NOMEM, "%s: out of memory", what);
out:
	s3_buf_free(&out);
	return rc;
}

static int add_etag(struct s3_multipart *mp, const char *etag, const char *what,
		    berth_error *err)
{
	if (mp->n_parts == mp->cap_parts) {
		int cap = mp->cap_parts ? mp->cap_parts * 2 : 16;
		char **p = realloc(mp->etags, (size_t)cap * sizeof(*p));

		if (!p)
			return s3_fail(err, BERTH_E_NOMEM, "%s: out of memory", what);
		mp->etags = p;
		mp->cap_parts = cap;
	}
	mp->etags[mp->n_parts] = strdup(etag);
	if (!mp->etags[mp->n_parts])
		return s3_fail(err, BERTH_E_NOMEM, "%s: out of memory", what);
	mp->n_parts++;
	return 0;
}

static int next_part(struct s3_multipart *mp, char *num, size_t cap, const char *what,
		     berth_error *err)
{
	if (mp->n_parts >= S3_MAX_PARTS)
		return s3_fail(err, BERTH_E_TOO_LARGE,
			       "%s: more than %d parts; raise part_size", what, S3_MAX_PARTS);
	snprintf(num, cap, "%d", mp->n_parts + 1);
	return 0;
}

int s3_mp_part(struct s3_state *s, struct s3_multipart *mp, const void *data, size_t len,
	       const char *q, berth_error *err)
{
	struct s3_request r;
	char what[S3_QUOTE_MAX + 48], num[16];
	int rc;

	snprintf(what, sizeof(what), "cannot upload a part of '%s'", q);
	rc = next_part(mp, num, sizeof(num), what, err);
	if (rc != 0)
		return rc;
	{
		struct s3_query query[] = {{"partNumber", num}, {"uploadId", mp->upload_id}};

		memset(&r, 0, sizeof(r));
		r.method = "PUT";
		r.key = mp->okey;
		r.query = query;
		r.n_query = 2;
		r.body = data;
		r.body_len = len;
		rc = s3_perform(s, &r, what, err);
	}
	if (rc != 0)
		return rc;
	if (!r.etag[0])
		return s3_fail(err, BERTH_E_IO, "%s: the store sent no ETag", what);
	return add_etag(mp, r.etag, what, err);
}

int s3_mp_copy_part(struct s3_state *s, struct s3_multipart *mp, const char *src_okey,
		    const char *src_etag, uint64_t from, uint64_t to, const char *q,
		    berth_error *err)
{
	struct s3_buf out = {.max = S3_XML_MAX};
	struct s3_request r;
	char what[S3_QUOTE_MAX + 48], num[16], range[64], etag[256], *src = NULL, *enc = NULL;
	int rc;

	snprintf(what, sizeof(what), "cannot copy a part into '%s'", q);
	rc = next_part(mp, num, sizeof(num), what, err);
	if (rc != 0)
		return rc;
	enc = s3_uri_encode(src_okey, 1);
	src = enc ? s3_strdup_printf("/%s/%s", s->cfg.bucket, enc) : NULL;
	if (!src) {
		rc = s3_fail(err, BERTH_E_NOMEM, "%s: out of memory", what);
		goto out;
	}
	snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)from,
		 (unsigned long long)to);
	{
		struct s3_query query[] = {{"partNumber", num}, {"uploadId", mp->upload_id}};
		struct s3_header hdr[] = {{"x-amz-copy-source", src},
					  {"x-amz-copy-source-range", range},
					  {"x-amz-copy-source-if-match", src_etag}};

		memset(&r, 0, sizeof(r));
		r.method = "PUT";
		r.key = mp->okey;
		r.query = query;
		r.n_query = 2;
		r.headers = hdr;
		r.n_headers = src_etag && src_etag[0] ? 3 : 2;
		r.out = &out;
		rc = s3_perform(s, &r, what, err);
	}
	if (rc != 0)
		goto out;
	if (!out.data ||
	    s3_xml_text(out.data, out.len, "CopyPartResult", "ETag", etag, sizeof(etag)) != 0 ||
	    !etag[0]) {
		rc = s3_fail(err, BERTH_E_IO, "%s: the store sent no ETag", what);
		goto out;
	}
	s3_etag_unquote(etag);
	rc = add_etag(mp, etag, what, err);
out:
	free(src);
	free(enc);
	s3_buf_free(&out);
	return rc;
}

/*
 * NoSuchUpload after a retry may mean the first attempt completed and only
 * its answer was lost: then the object is there with a multipart ETag of
 * exactly our number of parts ("<md5>-N").
 */
static int completed_before(struct s3_state *s, const struct s3_multipart *mp, const char *q)
{
	char etag[128], suffix[16];
	size_t n, m;
	berth_error e;

	if (s3_head(s, mp->okey, q, NULL, etag, sizeof(etag), NULL, &e) != 0)
		return 0;
	snprintf(suffix, sizeof(suffix), "-%d", mp->n_parts);
	n = strlen(etag);
	m = strlen(suffix);
	return n > m && strcmp(etag + n - m, suffix) == 0;
}

int s3_mp_complete(struct s3_state *s, struct s3_multipart *mp, const char *q,
		   berth_error *err)
{
	struct s3_query query[] = {{"uploadId", mp->upload_id}};
	struct s3_header hdr[] = {{"content-type", "application/xml"}};
	struct s3_buf out = {.max = S3_XML_MAX};
	struct s3_request r;
	char what[S3_QUOTE_MAX + 48], *body = NULL, *p;
	size_t cap = 64 + (size_t)mp->n_parts * 320, len = 0;
	int i, rc;

	snprintf(what, sizeof(what), "cannot complete the upload of '%s'", q);
	body = malloc(cap);
	if (!body)
		return s3_fail(err, BERTH_E_NOMEM, "%s: out of memory", what);
	p = body;
	len += (size_t)snprintf(p, cap, "<CompleteMultipartUpload>");
	for (i = 0; i < mp->n_parts; i++)
		len += (size_t)snprintf(body + len, cap - len,
					"<Part><PartNumber>%d</PartNumber><ETag>\"%.250s\"</ETag></Part>",
					i + 1, mp->etags[i]);
	len += (size_t)snprintf(body + len, cap - len, "</CompleteMultipartUpload>");
	memset(&r, 0, sizeof(r));
	r.method = "POST";
	r.key = mp->okey;
	r.query = query;
	r.n_query = 1;
	r.headers = hdr;
	r.n_headers = 1;
	r.body = body;
	r.body_len = len;
	r.out = &out;
	rc = s3_perform(s, &r, what, err);
	free(body);
	s3_buf_free(&out);
	if (rc == BERTH_E_NOT_FOUND && completed_before(s, mp, q))
		rc = 0;
	if (rc == 0) {
		free(mp->upload_id);
		mp->upload_id = NULL;
	}
	return rc;
}

void s3_mp_abort(struct s3_state *s, struct s3_multipart *mp)
{
	struct s3_request r;
	berth_error err;
	char q[S3_QUOTE_MAX + 8], what[S3_QUOTE_MAX + 48];

	if (!mp->upload_id)
		return;
	{
		struct s3_query query[] = {{"uploadId", mp->upload_id}};

		memset(&r, 0, sizeof(r));
		r.method = "DELETE";
		r.key = mp->okey;
		r.query = query;
		r.n_query = 1;
		s3_quote(q, sizeof(q), mp->okey);
		snprintf(what, sizeof(what), "cannot abort the upload of '%s'", q);
		/* A failed abort leaves parts the bucket's lifecycle rules must reap. */
		if (s3_perform(s, &r, what, &err) != 0 && err.code != BERTH_E_NOT_FOUND)
			s3_warn(s, "%s", err.message);
	}
	free(mp->upload_id);
	mp->upload_id = NULL;
}

void s3_mp_free(struct s3_multipart *mp)
{
	int i;

	for (i = 0; i < mp->n_parts; i++)
		free(mp->etags[i]);
	free(mp->etags);
	free(mp->upload_id);
	free(mp->okey);
	memset(mp, 0, sizeof(*mp));
}

/*
 * Copy bytes [0, size) of src into the next parts, in ranges of
 * copy_part_size; a short tail joins the range before it, so every part is
 * at least S3_MIN_PART and more parts may follow.
 */
int s3_mp_copy_object(struct s3_state *s, struct s3_multipart *mp, const char *src_okey,
		      const char *src_etag, uint64_t size, const char *q, berth_error *err)
{
	uint64_t step = s->cfg.copy_part_size, off = 0;
	int rc = 0;

	while (off < size && rc == 0) {
		uint64_t end = off + step;

		if (end > size || size - end < S3_MIN_PART)
			end = size;
		rc = s3_mp_copy_part(s, mp, src_okey, src_etag, off, end - 1, q, err);
		off = end;
	}
	return rc;
}

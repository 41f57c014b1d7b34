/*
 * s3_tree.c - operations on names rather than contents: move, remove,
 * list, and presigned URLs.
 *
 * S3 has no directories: a "directory" is the set of keys under "name/".
 * list() asks with delimiter '/' and maps CommonPrefixes to directories;
 * remove() of a directory lists everything under it and deletes it in
 * batches of 1000 (DeleteObjects).
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

#define S3_DELETE_BATCH 1000

struct raw_list {
	int (*entry)(void *ctx, const char *name, int is_prefix, uint64_t size,
			 int64_t mtime_ms);
	void *ctx;
};

int s3_list_raw(struct s3_state *s, const char *oprefix, int delimited, int max_keys,
		int (*entry)(void *ctx, const char *name, int is_prefix, uint64_t size,
			 int64_t mtime_ms),
		void *ctx, const char *q, berth_error *err)
{
	struct s3_buf out = {.max = S3_XML_MAX};
	struct s3_list_page *page = calloc(1, sizeof(*page));
	char what[S3_QUOTE_MAX + 32], keys[16], *token = NULL;
	int rc = 0;

	if (!page)
		return s3_fail(err, BERTH_E_NOMEM, "cannot list '%s': out of memory", q);
	snprintf(what, sizeof(what), "cannot list '%s'", q);
	snprintf(keys, sizeof(keys), "%d", max_keys);
	page->entry = entry;
	page->ctx = ctx;
	for (;;) {
		struct s3_query query[5];
		struct s3_request r;
		size_t n = 0;

		query[n++] = (struct s3_query){"list-type", "2"};
		query[n++] = (struct s3_query){"prefix", oprefix};
		if (delimited)
			query[n++] = (struct s3_query){"delimiter", "/"};
		if (max_keys > 0)
			query[n++] = (struct s3_query){"max-keys", keys};
		if (token)
			query[n++] = (struct s3_query){"continuation-token", token};
		memset(&r, 0, sizeof(r));
		r.method = "GET";
		r.query = query;
		r.n_query = n;
		r.out = &out;
		rc = s3_perform(s, &r, what, err);
		if (rc != 0)
			break;
		rc = out.data ? s3_xml_list(out.data, out.len, page) : BERTH_E_INVALID;
		if (rc != 0) {
			rc = s3_fail(err, BERTH_E_IO, "%s: unreadable answer from the store", what);
			break;
		}
		if (page->stopped || !page->truncated || max_keys > 0)
			break;
		free(token);
		token = strdup(page->next_token);
		if (!token) {
			rc = s3_fail(err, BERTH_E_NOMEM, "%s: out of memory", what);
			break;
		}
	}
	free(token);
	free(page);
	s3_buf_free(&out);
	return rc;
}

struct list_ctx {
	size_t skip;               /* length of the listed prefix */
	berth_list_fn fn;
	void *ctx;
	int seen;
};

static int list_entry(void *ctx, const char *name, int is_prefix, uint64_t size,
			 int64_t mtime_ms)
{
	struct list_ctx *l = ctx;
	char child[1024];
	size_t n;

	(void)size;
	(void)mtime_ms;
	if (strlen(name) <= l->skip)
		return 0;          /* the "prefix/" marker some tools create */
	snprintf(child, sizeof(child), "%s", name + l->skip);
	n = strlen(child);
	if (is_prefix && n > 0 && child[n - 1] == '/')
		child[--n] = '\0';
	if (n == 0 || strchr(child, '/'))
		return 0;
	l->seen++;
	return l->fn(l->ctx, child, is_prefix);
}

int s3_list(void *state, const char *prefix, berth_list_fn fn, void *ctx, berth_error *err)
{
	struct s3_state *s = state;
	struct list_ctx l = {0};
	char q[S3_QUOTE_MAX + 8], *oprefix;
	int rc;

	rc = s3_key_check(prefix, 1, err);
	if (rc < 0)
		return rc;
	s3_quote(q, sizeof(q), prefix);
	if (!fn)
		return s3_fail(err, BERTH_E_INVALID, "cannot list '%s': no callback", q);
	oprefix = s3_object_key(s, prefix, 1);
	if (!oprefix)
		return s3_fail(err, BERTH_E_NOMEM, "cannot list '%s': out of memory", q);
	l.skip = strlen(oprefix);
	l.fn = fn;
	l.ctx = ctx;
	rc = s3_list_raw(s, oprefix, 1, 0, list_entry, &l, q, err);
	free(oprefix);
	if (rc == 0 && l.seen == 0 && prefix[0])
		rc = s3_fail(err, BERTH_E_NOT_FOUND, "cannot list '%s': not found", q);
	return rc;
}

/* ------------------------------------------------------------------------ */

struct delete_batch {
	struct s3_state *s;
	const char *okey;          /* the key removed: itself and what is under okey/ */
	size_t len;
	const char *q;
	berth_error *err;
	char *keys[S3_DELETE_BATCH];
	int n;
	int total;
	int rc;
};

static void xml_escape_add(char **p, const char *text)
{
	for (; *text; text++) {
		switch (*text) {
		case '&': *p += sprintf(*p, "&amp;"); break;
		case '<': *p += sprintf(*p, "&lt;"); break;
		case '>': *p += sprintf(*p, "&gt;"); break;
		case '"': *p += sprintf(*p, "&quot;"); break;
		case '\'': *p += sprintf(*p, "&apos;"); break;
		default: *(*p)++ = *text; break;
		}
	}
	**p = '\0';
}

struct delete_errors {
	int count;
	char first[256];
};

static int delete_error_cb(void *ctx, const char *const *path, int depth, const char *text,
			   size_t len)
{
	struct delete_errors *e = ctx;

	if (depth == 3 && strcmp(path[0], "DeleteResult") == 0 && strcmp(path[1], "Error") == 0 &&
	    strcmp(path[2], "Code") == 0) {
		if (!e->count++)
			snprintf(e->first, sizeof(e->first), "%.*s", (int)len, text);
	}
	return 0;
}

static int flush_deletes(struct delete_batch *b)
{
	struct s3_buf out = {.max = S3_XML_MAX};
	struct s3_query query[] = {{"delete", ""}};
	unsigned char md5[16];
	char md5b64[32], what[S3_QUOTE_MAX + 32], *body, *p;
	size_t cap = 128, len;
	struct delete_errors e = {0};
	int i, rc;

	if (b->n == 0)
		return 0;
	for (i = 0; i < b->n; i++)
		cap += 32 + strlen(b->keys[i]) * 6;
	body = malloc(cap);
	if (!body)
		return s3_fail(b->err, BERTH_E_NOMEM, "cannot remove '%s': out of memory", b->q);
	p = body;
	p += sprintf(p, "<Delete><Quiet>true</Quiet>");
	for (i = 0; i < b->n; i++) {
		p += sprintf(p, "<Object><Key>");
		xml_escape_add(&p, b->keys[i]);
		p += sprintf(p, "</Key></Object>");
	}
	p += sprintf(p, "</Delete>");
	len = (size_t)(p - body);
	/* DeleteObjects requires Content-MD5 on AWS. */
	EVP_Digest(body, len, md5, NULL, EVP_md5(), NULL);
	EVP_EncodeBlock((unsigned char *)md5b64, md5, 16);
	snprintf(what, sizeof(what), "cannot remove '%s'", b->q);
	{
		struct s3_header hdr[] = {{"content-md5", md5b64}, {"content-type", "application/xml"}};
		struct s3_request r;

		memset(&r, 0, sizeof(r));
		r.method = "POST";
		r.query = query;
		r.n_query = 1;
		r.headers = hdr;
		r.n_headers = 2;
		r.body = body;
		r.body_len = len;
		r.out = &out;
		rc = s3_perform(b->s, &r, what, b->err);
	}
	if (rc == 0 && out.data) {
		s3_xml_walk(out.data, out.len, delete_error_cb, &e);
		if (e.count)
			rc = s3_fail(b->err, BERTH_E_IO, "%s: %d objects were not deleted (%s)", what,
				     e.count, e.first);
	}
	free(body);
	s3_buf_free(&out);
	for (i = 0; i < b->n; i++)
		free(b->keys[i]);
	b->total += b->n;
	b->n = 0;
	return rc;
}

static int delete_entry(void *ctx, const char *name, int is_prefix, uint64_t size,
			 int64_t mtime_ms)
{
	struct delete_batch *b = ctx;

	(void)is_prefix;
	(void)size;
	(void)mtime_ms;
	/* Siblings sharing the name as a string prefix ("key-x") are not under it. */
	if (strncmp(name, b->okey, b->len) != 0 || (name[b->len] != '\0' && name[b->len] != '/'))
		return 0;
	b->keys[b->n] = strdup(name);
	if (!b->keys[b->n]) {
		b->rc = s3_fail(b->err, BERTH_E_NOMEM, "cannot remove '%s': out of memory", b->q);
		return 1;
	}
	b->n++;
	if (b->n == S3_DELETE_BATCH) {
		b->rc = flush_deletes(b);
		return b->rc != 0;
	}
	return 0;
}

static int delete_object(struct s3_state *s, const char *okey, const char *q, berth_error *err)
{
	struct s3_request r;
	char what[S3_QUOTE_MAX + 32];

	memset(&r, 0, sizeof(r));
	r.method = "DELETE";
	r.key = okey;
	snprintf(what, sizeof(what), "cannot remove '%s'", q);
	return s3_perform(s, &r, what, err);
}

/*
 * One listing with the key itself as prefix finds both the object and
 * everything under key/, then DeleteObjects removes them in batches: two
 * requests for the common case. S3 answers 204 to the delete of a missing
 * key, so the listing is also what tells NOT_FOUND.
 */
int s3_remove(void *state, const char *key, berth_error *err)
{
	struct s3_state *s = state;
	struct delete_batch *b = NULL;
	char q[S3_QUOTE_MAX + 8], *okey = NULL;
	int rc, i;

	rc = s3_key_check(key, 0, err);
	if (rc < 0)
		return rc;
	s3_quote(q, sizeof(q), key);
	b = calloc(1, sizeof(*b));
	okey = s3_object_key(s, key, 0);
	if (!b || !okey) {
		rc = s3_fail(err, BERTH_E_NOMEM, "cannot remove '%s': out of memory", q);
		goto out;
	}
	b->s = s;
	b->okey = okey;
	b->len = strlen(okey);
	b->q = q;
	b->err = err;
	rc = s3_list_raw(s, okey, 0, 0, delete_entry, b, q, err);
	if (rc == 0)
		rc = b->rc;
	if (rc == 0)
		rc = flush_deletes(b);
	if (rc == 0 && b->total == 0)
		rc = s3_fail(err, BERTH_E_NOT_FOUND, "cannot remove '%s': not found", q);
out:
	if (b)
		for (i = 0; i < b->n; i++)
			free(b->keys[i]);
	free(b);
	free(okey);
	return rc;
}

/* ------------------------------------------------------------------------ */

static int copy_object(struct s3_state *s, const char *from_okey, const char *etag,
		       const char *to_okey, const char *what, berth_error *err)
{
	struct s3_buf out = {.max = S3_XML_MAX};
	struct s3_request r;
	char *enc = s3_uri_encode(from_okey, 1), *src = NULL;
	int rc;

	src = enc ? s3_strdup_printf("/%s/%s", s->cfg.bucket, enc) : NULL;
	free(enc);
	if (!src)
		return s3_fail(err, BERTH_E_NOMEM, "%s: out of memory", what);
	{
		struct s3_header hdr[] = {{"x-amz-copy-source", src},
					  {"x-amz-copy-source-if-match", etag}};

		memset(&r, 0, sizeof(r));
		r.method = "PUT";
		r.key = to_okey;
		r.headers = hdr;
		r.n_headers = etag[0] ? 2 : 1;
		r.out = &out;
		rc = s3_perform(s, &r, what, err);
	}
	free(src);
	s3_buf_free(&out);
	return rc;
}

/*
 * Replace `to` with `from`: a server-side copy (one CopyObject, or a
 * multipart copy above copy_threshold), conditional on the source's ETag,
 * then the delete of `from`. The destination is replaced atomically; for a
 * moment both names exist, which the core allows (it moves only upload data
 * it holds exclusively).
 */
int s3_move(void *state, const char *from, const char *to, berth_error *err)
{
	struct s3_state *s = state;
	struct s3_multipart mp = {0};
	char qf[S3_QUOTE_MAX + 8], qt[S3_QUOTE_MAX + 8], etag[128], what[2 * S3_QUOTE_MAX + 48];
	char *from_okey = NULL;
	uint64_t size = 0;
	int rc;

	rc = s3_key_check(from, 0, err);
	if (rc == 0)
		rc = s3_key_check(to, 0, err);
	if (rc < 0)
		return rc;
	s3_quote(qf, sizeof(qf), from);
	s3_quote(qt, sizeof(qt), to);
	snprintf(what, sizeof(what), "cannot move '%s' to '%s'", qf, qt);
	from_okey = s3_object_key(s, from, 0);
	mp.okey = s3_object_key(s, to, 0);
	if (!from_okey || !mp.okey) {
		rc = s3_fail(err, BERTH_E_NOMEM, "%s: out of memory", what);
		goto out;
	}
	rc = s3_head(s, from_okey, qf, &size, etag, sizeof(etag), NULL, err);
	if (rc == BERTH_E_NOT_FOUND)
		rc = s3_fail(err, BERTH_E_NOT_FOUND, "%s: not found", what);
	if (rc != 0)
		goto out;
	if (size <= s->cfg.copy_threshold) {
		rc = copy_object(s, from_okey, etag, mp.okey, what, err);
	} else {
		rc = s3_mp_begin(s, &mp, qt, err);
		if (rc == 0)
			rc = s3_mp_copy_object(s, &mp, from_okey, etag, size, qt, err);
		if (rc == 0)
			rc = s3_mp_complete(s, &mp, qt, err);
		if (rc != 0)
			s3_mp_abort(s, &mp);
	}
	if (rc == 0)
		rc = delete_object(s, from_okey, qf, err);
out:
	s3_mp_free(&mp);
	free(from_okey);
	return rc;
}

/* ------------------------------------------------------------------------ */

int s3_redirect_url(void *state, const char *key, const char *method, char *url, size_t cap,
		    berth_error *err)
{
	struct s3_state *s = state;
	struct s3_header host = {"host", s->cfg.host};
	struct s3_sign sg;
	char q[S3_QUOTE_MAX + 8], date[17], *okey = NULL, *enc = NULL, *path = NULL, *qs = NULL;
	int rc = 0, n;

	if (!s->cfg.redirect)
		return s3_fail(err, BERTH_DECLINED, "redirects are off (config 'redirect')");
	rc = s3_key_check(key, 0, err);
	if (rc < 0)
		return rc;
	s3_quote(q, sizeof(q), key);
	if (!method || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0))
		return s3_fail(err, BERTH_DECLINED, "no redirect for %s", method ? method : "?");
	okey = s3_object_key(s, key, 0);
	enc = okey ? s3_uri_encode(okey, 1) : NULL;
	if (enc)
		path = s->cfg.path_style ? s3_strdup_printf("/%s/%s", s->cfg.bucket, enc)
					 : s3_strdup_printf("/%s", enc);
	if (!path) {
		rc = s3_fail(err, BERTH_E_NOMEM, "cannot sign a URL for '%s': out of memory", q);
		goto out;
	}
	s3_amz_date(s->host->now_ms() / 1000, date);
	sg = (struct s3_sign){
		.method = method, .host = s->cfg.host, .path = path, .headers = &host,
		.n_headers = 1, .payload_hash = "UNSIGNED-PAYLOAD", .amz_date = date,
		.region = s->cfg.region, .service = "s3", .access_key = s->cfg.access_key,
		.secret_key = s->cfg.secret_key,
	};
	qs = s3_presign_query(&sg, s->cfg.redirect_expiry_s, s->cfg.session_token);
	if (!qs) {
		rc = s3_fail(err, BERTH_E_NOMEM, "cannot sign a URL for '%s': out of memory", q);
		goto out;
	}
	n = snprintf(url, cap, "%s%s?%s", s->cfg.base_url,
		     s->cfg.path_style ? path + 1 + strlen(s->cfg.bucket) : path, qs);
	if (n < 0 || (size_t)n >= cap)
		rc = s3_fail(err, BERTH_E_RANGE, "cannot sign a URL for '%s': longer than %zu bytes",
			     q, cap);
out:
	free(qs);
	free(path);
	free(enc);
	free(okey);
	return rc;
}

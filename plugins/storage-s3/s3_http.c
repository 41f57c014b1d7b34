/*
 * s3_http.c - one signed S3 request over libcurl, with retries.
 *
 * Every request is signed with SigV4 and carries x-amz-content-sha256 (RGW
 * refuses requests without it); bodies are always in memory (a part at
 * most), so the real payload hash is signed. Transport failures, 5xx and
 * throttling (429, 503 SlowDown) are retried with exponential backoff and
 * jitter; everything else is answered at once. Idle easy handles are kept
 * in a small pool so connections are reused across requests.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "s3.h"

#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define S3_MAX_HEADERS 16
/* An error answer's body is read up to this much. */
#define S3_ERROR_BODY_MAX (64 * 1024)
#define S3_BACKOFF_MAX_MS 5000

struct transfer {
	struct s3_request *r;
	CURL *curl;
	struct s3_buf errbody;
	long status;
};

int s3_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : BERTH_E_INTERNAL;
}

void s3_buf_free(struct s3_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static int buf_add(struct s3_buf *b, const char *data, size_t n)
{
	if (b->len + n + 1 > b->max + 1)
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return -1;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static CURL *pool_take(struct s3_state *s)
{
	CURL *c = NULL;

	pthread_mutex_lock(&s->pool_lock);
	if (s->pool_len > 0)
		c = s->pool[--s->pool_len];
	pthread_mutex_unlock(&s->pool_lock);
	if (c)
		curl_easy_reset(c);
	else
		c = curl_easy_init();
	return c;
}

static void pool_give(struct s3_state *s, CURL *c, int healthy)
{
	if (healthy) {
		pthread_mutex_lock(&s->pool_lock);
		if (s->pool_len < s->cfg.max_idle) {
			s->pool[s->pool_len++] = c;
			c = NULL;
		}
		pthread_mutex_unlock(&s->pool_lock);
	}
	if (c)
		curl_easy_cleanup(c);
}

void s3_pool_free(struct s3_state *s)
{
	int i;

	for (i = 0; i < s->pool_len; i++)
		curl_easy_cleanup(s->pool[i]);
	s->pool_len = 0;
}

static void header_value(char *out, size_t cap, const char *v, size_t n)
{
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct transfer *t = ctx;
	struct s3_request *r = t->r;
	size_t n = size * nmemb;
	char v[256];

	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		/* A new answer (after 100 Continue, say): forget the last one's headers. */
		r->has_length = 0;
		r->etag[0] = '\0';
		r->mtime_ms = 0;
		return n;
	}
	if (n > 15 && strncasecmp(data, "content-length:", 15) == 0 && !r->has_length) {
		header_value(v, sizeof(v), data + 15, n - 15);
		r->content_length = strtoull(v, NULL, 10);
		r->has_length = 1;
	} else if (n > 14 && strncasecmp(data, "content-range:", 14) == 0) {
		const char *slash;

		header_value(v, sizeof(v), data + 14, n - 14);
		slash = strrchr(v, '/');
		if (slash && slash[1] != '*') {
			r->content_length = strtoull(slash + 1, NULL, 10);
			r->has_length = 2;
		}
	} else if (n > 5 && strncasecmp(data, "etag:", 5) == 0) {
		header_value(r->etag, sizeof(r->etag), data + 5, n - 5);
		s3_etag_unquote(r->etag);
	} else if (n > 14 && strncasecmp(data, "last-modified:", 14) == 0) {
		header_value(v, sizeof(v), data + 14, n - 14);
		r->mtime_ms = s3_parse_http_date(v);
	}
	return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct transfer *t = ctx;
	struct s3_request *r = t->r;
	size_t n = size * nmemb;

	if (!t->status)
		curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->status);
	if (t->status < 200 || t->status >= 300) {
		/* Keep the start of an error document; the rest is noise. */
		if (t->errbody.len < S3_ERROR_BODY_MAX)
			buf_add(&t->errbody, data,
				n < S3_ERROR_BODY_MAX - t->errbody.len ? n
								       : S3_ERROR_BODY_MAX - t->errbody.len);
		return n;
	}
	if (r->fixed) {
		if (n > r->fixed_cap - r->fixed_len) {
			r->overflow = 1;
			return 0;
		}
		memcpy(r->fixed + r->fixed_len, data, n);
		r->fixed_len += n;
	} else if (r->out) {
		if (buf_add(r->out, data, n) < 0) {
			r->overflow = 1;
			return 0;
		}
	}
	return n;
}

/* The path as signed and sent: bucket (path style) and the encoded key. */
static char *request_path(const struct s3_state *s, const char *key)
{
	char *enc = key ? s3_uri_encode(key, 1) : NULL, *out;

	if (key && !enc)
		return NULL;
	if (s->cfg.path_style)
		out = key ? s3_strdup_printf("/%s/%s", s->cfg.bucket, enc)
			  : s3_strdup_printf("/%s", s->cfg.bucket);
	else
		out = s3_strdup_printf("/%s", key ? enc : "");
	free(enc);
	return out;
}

static int retryable_status(long status)
{
	return status == 429 || status == 500 || status == 502 || status == 503 ||
	       status == 504;
}

/* Failures no retry can mend: the store's certificate, our own settings. */
static int config_failure(CURLcode c)
{
	return c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CACERT_BADFILE ||
	       c == CURLE_SSL_CERTPROBLEM || c == CURLE_UNSUPPORTED_PROTOCOL ||
	       c == CURLE_URL_MALFORMAT;
}

static void backoff(const struct s3_state *s, int attempt)
{
	long ms = s->cfg.retry_backoff_ms;
	struct timespec ts;

	while (attempt-- > 1 && ms < S3_BACKOFF_MAX_MS)
		ms *= 2;
	if (ms > S3_BACKOFF_MAX_MS)
		ms = S3_BACKOFF_MAX_MS;
	/* Up to half again, so nodes that failed together do not retry together. */
	ms += (long)((unsigned)rand() % (unsigned)(ms / 2 + 1));
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

static void reset_result(struct s3_request *r)
{
	r->status = 0;
	r->content_length = 0;
	r->has_length = 0;
	r->fixed_len = 0;
	r->overflow = 0;
	r->etag[0] = '\0';
	r->mtime_ms = 0;
	memset(&r->error, 0, sizeof(r->error));
	if (r->out)
		r->out->len = 0;
}

static struct curl_slist *build_headers(const struct s3_state *s, const struct s3_request *r,
					const char *auth, const char *hash, const char *date)
{
	struct curl_slist *list = NULL, *next;
	char line[2048];
	size_t i;
	int has_type = 0;

#define ADD(...)                                                    \
	do {                                                        \
		snprintf(line, sizeof(line), __VA_ARGS__);          \
		next = curl_slist_append(list, line);               \
		if (!next)                                          \
			goto fail;                                  \
		list = next;                                        \
	} while (0)
	ADD("Authorization: %s", auth);
	ADD("x-amz-content-sha256: %s", hash);
	ADD("x-amz-date: %s", date);
	if (s->cfg.session_token)
		ADD("x-amz-security-token: %s", s->cfg.session_token);
	for (i = 0; i < r->n_headers; i++) {
		if (strcmp(r->headers[i].name, "content-type") == 0)
			has_type = 1;
		ADD("%s: %s", r->headers[i].name, r->headers[i].value);
	}
	/* libcurl would wait for 100 Continue and label bodies as forms. */
	ADD("Expect:");
	if (!has_type)
		ADD("Content-Type:%s", r->body ? " application/octet-stream" : "");
#undef ADD
	return list;
fail:
	curl_slist_free_all(list);
	return NULL;
}

static void setup(const struct s3_state *s, CURL *c, struct transfer *t, const char *url,
		  const struct s3_request *r)
{
	long stall_s = s->cfg.stall_timeout_ms / 1000;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->cfg.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, stall_s > 0 ? stall_s : 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, s->cfg.tls_verify ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, s->cfg.tls_verify ? 2L : 0L);
	if (s->cfg.ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, s->cfg.ca_file);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
	if (strcmp(r->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
		if (r->body || strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)(r->body ? r->body_len : 0));
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
		}
	}
}

/* Fill err from a finished answer; returns the status code for it. */
static int answer_code(struct s3_state *s, struct s3_request *r, const char *what,
		       berth_error *err)
{
	const char *code = r->error.code[0] ? r->error.code : "";
	const char *msg = r->error.message[0] ? r->error.message : "";
	const char *sep = msg[0] ? ": " : "";
	int rc;

	switch (r->status) {
	case 404:
		if (strcmp(code, "NoSuchBucket") == 0) {
			rc = s3_fail(err, BERTH_E_IO, "%s: bucket '%s' does not exist at %s", what,
				     s->cfg.bucket, s->cfg.endpoint);
			s3_warn(s, "%s", err ? err->message : "bucket missing");
			return rc;
		}
		return s3_fail(err, BERTH_E_NOT_FOUND, "%s: not found", what);
	case 412:
		return s3_fail(err, BERTH_E_AGAIN, "%s: the object changed meanwhile", what);
	case 416:
		return s3_fail(err, BERTH_E_RANGE, "%s: range not satisfiable", what);
	case 401:
	case 403:
		rc = s3_fail(err, BERTH_E_IO,
			     "%s: the object store refused access (%ld %s%s%s): check the "
			     "credentials and the bucket's policy",
			     what, r->status, code[0] ? code : "Forbidden", sep, msg);
		break;
	default:
		rc = s3_fail(err, retryable_status(r->status) ? BERTH_E_AGAIN : BERTH_E_IO,
			     "%s: the object store answered %ld %s%s%s", what, r->status,
			     code[0] ? code : "(no error code)", sep, msg);
		break;
	}
	s3_warn(s, "%s", err ? err->message : "object store failure");
	return rc;
}

static int attempt(struct s3_state *s, struct s3_request *r, const char *url, const char *path,
		   const char *hash, CURLcode *cres, char *cerr, berth_error *err)
{
	struct s3_header h[S3_MAX_HEADERS + 4];
	struct transfer t;
	struct curl_slist *hl = NULL;
	struct s3_sign sg;
	char date[17], *auth = NULL;
	size_t n = 0, i;
	CURL *c = NULL;
	int rc = 0;

	memset(&t, 0, sizeof(t));
	t.r = r;
	t.errbody.max = S3_ERROR_BODY_MAX;
	reset_result(r);
	s3_amz_date(s->host->now_ms() / 1000, date);
	h[n++] = (struct s3_header){"host", s->cfg.host};
	h[n++] = (struct s3_header){"x-amz-content-sha256", hash};
	h[n++] = (struct s3_header){"x-amz-date", date};
	if (s->cfg.session_token)
		h[n++] = (struct s3_header){"x-amz-security-token", s->cfg.session_token};
	for (i = 0; i < r->n_headers && i < S3_MAX_HEADERS; i++)
		h[n++] = r->headers[i];
	sg = (struct s3_sign){
		.method = r->method, .host = s->cfg.host, .path = path, .query = r->query,
		.n_query = r->n_query, .headers = h, .n_headers = n, .payload_hash = hash,
		.amz_date = date, .region = s->cfg.region, .service = "s3",
		.access_key = s->cfg.access_key, .secret_key = s->cfg.secret_key,
	};
	auth = s3_authorization(&sg);
	c = pool_take(s);
	if (auth)
		hl = build_headers(s, r, auth, hash, date);
	if (!auth || !c || !hl) {
		rc = s3_fail(err, BERTH_E_NOMEM, "%s: out of memory", url);
		goto out;
	}
	t.curl = c;
	setup(s, c, &t, url, r);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	cerr[0] = '\0';
	*cres = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (t.errbody.len)
		s3_xml_error(t.errbody.data, t.errbody.len, &r->error);
	if (*cres == CURLE_OK && r->status >= 200 && r->status < 300 && r->out && r->out->len &&
	    s3_xml_error(r->out->data, r->out->len, &r->error) == 0)
		/* S3 may answer 200 and put the failure in the body (copy, complete). */
		r->status = 500;
out:
	if (c) {
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
		pool_give(s, c, rc == 0 && *cres == CURLE_OK);
	}
	curl_slist_free_all(hl);
	free(auth);
	s3_buf_free(&t.errbody);
	return rc;
}

int s3_perform(struct s3_state *s, struct s3_request *r, const char *what, berth_error *err)
{
	char hash[65], cerr[CURL_ERROR_SIZE], *path = NULL, *qs = NULL, *url = NULL;
	CURLcode cres = CURLE_OK;
	int tries, rc = 0;

	if (r->body)
		s3_sha256_hex(r->body, r->body_len, hash);
	else
		memcpy(hash, S3_EMPTY_SHA256, sizeof(hash));
	path = request_path(s, r->key);
	qs = s3_canonical_query(r->query, r->n_query);
	if (path && qs) {
		/* The base URL already holds the bucket in path style: drop it from path. */
		const char *rest = s->cfg.path_style ? path + 1 + strlen(s->cfg.bucket) : path;

		url = s3_strdup_printf("%s%s%s%s", s->cfg.base_url, rest, qs[0] ? "?" : "", qs);
	}
	if (!url) {
		rc = s3_fail(err, BERTH_E_NOMEM, "%s: out of memory", what);
		goto out;
	}
	for (tries = 0;; tries++) {
		rc = attempt(s, r, url, path, hash, &cres, cerr, err);
		if (rc != 0)
			goto out;
		if (cres == CURLE_WRITE_ERROR && r->overflow) {
			rc = BERTH_E_RANGE;
			goto out;
		}
		if (cres == CURLE_OK ? !retryable_status(r->status) : config_failure(cres))
			break;
		if (tries >= s->cfg.retries)
			break;
		backoff(s, tries + 1);
	}
	if (cres != CURLE_OK) {
		rc = s3_fail(err, config_failure(cres) ? BERTH_E_IO : BERTH_E_AGAIN,
			     "%s: cannot reach the object store at %s: %s", what, s->cfg.endpoint,
			     cerr[0] ? cerr : curl_easy_strerror(cres));
		s3_warn(s, "%s", err ? err->message : "object store unreachable");
	} else if (r->status < 200 || r->status >= 300) {
		rc = answer_code(s, r, what, err);
	}
out:
	free(url);
	free(qs);
	free(path);
	return rc;
}

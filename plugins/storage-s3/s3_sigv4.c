/*
 * s3_sigv4.c - AWS Signature Version 4: the Authorization header of a
 * request and the query of a presigned URL.
 *
 * Pure functions of their input (no clock, no I/O), so the unit test can
 * check them against the examples AWS publishes.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3.h"

#define S3_ALGORITHM "AWS4-HMAC-SHA256"

struct s3_pair {
	char *name;
	char *value;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct s3_pair *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

/* A growing string; a failed append leaves it NULL and later appends do nothing. */
struct sb {
	char *s;
	size_t len, cap;
	int oom;
};

static void sb_add(struct sb *b, const char *text, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 256);
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->s, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, text, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_str(struct sb *b, const char *text)
{
	sb_add(b, text, strlen(text));
}

static char *sb_take(struct sb *b)
{
	if (b->oom || !b->s) {
		free(b->s);
		return b->oom ? NULL : calloc(1, 1);
	}
	return b->s;
}

char *s3_canonical_query(const struct s3_query *q, size_t n)
{
	struct s3_pair *p = calloc(n ? n : 1, sizeof(*p));
	struct sb b = {0};
	size_t i, ok = 0;

	if (!p)
		return NULL;
	for (i = 0; i < n; i++) {
		p[i].name = s3_uri_encode(q[i].name, 0);
		p[i].value = s3_uri_encode(q[i].value ? q[i].value : "", 0);
		if (!p[i].name || !p[i].value)
			goto out;
	}
	qsort(p, n, sizeof(*p), pair_cmp);
	for (i = 0; i < n; i++) {
		if (i)
			sb_str(&b, "&");
		sb_str(&b, p[i].name);
		sb_str(&b, "=");
		sb_str(&b, p[i].value);
	}
	ok = 1;
out:
	for (i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
	if (!ok) {
		free(b.s);
		return NULL;
	}
	return sb_take(&b);
}

static int header_cmp(const void *a, const void *b)
{
	const struct s3_header *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* The value with leading and trailing blanks cut and inner runs of blanks made one space. */
static void sb_trimmed(struct sb *b, const char *v)
{
	int space = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = 1;
			continue;
		}
		if (space)
			sb_add(b, " ", 1);
		space = 0;
		sb_add(b, v, 1);
	}
}

char *s3_canonical_request(const struct s3_sign *in, char **signed_headers)
{
	struct s3_header *h = NULL;
	struct sb b = {0}, sh = {0};
	char *query = NULL;
	size_t i;

	*signed_headers = NULL;
	h = malloc((in->n_headers ? in->n_headers : 1) * sizeof(*h));
	query = s3_canonical_query(in->query, in->n_query);
	if (!h || !query)
		goto fail;
	memcpy(h, in->headers, in->n_headers * sizeof(*h));
	qsort(h, in->n_headers, sizeof(*h), header_cmp);
	sb_str(&b, in->method);
	sb_str(&b, "\n");
	sb_str(&b, in->path);
	sb_str(&b, "\n");
	sb_str(&b, query);
	sb_str(&b, "\n");
	for (i = 0; i < in->n_headers; i++) {
		sb_str(&b, h[i].name);
		sb_str(&b, ":");
		sb_trimmed(&b, h[i].value);
		sb_str(&b, "\n");
		if (i)
			sb_str(&sh, ";");
		sb_str(&sh, h[i].name);
	}
	sb_str(&b, "\n");
	if (!sh.s)
		sb_str(&sh, "");
	sb_str(&b, sh.s ? sh.s : "");
	sb_str(&b, "\n");
	sb_str(&b, in->payload_hash);
	if (b.oom || sh.oom)
		goto fail;
	free(h);
	free(query);
	*signed_headers = sh.s;
	return b.s;
fail:
	free(h);
	free(query);
	free(b.s);
	free(sh.s);
	return NULL;
}

static void hmac(const void *key, size_t klen, const char *data, unsigned char out[32])
{
	unsigned int n = 32;

	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)data, strlen(data), out, &n);
}

int s3_signature(const struct s3_sign *in, char out_hex[65], char **signed_headers)
{
	char date[9], scope[256], creq_hash[65], *creq, *sts, *kfirst;
	unsigned char k[32], sig[32];

	creq = s3_canonical_request(in, signed_headers);
	if (!creq)
		return BERTH_E_NOMEM;
	s3_sha256_hex(creq, strlen(creq), creq_hash);
	free(creq);
	memcpy(date, in->amz_date, 8);
	date[8] = '\0';
	snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date, in->region, in->service);
	sts = s3_strdup_printf(S3_ALGORITHM "\n%s\n%s\n%s", in->amz_date, scope, creq_hash);
	kfirst = s3_strdup_printf("AWS4%s", in->secret_key);
	if (!sts || !kfirst) {
		free(sts);
		free(kfirst);
		free(*signed_headers);
		*signed_headers = NULL;
		return BERTH_E_NOMEM;
	}
	hmac(kfirst, strlen(kfirst), date, k);
	OPENSSL_cleanse(kfirst, strlen(kfirst));
	free(kfirst);
	hmac(k, 32, in->region, k);
	hmac(k, 32, in->service, k);
	hmac(k, 32, "aws4_request", k);
	hmac(k, 32, sts, sig);
	OPENSSL_cleanse(k, sizeof(k));
	free(sts);
	s3_hex(sig, 32, out_hex);
	return 0;
}

char *s3_authorization(const struct s3_sign *in)
{
	char sig[65], *signed_headers = NULL, *out;

	if (s3_signature(in, sig, &signed_headers) != 0)
		return NULL;
	out = s3_strdup_printf(S3_ALGORITHM " Credential=%s/%.8s/%s/%s/aws4_request, "
			       "SignedHeaders=%s, Signature=%s",
			       in->access_key, in->amz_date, in->region, in->service,
			       signed_headers, sig);
	free(signed_headers);
	return out;
}

/*
 * The query string of a presigned URL: the request's own query plus the
 * X-Amz-* parameters, signed over the host header only, payload unsigned.
 */
char *s3_presign_query(const struct s3_sign *in, long expires_s, const char *session_token)
{
	struct s3_query *q;
	struct s3_sign s = *in;
	struct s3_header host = {"host", in->host};
	char cred[512], expires[24], sig[65], *signed_headers = NULL, *qs = NULL, *out = NULL;
	size_t n = 0, i;

	q = calloc(in->n_query + 6, sizeof(*q));
	if (!q)
		return NULL;
	for (i = 0; i < in->n_query; i++)
		q[n++] = in->query[i];
	snprintf(cred, sizeof(cred), "%s/%.8s/%s/%s/aws4_request", in->access_key, in->amz_date,
		 in->region, in->service);
	snprintf(expires, sizeof(expires), "%ld", expires_s);
	q[n++] = (struct s3_query){"X-Amz-Algorithm", S3_ALGORITHM};
	q[n++] = (struct s3_query){"X-Amz-Credential", cred};
	q[n++] = (struct s3_query){"X-Amz-Date", in->amz_date};
	q[n++] = (struct s3_query){"X-Amz-Expires", expires};
	if (session_token)
		q[n++] = (struct s3_query){"X-Amz-Security-Token", session_token};
	q[n++] = (struct s3_query){"X-Amz-SignedHeaders", "host"};
	s.query = q;
	s.n_query = n;
	s.headers = &host;
	s.n_headers = 1;
	s.payload_hash = "UNSIGNED-PAYLOAD";
	if (s3_signature(&s, sig, &signed_headers) != 0)
		goto out;
	qs = s3_canonical_query(q, n);
	if (qs)
		out = s3_strdup_printf("%s&X-Amz-Signature=%s", qs, sig);
out:
	free(signed_headers);
	free(qs);
	free(q);
	return out;
}

void s3_amz_date(int64_t now_s, char out[17])
{
	time_t t = (time_t)now_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

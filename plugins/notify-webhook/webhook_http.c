/*
 * webhook_http.c - one POST to the endpoint, with libcurl.
 *
 * One easy handle per sender thread, so a connection to the endpoint is
 * kept alive between events. Only http and https are spoken, redirects
 * are not followed (a redirected POST is a misconfigured URL, and following
 * it would send the signed body somewhere unconfigured), and a transfer is
 * abandoned as soon as the plugin stops. Proxies come from the environment
 * (HTTPS_PROXY, NO_PROXY ...) as for any libcurl program.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "webhook.h"

/* How much of an error answer a message quotes. */
#define REPLY_QUOTED 200

struct webhook_http {
	CURL *curl;
	const struct webhook_config *cfg;
	int (*abort_fn)(void *);
	void *abort_ctx;
	char reply[REPLY_QUOTED + 1];
	size_t reply_len;
	char curl_error[CURL_ERROR_SIZE];
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct webhook_http *h = ctx;
	size_t len = size * n;

	for (size_t i = 0; i < len && h->reply_len < REPLY_QUOTED; i++) {
		unsigned char c = (unsigned char)data[i];

		h->reply[h->reply_len++] = (char)(isprint(c) ? c : ' ');
	}
	h->reply[h->reply_len] = '\0';
	return len;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct webhook_http *h = ctx;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return h->abort_fn && h->abort_fn(h->abort_ctx) ? 1 : 0;
}

int webhook_http_new(const struct webhook_config *c, const char *user_agent,
		     int (*abort_fn)(void *), void *abort_ctx, struct webhook_http **out,
		     berth_error *err)
{
	struct webhook_http *h = calloc(1, sizeof(*h));
	CURLcode cc = CURLE_OK;

	*out = NULL;
	if (!h)
		return webhook_fail(err, BERTH_E_NOMEM, "out of memory");
	h->cfg = c;
	h->abort_fn = abort_fn;
	h->abort_ctx = abort_ctx;
	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h);
		return webhook_fail(err, BERTH_E_INTERNAL, "cannot create a libcurl handle");
	}
#define OPT(o, v)                                              \
	do {                                                   \
		if (cc == CURLE_OK)                            \
			cc = curl_easy_setopt(h->curl, o, v);  \
	} while (0)
	OPT(CURLOPT_URL, c->url);
	/* Signals belong to the server; libcurl must not use them for timeouts. */
	OPT(CURLOPT_NOSIGNAL, 1L);
	OPT(CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	OPT(CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
#if LIBCURL_VERSION_NUM >= 0x075500
	OPT(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	OPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	OPT(CURLOPT_FOLLOWLOCATION, 0L);
	OPT(CURLOPT_SSL_VERIFYPEER, c->tls_verify ? 1L : 0L);
	OPT(CURLOPT_SSL_VERIFYHOST, c->tls_verify ? 2L : 0L);
	if (c->ca_file)
		OPT(CURLOPT_CAINFO, c->ca_file);
	OPT(CURLOPT_USERAGENT, user_agent);
	OPT(CURLOPT_TCP_KEEPALIVE, 1L);
	OPT(CURLOPT_WRITEFUNCTION, on_body);
	OPT(CURLOPT_WRITEDATA, h);
	OPT(CURLOPT_NOPROGRESS, 0L);
	OPT(CURLOPT_XFERINFOFUNCTION, on_progress);
	OPT(CURLOPT_XFERINFODATA, h);
	OPT(CURLOPT_ERRORBUFFER, h->curl_error);
#undef OPT
	if (cc != CURLE_OK) {
		webhook_http_free(h);
		return webhook_fail(err, BERTH_E_INTERNAL, "libcurl refused an option: %s",
				    curl_easy_strerror(cc));
	}
	*out = h;
	return 0;
}

void webhook_http_free(struct webhook_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

static struct curl_slist *add_header(struct curl_slist *list, const char *line, int *bad)
{
	struct curl_slist *more;

	if (*bad)
		return list;
	more = curl_slist_append(list, line);
	if (!more) {
		*bad = 1;
		return list;
	}
	return more;
}

int webhook_http_post(struct webhook_http *h, const char *content_type, const char *body,
		      size_t len, const char *signature, berth_error *err)
{
	const struct webhook_config *c = h->cfg;
	struct curl_slist *headers = NULL;
	char line[256];
	long status = 0;
	CURLcode cc;
	int bad = 0, rc = 0;

	snprintf(line, sizeof(line), "Content-Type: %s", content_type);
	headers = add_header(headers, line, &bad);
	/* No 100-continue round trip: the body is small and already built. */
	headers = add_header(headers, "Expect:", &bad);
	if (signature) {
		char *sig = webhook_strf("%s: %s", c->signature_header, signature);

		if (!sig)
			bad = 1;
		else
			headers = add_header(headers, sig, &bad);
		free(sig);
	}
	for (size_t i = 0; i < c->n_headers; i++)
		headers = add_header(headers, c->headers[i], &bad);
	if (bad) {
		rc = webhook_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	h->reply_len = 0;
	h->reply[0] = '\0';
	h->curl_error[0] = '\0';
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
	cc = curl_easy_perform(h->curl);
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		rc = webhook_fail(err, BERTH_E_AGAIN, "stopped while sending");
		goto out;
	}
	if (cc != CURLE_OK) {
		/* libcurl's own buffer says more (the host, the port) when it has something. */
		rc = webhook_fail(err, BERTH_E_AGAIN, "%s",
				  h->curl_error[0] ? h->curl_error : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299)
		rc = webhook_fail(err, BERTH_E_AGAIN, "HTTP %ld%s%s", status,
				  h->reply_len ? ": " : "", h->reply);
out:
	/* The list is freed here: the handle must not keep a pointer to it. */
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	return rc;
}

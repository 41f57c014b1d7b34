/*
 * http.h - one HTTP request as the handlers see it, and the responses they
 * can give.
 *
 * libmicrohttpd calls the access handler several times per request: once
 * with the headers, once per piece of body, and once more at the end. The
 * dispatcher (http.c) turns that into three handler steps:
 *
 *   begin(req)            headers are known; answer now or accept a body
 *   body(req, data, len)  a piece of the body (only if begin accepted one)
 *   end(req)              the body is complete; answer
 *
 * Exactly one response is given per request. A handler that fails in body()
 * records the failure with http_fail(); the rest of the body is drained and
 * the failure becomes the response at the end.
 */
#ifndef BERTH_HTTP_H
#define BERTH_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "berth/error.h"
#include "berth/plugin.h"
#include "route.h"

typedef struct http_request http_request;

typedef int (*http_body_fn)(http_request *req, const char *data, size_t len);
typedef void (*http_end_fn)(http_request *req);
typedef void (*http_cleanup_fn)(http_request *req, int completed);

enum http_method {
	HTTP_OTHER = 0,
	HTTP_GET,
	HTTP_HEAD,
	HTTP_PUT,
	HTTP_POST,
	HTTP_PATCH,
	HTTP_DELETE
};

#define HTTP_MAX_ERRORS 4

struct http_request {
	struct MHD_Connection *conn;
	struct http_server *server;
	const char *method_name;
	const char *url;
	int method;
	route rt;
	int64_t start_us;
	char client[64];

	/* set by the handler's begin step */
	http_body_fn body;
	http_end_fn end;
	/* always called once when the request is over; completed is 0 when
	 * the client went away or the server gave up before the end step */
	http_cleanup_fn cleanup;
	/* called once, just before the response is queued: what a client may
	 * reuse as soon as it reads the answer is given back here, not in
	 * cleanup, which runs only after the response went out */
	void (*before_response)(http_request *req);
	void *state;

	/* The raw path hides a NUL or a '/' inside a segment (%00, %2F),
	 * which libmicrohttpd's decoded url cannot show faithfully: 1 when in
	 * the repository name, 2 when in the last segment (the reference). */
	int path_encoded_unsafe;

	/* who is asking: set by authentication (an empty name is anonymous) */
	berth_identity identity;
	int authenticated;     /* authentication ran */

	/* headers request hooks add to whatever response this request gets */
	char *extra_headers[2 * 8];
	int n_extra_headers;

	/* a plugin's own route, and the body it receives */
	const struct hook_route *plugin_route;
	char *body_buf;
	size_t body_len, body_cap;

	/* response bookkeeping */
	int begun;
	int responded;
	int status;
	uint64_t bytes_in;
	uint64_t bytes_out;
	const char *error_code;
	int upload_slot;         /* counted in client_limits until the response */
	int has_body;            /* Content-Length > 0 or Transfer-Encoding */
	char error_message[BERTH_ERROR_MESSAGE_MAX];  /* the first error's message */

	/* a failure recorded during the body */
	int failed;
	int fail_status;
	int fail_n;
	int fail_oci[HTTP_MAX_ERRORS];
	char fail_message[HTTP_MAX_ERRORS][BERTH_ERROR_MESSAGE_MAX];
	struct MHD_Response *fail_extra; /* headers to carry on the failure */
};

/* The same request as plugins see it (the berth_request of plugin.h). */
static inline berth_request *http_as_berth(http_request *req)
{
	return (berth_request *)(void *)req;
}
static inline http_request *http_from_berth(const berth_request *r)
{
	return (http_request *)(void *)(uintptr_t)r;
}
/* Add a header to the response (request hooks); copied. 0 or BERTH_E_TOO_MANY. */
int http_add_response_header(http_request *req, const char *name, const char *value);

/* Header and query lookups; NULL when absent. */
const char *http_header(http_request *req, const char *name);
const char *http_query(http_request *req, const char *name);
/* 1 and *n when the request declared a Content-Length; 0 when absent; -1 when malformed. */
int http_content_length(http_request *req, uint64_t *n);

/*
 * Responses. Each returns 0; a second response on one request is a bug and
 * is refused with a log line. `headers` is a NULL-terminated list of
 * name, value pairs, or NULL.
 */
int http_respond(http_request *req, int status, const char *content_type, const void *body,
		 size_t len, const char *const *headers);
/* Takes ownership of body (freed with free()). */
int http_respond_owned(http_request *req, int status, const char *content_type, void *body,
		       size_t len, const char *const *headers);
int http_respond_json(http_request *req, int status, json_t *doc, const char *content_type,
		      const char *const *headers);
/* Streams [offset, offset+len) of fd with sendfile and closes fd. */
int http_respond_fd(http_request *req, int status, const char *content_type, int fd,
		    uint64_t offset, uint64_t len, const char *const *headers);
/* Streams from the storage driver's read stream; closes it when done. */
int http_respond_stream(http_request *req, int status, const char *content_type, void *stream,
			uint64_t offset, uint64_t len, const char *const *headers);
/* A response with headers and no body that still says how long the body would be (HEAD). */
int http_respond_head(http_request *req, int status, const char *content_type, uint64_t len,
		      const char *const *headers);

/* The spec's error body: {"errors":[{"code","message","detail"}]}. */
int http_respond_error(http_request *req, int status, int oci, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int http_respond_error_headers(http_request *req, int status, int oci,
			       const char *const *headers, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Answer with a berth status: route-independent codes are mapped, the rest use fallback_oci/status. */
int http_respond_status(http_request *req, int berth_status, int fallback_status,
			int fallback_oci, const char *message);

/* Record a failure during the body; the response is sent at the end. */
void http_fail(http_request *req, int status, int oci, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void http_fail_add(http_request *req, int oci, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Send the recorded failure; extra headers may be given. */
int http_respond_failure(http_request *req, const char *const *headers);

/* The server. */
typedef struct http_server_options {
	const char *host;
	int port;
	unsigned threads;
	unsigned max_connections;
	unsigned connection_timeout_s;
	const char *tls_cert_pem;
	const char *tls_key_pem;
	int tls_min_version;    /* 12 or 13 */
	int access_log;
	unsigned max_requests;               /* in flight; past it 429 (0: no limit) */
	unsigned max_connections_per_client; /* 0: no limit */
	size_t max_header_size;              /* per-connection memory for the request head */
} http_server_options;

typedef struct http_server http_server;

int http_server_start(const http_server_options *opts, http_server **out, berth_error *err);
/* Stop accepting, wait for in-flight requests up to timeout_ms, then stop. */
void http_server_stop(http_server *srv, uint64_t timeout_ms);
/* The port actually bound (useful with port 0). */
int http_server_port(const http_server *srv);

#endif

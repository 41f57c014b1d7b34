#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client_limits.h"
#include "errors.h"
#include "hooks.h"
#include "log.h"
#include "range.h"
#include "registry.h"
#include "storage.h"

struct http_server {
	struct MHD_Daemon *daemon;
	int access_log;
	int port;
	atomic_long in_flight;
	unsigned max_requests;
	/* Set by http_server_stop: new connections are closed unanswered and
	 * every response says Connection: close. */
	atomic_int stopping;
};

/*
 * TLS 1.2 and 1.3 only; in 1.2 only forward-secret ECDHE key exchange and
 * AEAD ciphers (AES-GCM, ChaCha20-Poly1305): no RSA key transport, no CBC,
 * no SHA-1 MACs, which is what every current client offers anyway.
 */
#define TLS_PRIORITIES_12                                                              \
	"SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:"         \
	"+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-RSA:+ECDHE-ECDSA"
#define TLS_PRIORITIES_13 "SECURE128:-VERS-ALL:+VERS-TLS1.3"

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int method_id(const char *m)
{
	static const struct {
		const char *name;
		int id;
	} methods[] = {
		{"GET", HTTP_GET},     {"HEAD", HTTP_HEAD},   {"PUT", HTTP_PUT},
		{"POST", HTTP_POST},   {"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE},
	};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(m, methods[i].name) == 0)
			return methods[i].id;
	return HTTP_OTHER;
}

const char *http_header(http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

int http_content_length(http_request *req, uint64_t *n)
{
	const char *v = http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (!v)
		return 0;
	return parse_u64(v, n) == 0 ? 1 : -1;
}

static void add_headers(struct MHD_Response *resp, const char *const *headers)
{
	if (!headers)
		return;
	for (size_t i = 0; headers[i] && headers[i + 1]; i += 2)
		MHD_add_response_header(resp, headers[i], headers[i + 1]);
}

static int queue(http_request *req, int status, struct MHD_Response *resp,
		 const char *content_type, const char *const *headers, uint64_t len)
{
	if (!resp) {
		log_error("cannot create a response for %s %s", req->method_name, req->url);
		return BERTH_E_NOMEM;
	}
	if (req->responded) {
		log_error("second response for %s %s refused", req->method_name, req->url);
		MHD_destroy_response(resp);
		return BERTH_E_INTERNAL;
	}
	/* The body is in (or refused): the client may start its next upload. */
	if (req->upload_slot) {
		req->upload_slot = 0;
		client_uploads_leave(req->client);
	}
	if (req->before_response) {
		void (*fn)(http_request *) = req->before_response;
		req->before_response = NULL;
		fn(req);
	}
	MHD_add_response_header(resp, "Docker-Distribution-API-Version", "registry/2.0");
	for (int i = 0; i + 1 < req->n_extra_headers; i += 2)
		MHD_add_response_header(resp, req->extra_headers[i], req->extra_headers[i + 1]);
	if (content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	add_headers(resp, headers);
	/* Draining: the client's next request goes to a fresh connection,
	 * which a restarted or another instance answers. */
	if (req->server && atomic_load(&req->server->stopping))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	req->responded = 1;
	req->status = status;
	req->bytes_out = req->method == HTTP_HEAD ? 0 : len;
	if (MHD_queue_response(req->conn, (unsigned)status, resp) != MHD_YES)
		log_warn("cannot queue the response for %s %s", req->method_name, req->url);
	MHD_destroy_response(resp);
	return 0;
}

int http_add_response_header(http_request *req, const char *name, const char *value)
{
	char *n, *v;

	if (req->n_extra_headers + 2 > (int)(sizeof(req->extra_headers) / sizeof(req->extra_headers[0])))
		return BERTH_E_TOO_MANY;
	n = strdup(name);
	v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return BERTH_E_NOMEM;
	}
	req->extra_headers[req->n_extra_headers++] = n;
	req->extra_headers[req->n_extra_headers++] = v;
	return 0;
}

int http_respond(http_request *req, int status, const char *content_type, const void *body,
		 size_t len, const char *const *headers)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	return queue(req, status, resp, content_type, headers, len);
}

int http_respond_owned(http_request *req, int status, const char *content_type, void *body,
		       size_t len, const char *const *headers)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp)
		free(body);
	return queue(req, status, resp, content_type, headers, len);
}

int http_respond_json(http_request *req, int status, json_t *doc, const char *content_type,
		      const char *const *headers)
{
	char *text = json_dumps(doc, JSON_COMPACT);

	if (!text)
		return http_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
					  "cannot encode the response");
	return http_respond_owned(req, status, content_type ? content_type : "application/json",
				  text, strlen(text), headers);
}

int http_respond_fd(http_request *req, int status, const char *content_type, int fd,
		    uint64_t offset, uint64_t len, const char *const *headers)
{
	struct MHD_Response *resp =
		MHD_create_response_from_fd_at_offset64(len, fd, offset);
	if (!resp)
		close(fd);
	return queue(req, status, resp, content_type, headers, len);
}

typedef struct stream_reader {
	void *stream;
	uint64_t offset;
} stream_reader;

static ssize_t stream_read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	stream_reader *r = cls;
	berth_error err = {0};
	ssize_t n = storage_read_at(r->stream, r->offset + pos, buf, max, &err);

	if (n < 0) {
		log_error("storage read failed mid-response: %s", err.message);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return n;
}

static void stream_free_cb(void *cls)
{
	stream_reader *r = cls;

	storage_read_close(r->stream);
	free(r);
}

int http_respond_stream(http_request *req, int status, const char *content_type, void *stream,
			uint64_t offset, uint64_t len, const char *const *headers)
{
	stream_reader *r = malloc(sizeof(*r));
	struct MHD_Response *resp;

	if (!r) {
		storage_read_close(stream);
		return http_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
					  "out of memory");
	}
	r->stream = stream;
	r->offset = offset;
	resp = MHD_create_response_from_callback(len, 256 * 1024, stream_read_cb, r,
						 stream_free_cb);
	if (!resp)
		stream_free_cb(r);
	return queue(req, status, resp, content_type, headers, len);
}

static ssize_t empty_read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	return MHD_CONTENT_READER_END_OF_STREAM;
}

int http_respond_head(http_request *req, int status, const char *content_type, uint64_t len,
		      const char *const *headers)
{
	/* MHD never calls the reader for HEAD, but reports `len` as the
	 * Content-Length, which is what a HEAD must say. */
	struct MHD_Response *resp =
		MHD_create_response_from_callback(len, 4096, empty_read_cb, NULL, NULL);
	return queue(req, status, resp, content_type, headers, 0);
}

static int respond_errors(http_request *req, int status, int n, const int *oci,
			  char (*messages)[BERTH_ERROR_MESSAGE_MAX], const char *const *headers)
{
	json_t *errors = json_array();
	json_t *doc = json_object();
	int rc;

	for (int i = 0; i < n; i++) {
		json_t *e = json_object();
		json_object_set_new(e, "code", json_string(oci_error_name(oci[i])));
		json_object_set_new(e, "message",
				    json_string(messages[i][0] ? messages[i]
							       : oci_error_description(oci[i])));
		json_object_set_new(e, "detail", json_null());
		json_array_append_new(errors, e);
	}
	json_object_set_new(doc, "errors", errors);
	req->error_code = n > 0 ? oci_error_name(oci[0]) : NULL;
	if (n > 0)
		snprintf(req->error_message, sizeof(req->error_message), "%s",
			 messages[0][0] ? messages[0] : oci_error_description(oci[0]));
	rc = http_respond_json(req, status, doc, "application/json; charset=utf-8", headers);
	json_decref(doc);
	return rc;
}

__attribute__((format(printf, 5, 0)))
static int respond_error_v(http_request *req, int status, int oci, const char *const *headers,
			   const char *fmt, va_list ap)
{
	char msg[1][BERTH_ERROR_MESSAGE_MAX];

	vsnprintf(msg[0], sizeof(msg[0]), fmt, ap);
	/* jansson refuses invalid UTF-8; client bytes may end up in messages. */
	for (char *p = msg[0]; *p; p++)
		if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
			*p = '?';
	return respond_errors(req, status, 1, &oci, msg, headers);
}

int http_respond_error(http_request *req, int status, int oci, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = respond_error_v(req, status, oci, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

int http_respond_error_headers(http_request *req, int status, int oci,
			       const char *const *headers, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = respond_error_v(req, status, oci, headers, fmt, ap);
	va_end(ap);
	return rc;
}

int http_respond_status(http_request *req, int berth_status, int fallback_status,
			int fallback_oci, const char *message)
{
	int status = fallback_status, oci = fallback_oci;

	if (oci_error_for_status(berth_status, &status, &oci) && status >= 500)
		log_error("%s %s: %s", req->method_name, req->url, message);
	return http_respond_error(req, status, oci, "%s", message);
}

static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80 || (unsigned char)*s < 0x20)
			*s = '?';
}

void http_fail(http_request *req, int status, int oci, const char *fmt, ...)
{
	va_list ap;

	if (req->failed)
		return;
	req->failed = 1;
	req->fail_status = status;
	req->fail_n = 1;
	req->fail_oci[0] = oci;
	va_start(ap, fmt);
	vsnprintf(req->fail_message[0], sizeof(req->fail_message[0]), fmt, ap);
	va_end(ap);
	sanitize(req->fail_message[0]);
}

void http_fail_add(http_request *req, int oci, const char *fmt, ...)
{
	va_list ap;
	int i = req->fail_n;

	if (!req->failed || i >= HTTP_MAX_ERRORS)
		return;
	req->fail_oci[i] = oci;
	va_start(ap, fmt);
	vsnprintf(req->fail_message[i], sizeof(req->fail_message[i]), fmt, ap);
	va_end(ap);
	sanitize(req->fail_message[i]);
	req->fail_n++;
}

int http_respond_failure(http_request *req, const char *const *headers)
{
	if (req->fail_status >= 500)
		log_error("%s %s: %s", req->method_name, req->url, req->fail_message[0]);
	return respond_errors(req, req->fail_status, req->fail_n, req->fail_oci, req->fail_message,
			      headers);
}

/* ------------------------------------------------------------------------ */

static void client_address(struct MHD_Connection *conn, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(out, cap, "-");
	if (!ci || !ci->client_addr)
		return;
	if (ci->client_addr->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ci->client_addr;
		inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t)cap);
	} else if (ci->client_addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a =
			(const struct sockaddr_in6 *)(const void *)ci->client_addr;
		inet_ntop(AF_INET6, &a->sin6_addr, out, (socklen_t)cap);
	}
}

/*
 * libmicrohttpd shows this callback the request's raw URI before decoding
 * it; what it returns becomes the request's context. It is where the
 * request is born, and the only place that can see %00 and %2F, which the
 * decoded path would turn into a truncation or a path separator.
 */
static void *request_new(void *cls, const char *uri, struct MHD_Connection *conn)
{
	http_request *req = calloc(1, sizeof(*req));
	const char *end;

	if (!req || !uri)
		return req;
	end = strchr(uri, '?');
	if (!end)
		end = uri + strlen(uri);
	for (const char *p = uri; p < end; p++) {
		if (p[0] != '%' || end - p < 3)
			continue;
		if ((p[1] == '0' && p[2] == '0') || (p[1] == '2' && (p[2] == 'f' || p[2] == 'F'))) {
			const char *slash = memchr(p, '/', (size_t)(end - p));
			/* In the last segment it spoils the reference, else the name. */
			req->path_encoded_unsafe = slash ? 1 : 2;
			break;
		}
	}
	return req;
}

/* Does the request announce a body? */
static int announces_body(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
		return 1;
	return cl && strcmp(cl, "0") != 0;
}

/*
 * libmicrohttpd 0.9.75 watches sockets with edge-triggered epoll and, when
 * a recv() returns less than it asked for, takes the socket for drained
 * (connection.c, recv_param_adapter). A client's FIN that came in with the
 * last body bytes (an upload given up half-way) then raises no further
 * event, and the connection, its request and its upload would stay until
 * connection_timeout. After each body piece one recv(MSG_PEEK) tells
 * whether the peer has closed; only then a suspend and an immediate resume
 * make libmicrohttpd read the socket again, see the end of the stream and
 * finish or abort the request as poll() would have. A FIN that comes later
 * raises its own event.
 */
static void wake_if_peer_closed(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	char c;
	ssize_t n;

	if (!ci)
		return;
	n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		MHD_suspend_connection(conn);
		MHD_resume_connection(conn);
	}
}

static void begin(http_server *srv, http_request *req)
{
	req->begun = 1;
	/* Past the cap a clear 429 costs less than taking the request on. */
	long busy = atomic_load(&srv->in_flight) - 1;

	if (srv->max_requests && busy >= (long)srv->max_requests) {
		http_respond_error_headers(req, MHD_HTTP_TOO_MANY_REQUESTS, OCI_TOOMANYREQUESTS,
					   (const char *const[]){"Retry-After", "1", NULL},
					   "the registry is serving %ld requests, its limit is %u; retry "
					   "shortly",
					   busy, srv->max_requests);
		return;
	}
	registry_begin(req);
	if (!req->responded && !req->end)
		http_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				   "request was not handled");
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **con_cls)
{
	http_server *srv = cls;
	http_request *req = *con_cls;

	if (!req)
		return MHD_NO;
	if (!req->conn) {
		req->conn = conn;
		req->server = srv;
		req->url = url;
		req->method_name = method;
		req->method = method_id(method);
		req->start_us = now_us();
		client_address(conn, req->client, sizeof(req->client));
		atomic_fetch_add(&srv->in_flight, 1);
		/*
		 * A request with a body is routed now, so a bad name or a
		 * missing upload is refused before the body is read (MHD then
		 * closes the connection). One without a body is answered in the
		 * next call: answering in this one makes MHD close the
		 * connection, which would cost every keep-alive client a
		 * reconnect.
		 */
		req->has_body = announces_body(conn);
		if (req->has_body)
			begin(srv, req);
		return MHD_YES;
	}

	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		req->bytes_in += n;
		if (!req->responded && !req->failed && req->body)
			req->body(req, upload_data, n);
		wake_if_peer_closed(conn);
		return MHD_YES;
	}

	if (!req->begun)
		begin(srv, req);
	if (!req->responded) {
		if (req->failed)
			http_respond_failure(req, NULL);
		else if (req->end)
			req->end(req);
		if (!req->responded)
			http_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
					   "request was not answered");
	}
	return MHD_YES;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	http_server *srv = cls;
	http_request *req = *con_cls;

	if (!req)
		return;
	*con_cls = NULL;
	if (!req->conn) {
		/* Born in request_new, refused by libmicrohttpd before routing. */
		free(req);
		return;
	}
	if (req->cleanup)
		req->cleanup(req, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	if (req->upload_slot)
		client_uploads_leave(req->client);
	{
		int ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
		berth_request_result res = {
			.size = sizeof(res),
			.status = ok ? req->status : 499,
			.bytes_in = req->bytes_in,
			.bytes_out = ok ? req->bytes_out : 0,
			.duration_ms = (double)(now_us() - req->start_us) / 1000.0,
			.error_code = req->error_code,
			.error_message = req->error_code ? req->error_message : NULL,
		};
		hooks_request_after(req, &res);
		if (srv->access_log) {
			access_entry e = {
				.method = req->method_name,
				.path = req->url,
				.status = res.status,
				.bytes_in = res.bytes_in,
				.bytes_out = res.bytes_out,
				.duration_ms = res.duration_ms,
				.client = req->client,
				.error_code = req->error_code,
				.identity = req->identity.name[0] ? req->identity.name : NULL,
			};
			log_access(&e);
		}
	}
	for (int i = 0; i < req->n_extra_headers; i++)
		free(req->extra_headers[i]);
	free(req->body_buf);
	free(req);
	atomic_fetch_sub(&srv->in_flight, 1);
}

/*
 * Once stopping, libmicrohttpd closes each new connection as it accepts it.
 * MHD_quiesce_daemon would close the listening socket instead, but with the
 * epoll thread pool it races the pool threads, which remove the same socket
 * from their epoll sets, and libmicrohttpd 0.9.75 aborts the process when
 * it loses ("Failed to remove listen FD from epoll set").
 */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
	http_server *srv = cls;

	(void)addr;
	(void)len;
	return atomic_load(&srv->stopping) ? MHD_NO : MHD_YES;
}

__attribute__((format(printf, 2, 0)))
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	/* libmicrohttpd reports every malformed request, and clients probe
	 * loopback registries with TLS first: that is noise at info level. */
	log_debug("http: %s", msg);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len,
		   berth_error *err)
{
	struct addrinfo hints = {0}, *res = NULL;
	char portbuf[16];
	int rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	rc = getaddrinfo(host[0] ? host : NULL, portbuf, &hints, &res);
	if (rc != 0)
		return error_set(err, BERTH_E_CONFIG, "cannot resolve listen address '%s': %s",
				    host, gai_strerror(rc));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int http_server_start(const http_server_options *o, http_server **out, berth_error *err)
{
	http_server *srv = calloc(1, sizeof(*srv));
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	/*
	 * epoll: each pool thread waits only for its connections that are
	 * ready, where poll() walks all of them on every wake-up (the long
	 * tails at 128 and 256 connections). Suspend/resume is for the FIN
	 * that libmicrohttpd 0.9.75 misses in this mode (see wake_if_peer_closed).
	 */
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG;
	struct MHD_OptionItem opts[16];
	int n = 0;
	const union MHD_DaemonInfo *info;
	int rc;

	if (!srv)
		return error_set(err, BERTH_E_NOMEM, "out of memory");
	rc = resolve(o->host, o->port, &ss, &sslen, err);
	if (rc != 0)
		goto fail;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv->access_log = o->access_log;
	srv->max_requests = o->max_requests;

	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_logger, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, srv};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)request_new, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, o->threads, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, o->max_connections, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, o->connection_timeout_s,
					    NULL};
	/* The request head must fit this (libmicrohttpd answers 431 past it);
	 * the same buffer carries body pieces, so a larger one means fewer
	 * writes per push. */
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
					    o->max_header_size ? o->max_header_size : 64 * 1024, NULL};
	if (o->max_connections_per_client)
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
						    o->max_connections_per_client, NULL};
	if (o->tls_cert_pem) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			rc = error_set(err, BERTH_E_CONFIG,
					  "tls is configured but libmicrohttpd was built without TLS");
			goto fail;
		}
		flags |= MHD_USE_TLS;
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0,
						    (void *)o->tls_cert_pem};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0,
						    (void *)o->tls_key_pem};
		/* GnuTLS priorities: its SECURE128 suite set, and only the
		 * protocol versions the operator allows (never below 1.2). */
		opts[n++] = (struct MHD_OptionItem){
			MHD_OPTION_HTTPS_PRIORITIES, 0,
			(void *)(o->tls_min_version >= 13 ? TLS_PRIORITIES_13 : TLS_PRIORITIES_12)};
	}
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

	srv->daemon = MHD_start_daemon(flags, 0, accept_policy, srv, access_handler, srv,
				       MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!srv->daemon) {
		rc = error_set(err, BERTH_E_IO, "cannot listen on %s:%d: %s", o->host, o->port,
				  strerror(errno ? errno : EADDRINUSE));
		goto fail;
	}
	info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : o->port;
	*out = srv;
	return 0;
fail:
	free(srv);
	return rc;
}

int http_server_port(const http_server *srv)
{
	return srv->port;
}

void http_server_stop(http_server *srv, uint64_t timeout_ms)
{
	int64_t deadline = now_us() + (int64_t)timeout_ms * 1000;

	if (!srv)
		return;
	atomic_store(&srv->stopping, 1);
	while (atomic_load(&srv->in_flight) > 0 && now_us() < deadline) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&srv->in_flight) > 0)
		log_warn("shutdown: %ld request(s) still running after %llu ms; closing them",
			 (long)atomic_load(&srv->in_flight), (unsigned long long)timeout_ms);
	MHD_stop_daemon(srv->daemon);
	free(srv);
}

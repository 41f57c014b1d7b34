/*
 * prom_listener.c - the plugin's own HTTP listener for scrapes.
 *
 * A libmicrohttpd daemon of its own, apart from the registry's: scrapes
 * never take a registry worker, and the port can stay inside the cluster
 * while the registry faces clients. One internal polling thread serves
 * every scrape, one at a time, which is all Prometheus needs.
 *
 * The socket is bound here rather than by libmicrohttpd so a failure names
 * its real cause ("Address already in use") and stops the server at start.
 */
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prom.h"

/* Prometheus scrapes one connection at a time; a few more cover a second server and curl. */
#define LISTENER_MAX_CONNECTIONS 32
#define LISTENER_TIMEOUT_S 30
#define LISTENER_BACKLOG 64

BERTH_PRINTF(2, 0)
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct prom_state *st = cls;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	/* Malformed requests and port probes are noise above debug. */
	st->host->log(st->self, BERTH_LOG_DEBUG, "listener: %s", msg);
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status,
			      const char *content_type, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"berth-metrics\"");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct prom_state *st = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *page = NULL;
	size_t len = 0;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
			      "method not allowed\n");
	if (strcmp(url, st->cfg.path) != 0)
		return answer(conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
			      "not found\n");
	if (!prom_authorized(st, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_AUTHORIZATION)))
		return answer(conn, MHD_HTTP_UNAUTHORIZED, "text/plain; charset=utf-8",
			      "unauthorized\n");
	if (prom_render(st, &page, &len) < 0)
		return answer(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
			      "out of memory\n");
	/* MUST_FREE: libmicrohttpd frees the page with free() once it is sent. */
	r = MHD_create_response_from_buffer(len, page, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(page);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, PROM_CONTENT_TYPE);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static int open_socket(struct prom_state *st, int *out, berth_error *err)
{
	const struct prom_config *c = &st->cfg;
	int fd, one = 1, e;

	fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	/* A restart must not wait for the last run's connections in TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&c->addr, c->addr_len) < 0)
		goto fail;
	if (listen(fd, LISTENER_BACKLOG) < 0)
		goto fail;
	*out = fd;
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	return prom_fail(err, BERTH_E_IO, "cannot listen on %s: %s", c->listen, strerror(e));
}

/*
 * After a failed start, libmicrohttpd may or may not have closed the socket
 * it was given (it depends on how far it got). Close it only if the
 * descriptor still names that socket, never one another thread has opened
 * since under the same number.
 */
static void close_if_same(int fd, const struct stat *before)
{
	struct stat now;

	if (fstat(fd, &now) == 0 && now.st_dev == before->st_dev && now.st_ino == before->st_ino)
		close(fd);
}

int prom_listener_start(struct prom_state *st, berth_error *err)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG;
	struct stat sock;
	int fd = -1, rc;

	if (st->cfg.listen_off)
		return 0;
	rc = open_socket(st, &fd, err);
	if (rc < 0)
		return rc;
	if (fstat(fd, &sock) < 0) {
		rc = prom_fail(err, BERTH_E_IO, "cannot listen on %s: %s", st->cfg.listen,
			       strerror(errno));
		close(fd);
		return rc;
	}
	if (st->cfg.addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	st->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, st,
				      MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
				      MHD_OPTION_CONNECTION_LIMIT,
				      (unsigned)LISTENER_MAX_CONNECTIONS,
				      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)LISTENER_TIMEOUT_S,
				      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, st,
				      MHD_OPTION_END);
	if (!st->daemon) {
		close_if_same(fd, &sock);
		return prom_fail(err, BERTH_E_IO, "cannot listen on %s: the HTTP server did not start",
				 st->cfg.listen);
	}
	st->host->log(st->self, BERTH_LOG_INFO, "serving metrics on http://%s%s", st->cfg.listen,
		      st->cfg.path);
	if (!st->cfg.token && !st->cfg.addr_loopback)
		st->host->log(st->self, BERTH_LOG_WARN,
			      "%s is not a loopback address and no bearer_token is set: anyone "
			      "who reaches it can read the metrics", st->cfg.listen);
	return 0;
}

void prom_listener_stop(struct prom_state *st)
{
	if (!st->daemon)
		return;
	/* Waits for the scrape in progress; the daemon closes the socket it was given. */
	MHD_stop_daemon(st->daemon);
	st->daemon = NULL;
}

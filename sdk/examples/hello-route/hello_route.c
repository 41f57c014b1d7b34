/*
 * hello_route.c - a plugin that serves its own HTTP endpoints.
 *
 *   GET  /hello/v1/greet?name=x   {"greeting":"hello, x"}, for anybody
 *   POST /hello/v1/echo           the request body, back
 *
 * Routes live next to the registry API (never under /v2/). A public route
 * is served without asking the auth hooks, like a token endpoint or a
 * health check; any other route needs the access route:<path>:<method>,
 * so with an auth plugin loaded, /hello/v1/echo is for signed-in users.
 *
 *   plugins:
 *     - use: hello-route
 *
 * Try it:
 *   curl 'http://127.0.0.1:5000/hello/v1/greet?name=berth'
 *   curl --data-binary @file http://127.0.0.1:5000/hello/v1/echo
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/plugin.h>

/* Names longer than this are refused rather than greeted. */
#define NAME_MAX_BYTES 200
/* The host reads at most this much of an echo body before calling us. */
#define ECHO_MAX_BODY (64 * 1024)

BERTH_PRINTF(3, 4)
static int fail(berth_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return code;
}

/*
 * This plugin has no config and no state of its own, so its state is the
 * host table: that is all the handlers need. (The cast only drops const
 * to fit `void *`; nothing writes through it.)
 */
static int hello_create(const berth_host *host, const berth_instance *self,
			const berth_config *config, void **state, berth_error *err)
{
	(void)self;
	(void)config;
	if (!BERTH_HOST_HAS(host, respond))
		return fail(err, BERTH_E_UNSUPPORTED, "hello-route: this Berth is too old");
	*state = (void *)host;
	return 0;
}

/*
 * Append s to out as the inside of a JSON string; out has room for cap
 * bytes. The name comes straight from the query string: escape quotes,
 * backslashes and control characters, and refuse bytes above 0x7f rather
 * than check that they are UTF-8 (a real plugin would).
 */
static int json_escape(char *out, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x80)
			return -1;
		if (n + 6 >= cap)
			return -1;
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			out[n++] = '\\';
			out[n++] = 'u';
			out[n++] = '0';
			out[n++] = '0';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 0xf];
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	return 0;
}

/* GET /hello/v1/greet: public, see the route's flags below. */
static int greet(void *state, berth_request *req, berth_error *err)
{
	const berth_host *host = state;
	const char *name = host->request_query(req, "name");
	char escaped[NAME_MAX_BYTES * 6 + 1];
	char body[sizeof(escaped) + 64];
	int n;

	if (!name || !*name)
		name = "world";
	if (strlen(name) > NAME_MAX_BYTES)
		return fail(err, BERTH_E_INVALID, "name is longer than %d bytes", NAME_MAX_BYTES);
	if (json_escape(escaped, sizeof(escaped), name) < 0)
		return fail(err, BERTH_E_INVALID, "name must be ASCII");
	n = snprintf(body, sizeof(body), "{\"greeting\":\"hello, %s\"}\n", escaped);
	if (n < 0 || (size_t)n >= sizeof(body))
		return fail(err, BERTH_E_INTERNAL, "greeting does not fit");
	/* respond() copies the body: a stack buffer is fine. */
	return host->respond(req, 200, "application/json", body, (size_t)n);
}

/* A content type is echoed only when it cannot break the response header. */
static int header_value_ok(const char *v)
{
	if (!*v || strlen(v) > 200)
		return 0;
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || (unsigned char)*v >= 0x7f)
			return 0;
	return 1;
}

/* POST /hello/v1/echo: needs route:/hello/v1/echo:POST from the auth hooks. */
static int echo(void *state, berth_request *req, berth_error *err)
{
	const berth_host *host = state;
	const char *type = host->request_header(req, "Content-Type");
	size_t len = 0;
	const void *body = host->request_body(req, &len);

	(void)err;
	if (!type || !header_value_ok(type))
		type = "application/octet-stream";
	return host->respond(req, 200, type, body ? body : "", body ? len : 0);
}

/*
 * Routes are listed as a NULL-terminated array of pointers, so berth_route
 * can grow in a later ABI without breaking this array.
 */
static const berth_route greet_route = {
	.size = sizeof(berth_route),
	.method = "GET",
	.path = "/hello/v1/greet",
	.flags = BERTH_ROUTE_PUBLIC,
	.handle = greet,
};

static const berth_route echo_route = {
	.size = sizeof(berth_route),
	.method = "POST",
	.path = "/hello/v1/echo",
	.max_body = ECHO_MAX_BODY,
	.handle = echo,
};

static const berth_route *const hello_routes[] = { &greet_route, &echo_route, NULL };

static const berth_plugin hello_plugin = {
	BERTH_PLUGIN_HEADER,
	.name = "hello-route",
	.version = "0.1.0",
	.description = "serves GET /hello/v1/greet and POST /hello/v1/echo",
	.create = hello_create,
	.routes = hello_routes,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &hello_plugin;
}

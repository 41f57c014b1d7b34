/*
 * hello_request.c - a request hook: freeze repositories, log every request.
 *
 * The smallest useful request plugin. Its before() hook runs for every
 * request before authentication and routing, and refuses writes (PUT, POST,
 * PATCH, DELETE) to repositories whose name starts with a configured
 * prefix; reads keep working. Its after() hook logs one line per finished
 * request.
 *
 *   plugins:
 *     - use: hello-request
 *       config:
 *         frozen_prefix: "frozen/"
 *
 * Start reading at the descriptor at the bottom of the file: it is what
 * Berth sees first, and it names everything else.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/plugin.h>

/*
 * Every instance gets its own state from create(). Hooks run on many worker
 * threads at once, so the state is only read after create() returns; a
 * plugin that changes its state while serving needs a lock (or sets
 * BERTH_PLUGIN_SERIALIZED in its descriptor).
 */
struct hello_request {
	const berth_host *host;        /* valid for the life of the process */
	const berth_instance *self;    /* tags our log lines with the instance name */
	char *frozen_prefix;           /* our own copy: config strings are borrowed */
	size_t frozen_len;
};

/*
 * The config keys this plugin accepts. Berth checks the YAML against it
 * before create(), so create() never sees an unknown key or a wrong type.
 */
static const berth_config_key hello_schema[] = {
	{ .key = "frozen_prefix", .type = BERTH_CONFIG_STRING, .default_value = "frozen/",
	  .help = "writes to repositories whose name starts with this are refused" },
	{ .type = BERTH_CONFIG_END }
};

/* Fill the caller's error and return its code: `return fail(err, ...)`. */
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

static int hello_create(const berth_host *host, const berth_instance *self,
			const berth_config *config, void **state, berth_error *err)
{
	struct hello_request *h;
	const char *prefix;

	/*
	 * The host table only grows: check that what we call exists. A
	 * plugin built against a newer plugin.h may meet an older Berth.
	 */
	if (!BERTH_HOST_HAS(host, request_repository))
		return fail(err, BERTH_E_UNSUPPORTED, "hello-request: this Berth is too old");

	h = calloc(1, sizeof(*h));
	if (!h)
		return fail(err, BERTH_E_NOMEM, "hello-request: out of memory");
	h->host = host;
	h->self = self;
	prefix = host->config_string(config, "frozen_prefix");
	h->frozen_prefix = strdup(prefix ? prefix : "frozen/");
	if (!h->frozen_prefix) {
		free(h);
		return fail(err, BERTH_E_NOMEM, "hello-request: out of memory");
	}
	h->frozen_len = strlen(h->frozen_prefix);
	host->log(self, BERTH_LOG_INFO, "writes to repositories under '%s' are refused",
		  h->frozen_prefix);
	*state = h;
	return 0;
}

static void hello_destroy(void *state)
{
	struct hello_request *h = state;

	if (!h)
		return;
	free(h->frozen_prefix);
	free(h);
}

static int is_write(const char *method)
{
	return strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0 ||
	       strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0;
}

/*
 * Runs before Berth authenticates or routes the request. BERTH_DECLINED
 * lets the request go on; a negative code answers it now, and the client
 * sees err->message (`docker push` prints "denied: <message>").
 */
static int hello_before(void *state, berth_request *req, berth_error *err)
{
	struct hello_request *h = state;
	const berth_host *host = h->host;
	const char *method = host->request_method(req);
	const char *repo = host->request_repository(req);

	/* "" when the request names no repository (GET /v2/, a plugin route). */
	if (!method || !repo || !*repo || !is_write(method))
		return BERTH_DECLINED;
	if (strncmp(repo, h->frozen_prefix, h->frozen_len) != 0)
		return BERTH_DECLINED;
	return fail(err, BERTH_E_DENIED, "repository '%s' is frozen by hello-request", repo);
}

static const char *const route_names[] = {
	[BERTH_ROUTE_OTHER] = "other",
	[BERTH_ROUTE_BASE] = "base",
	[BERTH_ROUTE_CATALOG] = "catalog",
	[BERTH_ROUTE_TAGS] = "tags",
	[BERTH_ROUTE_MANIFEST] = "manifest",
	[BERTH_ROUTE_BLOB] = "blob",
	[BERTH_ROUTE_UPLOAD] = "upload",
	[BERTH_ROUTE_REFERRERS] = "referrers",
	[BERTH_ROUTE_PLUGIN] = "plugin",
	[BERTH_ROUTE_ADMIN] = "admin",
};

/* A newer Berth may route kinds this plugin has never heard of. */
static const char *route_name(int kind)
{
	if (kind < 0 || (size_t)kind >= sizeof(route_names) / sizeof(route_names[0]))
		return "other";
	return route_names[kind];
}

/*
 * Runs once the response is complete, on the worker thread that served
 * it: anything slow here slows the registry down. A real audit plugin
 * would hand the line to a queue instead.
 */
static void hello_after(void *state, const berth_request *req, const berth_request_result *res)
{
	struct hello_request *h = state;
	const berth_host *host = h->host;
	const char *method = host->request_method(req);
	const char *repo = host->request_repository(req);

	host->log(h->self, BERTH_LOG_INFO,
		  "%s %s repository=%s status=%d in=%llu out=%llu %.1fms%s%s",
		  method ? method : "?", route_name(host->request_route(req)),
		  repo && *repo ? repo : "-", res->status,
		  (unsigned long long)res->bytes_in, (unsigned long long)res->bytes_out,
		  res->duration_ms, res->error_code ? " error=" : "",
		  res->error_code ? res->error_code : "");
}

/*
 * Every table starts with its own size, so Berth can tell which fields a
 * plugin built against an older plugin.h knows about.
 */
static const berth_request_ops hello_request_ops = {
	.size = sizeof(berth_request_ops),
	.priority = 0,                 /* lower runs first; ties in declared order */
	.before = hello_before,
	.after = hello_after,
};

static const berth_plugin hello_plugin = {
	BERTH_PLUGIN_HEADER,           /* magic, size and ABI version: checked first */
	.name = "hello-request",
	.version = "0.1.0",
	.description = "refuses writes to frozen repositories and logs every request",
	.config_schema = hello_schema,
	.create = hello_create,
	.destroy = hello_destroy,
	.request = &hello_request_ops,
};

/*
 * The one exported symbol. It must do nothing but return the descriptor:
 * Berth calls it before it has checked that it can talk to this plugin.
 */
BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &hello_plugin;
}

#include "hooks.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errors.h"
#include "log.h"
#include "metrics.h"

#define HOOKS_MAX 64
#define ROUTES_MAX 256

typedef struct chain {
	plugin_instance *v[HOOKS_MAX];
	size_t n;
} chain;

static chain request_chain, auth_chain, scan_chain;
static hook_route routes[ROUTES_MAX];
static size_t n_routes;
static plugin_set *instances;
static berth_metric *auth_failures, *auth_denials;

/* Hooks of a serialized plugin never run concurrently. */
#define LOCKED(in, stmt)                                                \
	do {                                                            \
		int locked_ = ((in)->desc.flags & BERTH_PLUGIN_SERIALIZED) != 0; \
		if (locked_)                                            \
			pthread_mutex_lock(&(in)->serial);              \
		stmt;                                                   \
		if (locked_)                                            \
			pthread_mutex_unlock(&(in)->serial);            \
	} while (0)

/*
 * A hook's place in its chain: the priority the plugin declares in its
 * table, shifted by the instance's `priority:` in the configuration, so an
 * operator can reorder plugins without rebuilding them.
 */
static int priority_of(const plugin_instance *in, const chain *c)
{
	if (c == &request_chain)
		return in->request.priority + in->priority;
	if (c == &auth_chain)
		return in->auth.priority + in->priority;
	return in->priority;
}

/* Stable insertion: equal priorities keep declared order. */
static int chain_add(chain *c, plugin_instance *in, berth_error *err)
{
	size_t i;

	if (c->n == HOOKS_MAX)
		return error_set(err, BERTH_E_CONFIG, "more than %d plugins of one kind", HOOKS_MAX);
	i = c->n;
	while (i > 0 && priority_of(c->v[i - 1], c) > priority_of(in, c)) {
		c->v[i] = c->v[i - 1];
		i--;
	}
	c->v[i] = in;
	c->n++;
	return 0;
}


/* Segment-wise prefix test: "/a/b" is under "/a" but "/ab" is not. */
static int path_under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/*
 * The core serves /v2 and /berth; a plugin may own a folder of its own
 * under /berth/v1/ (e.g. /berth/v1/scans), which keeps every Berth API
 * under one prefix for proxies and firewalls.
 */
static int route_path_allowed(const char *path)
{
	static const char *const core_owned[] = {"/berth/v1/jobs", "/berth/v1/reports"};

	if (path_under(path, "/v2"))
		return 0;
	if (!path_under(path, "/berth"))
		return 1;
	if (strncmp(path, "/berth/v1/", 10) != 0 || path[10] == '\0' || path[10] == '/')
		return 0;
	for (size_t i = 0; i < sizeof(core_owned) / sizeof(core_owned[0]); i++)
		if (path_under(path, core_owned[i]))
			return 0;
	return 1;
}

static int route_add(plugin_instance *in, const berth_route *src, berth_error *err)
{
	hook_route *r;
	uint32_t size;

	memcpy(&size, src, sizeof(size));
	if (size < offsetof(berth_route, handle) + sizeof(src->handle))
		return error_set(err, BERTH_E_CONFIG, "plugin '%s': a route table is too small (%u bytes)",
				 in->name, size);
	if (n_routes == ROUTES_MAX)
		return error_set(err, BERTH_E_CONFIG, "more than %d plugin routes", ROUTES_MAX);
	r = &routes[n_routes];
	memset(r, 0, sizeof(*r));
	memcpy(&r->route, src, size < sizeof(r->route) ? size : sizeof(r->route));
	r->owner = in;
	if (!r->route.path || r->route.path[0] != '/' || !r->route.handle)
		return error_set(err, BERTH_E_CONFIG,
				 "plugin '%s': a route needs a path starting with '/' and a handler",
				 in->name);
	if (!route_path_allowed(r->route.path))
		return error_set(err, BERTH_E_CONFIG,
				 "plugin '%s': route '%s' is the core's: plugins may not use /v2, "
				 "/berth/ outside a folder of their own under /berth/v1/, "
				 "/berth/v1/jobs or /berth/v1/reports",
				 in->name, r->route.path);
	r->path_len = strlen(r->route.path);
	while (r->path_len > 1 && r->route.path[r->path_len - 1] == '/')
		r->path_len--;
	for (size_t i = 0; i < n_routes; i++) {
		const hook_route *o = &routes[i];
		int same_method = !o->route.method || !r->route.method ||
				  strcasecmp(o->route.method, r->route.method) == 0;
		if (!same_method || o->path_len != r->path_len ||
		    strncmp(o->route.path, r->route.path, r->path_len) != 0)
			continue;
		/* Instances of one plugin share its routes: the first declared
		 * serves them (and may hand a request to a sibling itself). */
		if (o->owner->desc.name && in->desc.name &&
		    strcmp(o->owner->desc.name, in->desc.name) == 0)
			return 0;
		return error_set(err, BERTH_E_CONFIG,
					 "plugin '%s': route %s %s is already served by '%s'",
					 in->name, r->route.method ? r->route.method : "*",
					 r->route.path, o->owner->name);
	}
	n_routes++;
	return 0;
}

void hooks_reset(void)
{
	instances = NULL;
	memset(&request_chain, 0, sizeof(request_chain));
	memset(&auth_chain, 0, sizeof(auth_chain));
	memset(&scan_chain, 0, sizeof(scan_chain));
	n_routes = 0;
}

int hooks_init(plugin_set *plugins, berth_error *err)
{
	int rc = 0;

	hooks_reset();
	instances = plugins;
	if (!auth_failures)
		auth_failures = metrics_register(
			"core", "berth_auth_failures_total",
			"Requests refused because their credentials were wrong.", BERTH_METRIC_COUNTER,
			NULL);
	if (!auth_denials)
		auth_denials = metrics_register(
			"core", "berth_auth_denials_total",
			"Accesses refused to an authenticated identity.", BERTH_METRIC_COUNTER, NULL);
	for (size_t i = 0; rc == 0 && i < plugins->n; i++) {
		plugin_instance *in = &plugins->v[i];
		if (in->desc.request)
			rc = chain_add(&request_chain, in, err);
		if (rc == 0 && in->desc.auth)
			rc = chain_add(&auth_chain, in, err);
		if (rc == 0 && in->desc.scan)
			rc = chain_add(&scan_chain, in, err);
		for (size_t k = 0; rc == 0 && in->desc.routes && in->desc.routes[k]; k++)
			rc = route_add(in, in->desc.routes[k], err);
	}
	return rc;
}

int hooks_have_auth(void)
{
	return auth_chain.n > 0;
}

/* Answer a request refused by a plugin with the OCI error its code means. */
static void respond_refusal(http_request *req, int code, const char *who, const char *message)
{
	int status = MHD_HTTP_FORBIDDEN, oci = OCI_DENIED;

	if (!oci_error_for_status(code, &status, &oci)) {
		status = MHD_HTTP_FORBIDDEN;
		oci = OCI_DENIED;
	}
	if (status >= 500)
		log_error("plugin '%s' failed %s %s: %s", who, req->method_name, req->url, message);
	http_respond_error(req, status, oci, "%s", message[0] ? message : oci_error_description(oci));
}

static void respond_unauthorized(http_request *req, const berth_access *acc, size_t n,
				 const char *message);

int hooks_request_before(http_request *req)
{
	for (size_t i = 0; i < request_chain.n; i++) {
		plugin_instance *in = request_chain.v[i];
		berth_error err = {0};
		int rc;

		if (!in->request.before)
			continue;
		LOCKED(in, rc = in->request.before(in->state, http_as_berth(req), &err));
		if (rc == BERTH_DECLINED || rc == BERTH_OK || req->responded) {
			if (req->responded)
				return 1;
			continue;
		}
		if (rc == BERTH_E_UNAUTHORIZED)
			respond_unauthorized(req, NULL, 0, err.message);
		else
			respond_refusal(req, rc, in->name, err.message);
		return 1;
	}
	return 0;
}

void hooks_request_after(http_request *req, const berth_request_result *res)
{
	for (size_t i = 0; i < request_chain.n; i++) {
		plugin_instance *in = request_chain.v[i];
		if (in->request.after)
			LOCKED(in, in->request.after(in->state, http_as_berth(req), res));
	}
}

static void challenge(http_request *req, const berth_access *acc, size_t n, char *out, size_t cap)
{
	for (size_t i = 0; i < auth_chain.n; i++) {
		plugin_instance *in = auth_chain.v[i];
		int rc;
		if (!in->auth.challenge)
			continue;
		out[0] = '\0';
		LOCKED(in, rc = in->auth.challenge(in->state, http_as_berth(req), acc, n, out, cap));
		if (rc == 0 && out[0]) {
			out[cap - 1] = '\0';
			return;
		}
	}
	snprintf(out, cap, "Basic realm=\"berth\"");
}

static void respond_unauthorized(http_request *req, const berth_access *acc, size_t n,
				 const char *message)
{
	char value[1024];

	challenge(req, acc, n, value, sizeof(value));
	http_respond_error_headers(req, MHD_HTTP_UNAUTHORIZED, OCI_UNAUTHORIZED,
				   (const char *const[]){"WWW-Authenticate", value, NULL}, "%s",
				   message && message[0] ? message : "authentication required");
}

/*
 * Who the request is. quiet: ask without answering the client (for
 * hooks_allowed); a failure then leaves the request unauthenticated so the
 * core's own check later answers it properly.
 */
static int authenticate(http_request *req, const berth_access *acc, size_t n, int quiet)
{
	req->authenticated = 1;
	memset(&req->identity, 0, sizeof(req->identity));
	req->identity.size = sizeof(req->identity);
	for (size_t i = 0; i < auth_chain.n; i++) {
		plugin_instance *in = auth_chain.v[i];
		berth_identity id = {.size = sizeof(id)};
		berth_error err = {0};
		int rc;

		if (!in->auth.authenticate)
			continue;
		LOCKED(in, rc = in->auth.authenticate(in->state, http_as_berth(req), &id, &err));
		if (rc == BERTH_DECLINED)
			continue;
		if (rc == 0) {
			id.name[sizeof(id.name) - 1] = '\0';
			id.groups[sizeof(id.groups) - 1] = '\0';
			snprintf(id.provider, sizeof(id.provider), "%s", in->name);
			req->identity = id;
			return 0;
		}
		if (quiet) {
			req->authenticated = 0;
			return -1;
		}
		if (rc == BERTH_E_UNAUTHORIZED) {
			metrics_add(auth_failures, NULL, 1);
			log_info("authentication failed for %s %s from %s: %s", req->method_name,
				 req->url, req->client, err.message);
			respond_unauthorized(req, acc, n, err.message);
		} else {
			respond_refusal(req, rc, in->name, err.message);
		}
		return -1;
	}
	return 0;
}

/* The first definite answer of the chain for one access (BERTH_DECLINED when none). */
static int authorize_one(http_request *req, const berth_access *acc, berth_error *err)
{
	int rc = BERTH_DECLINED;

	for (size_t i = 0; i < auth_chain.n; i++) {
		plugin_instance *in = auth_chain.v[i];
		if (!in->auth.authorize)
			continue;
		LOCKED(in, rc = in->auth.authorize(in->state, http_as_berth(req), &req->identity,
						   acc, err));
		if (rc != BERTH_DECLINED)
			break;
	}
	return rc;
}

int hooks_allowed(http_request *req, const berth_access *acc)
{
	berth_error err = {0};

	if (auth_chain.n == 0)
		return 1;
	if (!req || !acc || !acc->type || !acc->name || !acc->action)
		return 0;
	if (!req->authenticated && authenticate(req, acc, 1, 1) < 0)
		return 0;
	return authorize_one(req, acc, &err) == 0;
}

int hooks_authorize(http_request *req, const berth_access *acc, size_t n)
{
	if (auth_chain.n == 0)
		return 0;
	if (!req->authenticated && authenticate(req, acc, n, 0) < 0)
		return -1;
	for (size_t a = 0; a < n; a++) {
		berth_error err = {0};
		int rc = authorize_one(req, &acc[a], &err);

		if (rc == 0)
			continue;
		if (rc != BERTH_DECLINED && rc != BERTH_E_DENIED && rc != BERTH_E_UNAUTHORIZED) {
			respond_refusal(req, rc, "auth", err.message);
			return -1;
		}
		if (!req->identity.name[0] || rc == BERTH_E_UNAUTHORIZED) {
			respond_unauthorized(req, acc, n, err.message);
			return -1;
		}
		metrics_add(auth_denials, NULL, 1);
		log_info("denied %s:%s:%s to '%s' from %s", acc[a].type, acc[a].name, acc[a].action,
			 req->identity.name, req->client);
		http_respond_error(req, MHD_HTTP_FORBIDDEN, OCI_DENIED, "%s",
				   err.message[0] ? err.message
						  : "requested access to the resource is denied");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */

const hook_route *hooks_find_route(const char *path, const char *method, int *wrong_method)
{
	const hook_route *best = NULL;
	size_t len = strlen(path);

	*wrong_method = 0;
	for (size_t i = 0; i < n_routes; i++) {
		const hook_route *r = &routes[i];
		if (len < r->path_len || strncmp(path, r->route.path, r->path_len) != 0)
			continue;
		if (len > r->path_len && path[r->path_len] != '/' && r->path_len > 1)
			continue;
		if (r->route.method && strcasecmp(r->route.method, method) != 0) {
			*wrong_method = 1;
			continue;
		}
		if (!best || r->path_len > best->path_len)
			best = r;
	}
	if (best)
		*wrong_method = 0;
	return best;
}

void hooks_route_handle(http_request *req, const hook_route *r)
{
	plugin_instance *in = r->owner;
	berth_error err = {0};
	int rc;

	LOCKED(in, rc = r->route.handle(in->state, http_as_berth(req), &err));
	if (req->responded)
		return;
	if (rc < 0) {
		int status = MHD_HTTP_BAD_REQUEST, oci = OCI_UNSUPPORTED;
		if (rc == BERTH_E_NOT_FOUND) {
			status = MHD_HTTP_NOT_FOUND;
			oci = OCI_NAME_UNKNOWN;
		}
		http_respond_status(req, rc, status, oci,
				    err.message[0] ? err.message : "the plugin refused the request");
		return;
	}
	log_error("plugin '%s': route %s gave no answer", in->name, r->route.path);
	http_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
			   "the plugin route gave no answer");
}

/* ------------------------------------------------------------------------ */

int hooks_scan_gate(http_request *req, const berth_manifest *m, berth_error *err)
{
	for (size_t i = 0; i < scan_chain.n; i++) {
		plugin_instance *in = scan_chain.v[i];
		int rc;
		if (!in->scan.gate)
			continue;
		err->message[0] = '\0';
		LOCKED(in, rc = in->scan.gate(in->state, req ? http_as_berth(req) : NULL, m, err));
		if (rc == 0 || rc == BERTH_DECLINED)
			continue;
		if (!err->message[0])
			snprintf(err->message, sizeof(err->message),
				 "manifest %s is blocked by policy '%s'", m->digest, in->name);
		err->code = rc;
		log_info("pull of %s@%s blocked by '%s': %s", m->repository, m->digest, in->name,
			 err->message);
		return rc;
	}
	return 0;
}

void hooks_scan_on_push(const berth_manifest *m)
{
	for (size_t i = 0; i < scan_chain.n; i++) {
		plugin_instance *in = scan_chain.v[i];
		if (in->scan.on_push)
			LOCKED(in, in->scan.on_push(in->state, m));
	}
}

int hooks_scan_report(const char *repository, const char *manifest_digest, char **out, size_t *len,
		      berth_error *err)
{
	for (size_t i = 0; i < scan_chain.n; i++) {
		plugin_instance *in = scan_chain.v[i];
		size_t cap = 64 * 1024, need = 0;
		char *buf = NULL;
		int rc = BERTH_E_RANGE;

		if (!in->scan.report)
			continue;
		/* Ask with a modest buffer, then once more with what it needs. */
		for (int attempt = 0; attempt < 2 && rc == BERTH_E_RANGE; attempt++) {
			char *nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				return error_set(err, BERTH_E_NOMEM, "out of memory");
			}
			buf = nb;
			need = 0;
			LOCKED(in, rc = in->scan.report(in->state, repository, manifest_digest, buf, cap, &need,
							 err));
			if (rc == BERTH_E_RANGE)
				cap = need > cap && need < 64u * 1024 * 1024 ? need : cap;
		}
		if (rc == 0 && need <= cap) {
			buf[need] = '\0';
			*out = buf;
			*len = need;
			return 0;
		}
		free(buf);
		if (rc != BERTH_E_NOT_FOUND && rc != BERTH_DECLINED && rc != BERTH_E_RANGE)
			return rc;
	}
	return error_set(err, BERTH_E_NOT_FOUND, "no scan report for %s@%s", repository, manifest_digest);
}

void hooks_instances_foreach(void (*fn)(void *ctx, const char *instance, const char *plugin,
					const char *version, unsigned kinds),
			     void *ctx)
{
	if (!fn || !instances)
		return;
	for (size_t i = 0; i < instances->n; i++)
		fn(ctx, instances->v[i].name, instances->v[i].desc.name,
		   instances->v[i].desc.version ? instances->v[i].desc.version : "",
		   instances->v[i].kinds);
}

void hooks_print_order(FILE *out)
{
	fprintf(out, "request hooks:");
	for (size_t i = 0; i < request_chain.n; i++)
		fprintf(out, "%s %s(%d)", i ? "," : "", request_chain.v[i]->name,
			priority_of(request_chain.v[i], &request_chain));
	fprintf(out, "%s\nauth hooks:", request_chain.n ? "" : " none");
	for (size_t i = 0; i < auth_chain.n; i++)
		fprintf(out, "%s %s(%d)", i ? "," : "", auth_chain.v[i]->name,
			priority_of(auth_chain.v[i], &auth_chain));
	fprintf(out, "%s\nscan hooks:", auth_chain.n ? "" : " none");
	for (size_t i = 0; i < scan_chain.n; i++)
		fprintf(out, "%s %s", i ? "," : "", scan_chain.v[i]->name);
	fprintf(out, "%s\nroutes:", scan_chain.n ? "" : " none");
	for (size_t i = 0; i < n_routes; i++)
		fprintf(out, "%s %s %s (%s)", i ? "," : "",
			routes[i].route.method ? routes[i].route.method : "*", routes[i].route.path,
			routes[i].owner->name);
	fprintf(out, "%s\n", n_routes ? "" : " none");
}

/*
 * audit_probe.c - a plugin the audit-log integration tests load beside
 * audit-log, to make acts that the SDK examples cannot:
 *
 *   - an auth hook that refuses push and delete on repositories under
 *     locked/ to every identity (a 403 DENIED for a known user), and
 *     declines everything else, so the next auth plugin (hello-auth)
 *     decides;
 *   - a public route, GET /audit-probe/login?account=NAME&ok=0|1, that
 *     emits "login" or "login.failed" through host->emit_request_event as
 *     a token endpoint does, with a detail holding a reason or the scopes,
 *     and a "password" query parameter it never uses.
 *
 *   plugins:
 *     - use: audit-log-probe
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/plugin.h>

struct probe {
	const berth_host *host;
	const berth_instance *self;
};

static int probe_create(const berth_host *host, const berth_instance *self,
			const berth_config *config, void **state, berth_error *err)
{
	struct probe *p;

	(void)config;
	if (!BERTH_HOST_HAS(host, emit_request_event)) {
		err->code = BERTH_E_UNSUPPORTED;
		snprintf(err->message, sizeof(err->message), "this Berth has no emit_request_event");
		return BERTH_E_UNSUPPORTED;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		err->code = BERTH_E_NOMEM;
		snprintf(err->message, sizeof(err->message), "out of memory");
		return BERTH_E_NOMEM;
	}
	p->host = host;
	p->self = self;
	*state = p;
	return 0;
}

static void probe_destroy(void *state)
{
	free(state);
}

static int probe_authorize(void *state, const berth_request *req, const berth_identity *id,
			   const berth_access *access, berth_error *err)
{
	(void)state;
	(void)req;
	(void)id;
	if (!access->type || strcmp(access->type, "repository") != 0 || !access->name ||
	    strncmp(access->name, "locked/", 7) != 0 || !access->action ||
	    strcmp(access->action, "pull") == 0)
		return BERTH_DECLINED;
	err->code = BERTH_E_DENIED;
	snprintf(err->message, sizeof(err->message), "repository '%s' is locked", access->name);
	return BERTH_E_DENIED;
}

static int probe_login(void *state, berth_request *req, berth_error *err)
{
	struct probe *p = state;
	const berth_host *h = p->host;
	const char *account = h->request_query(req, "account");
	const char *ok = h->request_query(req, "ok");
	int rc;

	(void)err;
	if (ok && strcmp(ok, "1") == 0)
		rc = h->emit_request_event(p->self, req, account, "login", NULL, NULL, NULL,
					   "{\"scopes\":[\"repository:team/app:pull,push\"]}");
	else
		rc = h->emit_request_event(p->self, req, account, "login.failed", NULL, NULL, NULL,
					   "{\"reason\":\"invalid username or password\"}");
	if (rc < 0)
		return h->respond(req, 500, "text/plain", "emit failed\n", 12);
	return h->respond(req, 200, "text/plain", "ok\n", 3);
}

static const berth_auth_ops probe_auth_ops = {
	.size = sizeof(berth_auth_ops),
	/* Before hello-auth, which lets its user do everything. */
	.priority = -10,
	.authorize = probe_authorize,
};

static const berth_route probe_login_route = {
	.size = sizeof(berth_route),
	.method = "GET",
	.path = "/audit-probe/login",
	.flags = BERTH_ROUTE_PUBLIC,
	.max_body = 1024,
	.handle = probe_login,
};

static const berth_route *const probe_routes[] = {&probe_login_route, NULL};

static const berth_plugin probe_plugin = {
	BERTH_PLUGIN_HEADER,
	.name = "audit-log-probe",
	.version = "0.1.0",
	.description = "test plugin: refuses writes to locked/*, emits login events",
	.create = probe_create,
	.destroy = probe_destroy,
	.auth = &probe_auth_ops,
	.routes = probe_routes,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &probe_plugin;
}

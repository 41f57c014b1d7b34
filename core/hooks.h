/*
 * hooks.h - running the plugins' request, auth and scan hooks and routes.
 *
 * hooks_init() orders each chain once at start (priority, then declared
 * order), so a request only walks short arrays. A plugin declared
 * BERTH_PLUGIN_SERIALIZED is called under its instance lock.
 */
#ifndef BERTH_HOOKS_H
#define BERTH_HOOKS_H

#include <stdio.h>

#include "berth/plugin.h"
#include "http.h"
#include "plugin_loader.h"

typedef struct hook_route {
	berth_route route;        /* copied up to min(plugin size, host size) */
	plugin_instance *owner;
	size_t path_len;
} hook_route;

int hooks_init(plugin_set *plugins, berth_error *err);
void hooks_reset(void);

/* 1 when at least one auth plugin is loaded. */
int hooks_have_auth(void);

/* Request hooks. before() returns 1 when a hook answered the request. */
int hooks_request_before(http_request *req);
void hooks_request_after(http_request *req, const berth_request_result *res);

/*
 * Authenticate the request (once) and authorize every access. Returns 0
 * when allowed; otherwise the request has been answered (401 with a
 * challenge, or 403) and the return is negative.
 */
int hooks_authorize(http_request *req, const berth_access *accesses, size_t n);
/* 1 when the request may do `access` (host->allowed); answers nothing to the client. */
int hooks_allowed(http_request *req, const berth_access *access);

/* The plugin route serving path and method; *wrong_method is set when only the method differs. */
const hook_route *hooks_find_route(const char *path, const char *method, int *wrong_method);
/* Call a route's handler and make sure the request gets an answer. */
void hooks_route_handle(http_request *req, const hook_route *r);

/* Scan hooks. gate() returns 0 to serve, BERTH_E_DENIED (err filled) to refuse. */
int hooks_scan_gate(http_request *req, const berth_manifest *m, berth_error *err);
void hooks_scan_on_push(const berth_manifest *m);
/* The first report a scan plugin has, malloc'd; BERTH_E_NOT_FOUND when none. */
int hooks_scan_report(const char *repository, const char *manifest_digest, char **out, size_t *len,
		      berth_error *err);

/* The host service instances_foreach, over the set hooks_init() was given. */
void hooks_instances_foreach(void (*fn)(void *ctx, const char *instance, const char *plugin,
					const char *version, unsigned kinds),
			     void *ctx);

/* Print the chains in the order they run (for `berth plugins`). */
void hooks_print_order(FILE *out);

#endif

#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_limits.h"
#include "errors.h"
#include "hooks.h"
#include "jobs.h"
#include "range.h"
#include "reference.h"

static registry_settings settings = {
	.max_manifest_size = 4 * 1024 * 1024,
	.delete_enabled = 1,
	.tag_delete_enabled = 1,
};

void registry_configure(const registry_settings *s)
{
	settings = *s;
}

const registry_settings *registry_settings_get(void)
{
	return &settings;
}

static void base(http_request *req)
{
	http_respond(req, MHD_HTTP_OK, "application/json", "{}", 2, NULL);
}

static void method_not_allowed(http_request *req, const char *allow)
{
	const char *h[] = {"Allow", allow, NULL};

	http_respond_error_headers(req, MHD_HTTP_METHOD_NOT_ALLOWED, OCI_UNSUPPORTED, h,
				   "method %s is not allowed here", req->method_name);
}

/*
 * The accesses a request needs from the auth hooks (see berth_access in
 * plugin.h). Returns how many were written.
 */
static size_t needed_accesses(http_request *req, berth_access *acc, size_t max)
{
	const char *name = req->rt.name;
	int m = req->method;
	size_t n = 0;

	switch (req->rt.kind) {
	case ROUTE_BASE:
		acc[n++] = (berth_access){"registry", "base", "login"};
		break;
	case ROUTE_CATALOG:
		acc[n++] = (berth_access){"registry", "catalog", "*"};
		break;
	case ROUTE_TAGS:
	case ROUTE_REFERRERS:
		acc[n++] = (berth_access){"repository", name, "pull"};
		break;
	case ROUTE_MANIFEST:
	case ROUTE_BLOB:
		acc[n++] = (berth_access){"repository", name,
					  m == HTTP_DELETE ? "delete"
					  : m == HTTP_PUT  ? "push"
							   : "pull"};
		break;
	case ROUTE_UPLOAD_START: {
		const char *from = http_query(req, "from");
		acc[n++] = (berth_access){"repository", name, "push"};
		/* A mount reads the source repository: it needs pull there. */
		if (from && http_query(req, "mount") && repo_name_valid(from) && n < max)
			acc[n++] = (berth_access){"repository", from, "pull"};
		break;
	}
	case ROUTE_UPLOAD:
		acc[n++] = (berth_access){"repository", name, "push"};
		break;
	case ROUTE_ADMIN:
		/* Reports are read like the manifests they describe. */
		if (req->rt.name[0])
			acc[n++] = (berth_access){"repository", name, "pull"};
		else
			acc[n++] = (berth_access){"registry", "jobs", "run"};
		break;
	default:
		break;
	}
	return n;
}

static int route_body(http_request *req, const char *data, size_t len)
{
	const hook_route *r = req->plugin_route;
	uint64_t max = r->route.max_body ? r->route.max_body : 1024 * 1024;

	if (req->body_len + len > max) {
		http_fail(req, MHD_HTTP_CONTENT_TOO_LARGE, OCI_SIZE_INVALID,
			  "request body is larger than the %llu bytes this route accepts",
			  (unsigned long long)max);
		return -1;
	}
	if (req->body_len + len > req->body_cap) {
		size_t cap = req->body_cap ? req->body_cap : 16384;
		char *nb;
		while (cap < req->body_len + len)
			cap *= 2;
		nb = realloc(req->body_buf, cap);
		if (!nb) {
			http_fail(req, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN, "out of memory");
			return -1;
		}
		req->body_buf = nb;
		req->body_cap = cap;
	}
	memcpy(req->body_buf + req->body_len, data, len);
	req->body_len += len;
	return 0;
}

static void route_end(http_request *req)
{
	hooks_route_handle(req, req->plugin_route);
}

static void plugin_route(http_request *req, const hook_route *r)
{
	req->plugin_route = r;
	if (!(r->route.flags & BERTH_ROUTE_PUBLIC)) {
		berth_access acc = {"route", r->route.path, req->method_name};
		if (hooks_authorize(req, &acc, 1) < 0)
			return;
	}
	/* Routes get their whole body at once: read it first. */
	req->body = route_body;
	req->end = route_end;
}

/* /berth/v1/reports/<repository>@<digest>: note the repository for auth. */
static void admin_route_name(http_request *req)
{
	const char *p = req->url + strlen("/berth/v1/");
	const char *at;

	if (strncmp(p, "reports/", 8) != 0)
		return;
	p += 8;
	at = strchr(p, '@');
	if (at && (size_t)(at - p) <= REPO_NAME_MAX && repo_name_valid_n(p, (size_t)(at - p))) {
		memcpy(req->rt.name, p, (size_t)(at - p));
		req->rt.name[at - p] = '\0';
		req->rt.name_valid = 1;
		snprintf(req->rt.ref, sizeof(req->rt.ref), "%s", at + 1);
	}
}

static void admin(http_request *req)
{
	const char *p = req->url + strlen("/berth/v1/");

	if (strcmp(p, "jobs") == 0) {
		jobs_http(req, NULL);
		return;
	}
	if (strncmp(p, "jobs/", 5) == 0) {
		jobs_http(req, p + 5);
		return;
	}
	if (strncmp(p, "reports/", 8) == 0 && req->method == HTTP_GET) {
		admin_report(req);
		return;
	}
	http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_UNSUPPORTED, "no such endpoint");
}

/* Requests that stream bytes into an upload: POST (monolithic), PATCH, PUT. */
static int takes_upload_body(int kind, int m)
{
	return (kind == ROUTE_UPLOAD_START && m == HTTP_POST) ||
	       (kind == ROUTE_UPLOAD && (m == HTTP_PATCH || m == HTTP_PUT));
}

/* Count the upload against its client (limits.max_uploads_per_client). */
static int upload_slot(http_request *req)
{
	unsigned max = registry_settings_get()->max_uploads_per_client;

	if (client_uploads_enter(req->client, max) < 0) {
		http_respond_error_headers(req, MHD_HTTP_TOO_MANY_REQUESTS, OCI_TOOMANYREQUESTS,
					   (const char *const[]){"Retry-After", "1", NULL},
					   "%u uploads from %s are in progress, the most one client "
					   "may have; retry when one is done",
					   max, req->client);
		return -1;
	}
	req->upload_slot = 1;
	return 0;
}

void registry_begin(http_request *req)
{
	int rc = route_parse(req->url, &req->rt);
	int m = req->method;
	int kind = req->rt.kind;
	const hook_route *pr = NULL;
	berth_access acc[4];
	size_t n_acc;

	if (req->path_encoded_unsafe) {
		int oci = OCI_NAME_INVALID;
		if (req->path_encoded_unsafe == 2 && kind == ROUTE_MANIFEST)
			oci = OCI_MANIFEST_INVALID;
		else if (req->path_encoded_unsafe == 2 && (kind == ROUTE_BLOB || kind == ROUTE_REFERRERS))
			oci = OCI_DIGEST_INVALID;
		else if (req->path_encoded_unsafe == 2 && kind == ROUTE_UPLOAD)
			oci = OCI_BLOB_UPLOAD_UNKNOWN;
		http_respond_error(req, oci == OCI_BLOB_UPLOAD_UNKNOWN ? MHD_HTTP_NOT_FOUND
								       : MHD_HTTP_BAD_REQUEST,
				   oci,
				   "the path encodes a NUL byte or a '/' inside a %s (%%00, %%2F)",
				   req->path_encoded_unsafe == 2 ? "reference" : "repository name");
		return;
	}
	if (kind == ROUTE_OTHER) {
		int wrong_method = 0;
		/* Plugin routes first: the loader keeps them off the core's own
		 * /berth/v1/ endpoints, so a plugin folder there is the plugin's. */
		if ((pr = hooks_find_route(req->url, req->method_name, &wrong_method))) {
			kind = req->rt.kind = ROUTE_PLUGIN;
		} else if (wrong_method) {
			http_respond_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, OCI_UNSUPPORTED,
					   "method %s is not allowed on this plugin route",
					   req->method_name);
			return;
		} else if (strncmp(req->url, "/berth/v1/", 10) == 0) {
			kind = req->rt.kind = ROUTE_ADMIN;
			admin_route_name(req);
		}
	}
	if (hooks_request_before(req))
		return;
	if (kind == ROUTE_OTHER || kind == ROUTE_NOT_FOUND) {
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_UNSUPPORTED, "no such endpoint");
		return;
	}
	if (kind == ROUTE_PLUGIN)
		return plugin_route(req, pr);
	if (kind != ROUTE_BASE && kind != ROUTE_CATALOG && kind != ROUTE_ADMIN &&
	    (rc == BERTH_E_NAME || !req->rt.name_valid)) {
		http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_NAME_INVALID,
				   "invalid repository name");
		return;
	}
	if (rc != 0 && kind != ROUTE_ADMIN) {
		http_respond_error(req, MHD_HTTP_BAD_REQUEST,
				   kind == ROUTE_MANIFEST ? OCI_MANIFEST_INVALID : OCI_DIGEST_INVALID,
				   "reference is too long");
		return;
	}
	n_acc = needed_accesses(req, acc, sizeof(acc) / sizeof(acc[0]));
	if (hooks_authorize(req, acc, n_acc) < 0)
		return;
	if (req->has_body && takes_upload_body(kind, m) && upload_slot(req) < 0)
		return;

	switch (kind) {
	case ROUTE_ADMIN:
		return admin(req);
	case ROUTE_BASE:
		if (m == HTTP_GET || m == HTTP_HEAD)
			return base(req);
		return method_not_allowed(req, "GET, HEAD");
	case ROUTE_CATALOG:
		if (m == HTTP_GET)
			return catalog_list(req);
		return method_not_allowed(req, "GET");
	case ROUTE_TAGS:
		if (m == HTTP_GET)
			return tags_list(req);
		return method_not_allowed(req, "GET");
	case ROUTE_REFERRERS:
		if (m == HTTP_GET)
			return referrers_list(req);
		return method_not_allowed(req, "GET");
	case ROUTE_MANIFEST:
		if (m == HTTP_GET || m == HTTP_HEAD)
			return manifest_get(req);
		if (m == HTTP_PUT)
			return manifest_put(req);
		if (m == HTTP_DELETE)
			return manifest_delete(req);
		return method_not_allowed(req, "GET, HEAD, PUT, DELETE");
	case ROUTE_BLOB:
		if (m == HTTP_GET || m == HTTP_HEAD)
			return blob_get(req);
		if (m == HTTP_DELETE)
			return blob_delete(req);
		return method_not_allowed(req, "GET, HEAD, DELETE");
	case ROUTE_UPLOAD_START:
		if (m == HTTP_POST)
			return upload_start(req);
		return method_not_allowed(req, "POST");
	case ROUTE_UPLOAD:
		if (m == HTTP_PATCH)
			return upload_patch(req);
		if (m == HTTP_PUT)
			return upload_put(req);
		if (m == HTTP_GET)
			return upload_status(req);
		if (m == HTTP_DELETE)
			return upload_cancel(req);
		return method_not_allowed(req, "GET, PATCH, PUT, DELETE");
	default:
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_UNSUPPORTED, "no such endpoint");
	}
}

int registry_pagination(http_request *req, long *n, const char **last)
{
	const char *ns = http_query(req, "n");
	uint64_t v;

	*n = -1;
	*last = http_query(req, "last");
	if (ns) {
		if (parse_u64(ns, &v) != 0 || v > 1000000) {
			http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_PAGINATION_NUMBER_INVALID,
					   "n must be a number between 0 and 1000000");
			return -1;
		}
		*n = (long)v;
	}
	return 0;
}

void registry_next_link(char *out, size_t cap, const char *path, long n, const char *last)
{
	/* `last` is a tag or repository name: both grammars are URL-safe. */
	snprintf(out, cap, "<%s?n=%ld&last=%s>; rel=\"next\"", path, n, last);
}

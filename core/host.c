/*
 * host.c - the services table plugins receive in create().
 *
 * It only grows at the end (see BERTH_HOST_HAS in plugin.h). Functions here
 * are thin: the real work lives in log.c and plugin_config.c.
 */
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "hooks.h"
#include "http.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "plugin_config.h"
#include "plugin_data.h"
#include "plugin_loader.h"
#include "registry_access.h"
#include "storage.h"

BERTH_PRINTF(3, 4)
static void host_log(const berth_instance *self, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_tagged_v(self ? self->name : "plugin", level, fmt, ap);
	va_end(ap);
}

static int64_t host_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t host_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *host_instance_name(const berth_instance *self)
{
	return self ? self->name : NULL;
}

static const char *req_method(const berth_request *r)
{
	return r ? http_from_berth(r)->method_name : NULL;
}

static const char *req_path(const berth_request *r)
{
	return r ? http_from_berth(r)->url : NULL;
}

static int req_route(const berth_request *r)
{
	if (!r)
		return BERTH_ROUTE_OTHER;
	switch (http_from_berth(r)->rt.kind) {
	case ROUTE_BASE:
		return BERTH_ROUTE_BASE;
	case ROUTE_CATALOG:
		return BERTH_ROUTE_CATALOG;
	case ROUTE_TAGS:
		return BERTH_ROUTE_TAGS;
	case ROUTE_MANIFEST:
		return BERTH_ROUTE_MANIFEST;
	case ROUTE_BLOB:
		return BERTH_ROUTE_BLOB;
	case ROUTE_UPLOAD_START:
	case ROUTE_UPLOAD:
		return BERTH_ROUTE_UPLOAD;
	case ROUTE_REFERRERS:
		return BERTH_ROUTE_REFERRERS;
	case ROUTE_PLUGIN:
		return BERTH_ROUTE_PLUGIN;
	case ROUTE_ADMIN:
		return BERTH_ROUTE_ADMIN;
	default:
		return BERTH_ROUTE_OTHER;
	}
}

static const char *req_repository(const berth_request *r)
{
	return r ? http_from_berth(r)->rt.name : "";
}

static const char *req_reference(const berth_request *r)
{
	return r ? http_from_berth(r)->rt.ref : "";
}

static const char *req_header(const berth_request *r, const char *name)
{
	return r && name ? http_header(http_from_berth(r), name) : NULL;
}

static const char *req_query(const berth_request *r, const char *name)
{
	return r && name ? http_query(http_from_berth(r), name) : NULL;
}

static const char *req_client(const berth_request *r)
{
	return r ? http_from_berth(r)->client : NULL;
}

static const berth_identity *req_identity(const berth_request *r)
{
	const http_request *req = r ? http_from_berth(r) : NULL;

	return req && req->authenticated ? &req->identity : NULL;
}

static const void *req_body(const berth_request *r, size_t *len)
{
	const http_request *req = r ? http_from_berth(r) : NULL;

	if (len)
		*len = req ? req->body_len : 0;
	return req ? req->body_buf : NULL;
}

static int resp_header(berth_request *r, const char *name, const char *value)
{
	if (!r || !name || !value || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return BERTH_E_INVALID;
	return http_add_response_header(http_from_berth(r), name, value);
}

static int resp_respond(berth_request *r, int status, const char *content_type, const void *body,
			size_t len)
{
	http_request *req = r ? http_from_berth(r) : NULL;

	if (!req || status < 100 || status > 599 || (len && !body))
		return BERTH_E_INVALID;
	if (req->responded)
		return BERTH_E_EXISTS;
	return http_respond(req, status, content_type, body ? body : "", len, NULL);
}

static int host_is_serving;

void host_set_serving(int serving)
{
	host_is_serving = serving;
}

struct query_nth {
	const char *name;
	size_t want, seen;
	const char *found;
};

static enum MHD_Result query_nth_fn(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	struct query_nth *q = cls;

	(void)kind;
	if (!key || strcmp(key, q->name) != 0)
		return MHD_YES;
	if (q->seen++ == q->want) {
		q->found = value ? value : "";
		return MHD_NO;
	}
	return MHD_YES;
}

static const char *req_query_value(const berth_request *r, const char *name, size_t index)
{
	struct query_nth q = {name, index, 0, NULL};

	if (!r || !name)
		return NULL;
	MHD_get_connection_values(http_from_berth(r)->conn, MHD_GET_ARGUMENT_KIND, query_nth_fn,
				  &q);
	return q.found;
}

static int host_allowed(const berth_request *r, const berth_access *access)
{
	return r ? hooks_allowed(http_from_berth(r), access) : 0;
}

static int host_serving(void)
{
	return host_is_serving;
}

const berth_host host_services = {
	.size = sizeof(berth_host),
	.abi_major = BERTH_ABI_MAJOR,
	.abi_minor = BERTH_ABI_MINOR,
	.version = BERTH_VERSION,
	.log = host_log,
	.config_string = plugin_config_string,
	.config_int = plugin_config_int,
	.config_bool = plugin_config_bool,
	.config_list_count = plugin_config_list_count,
	.config_list_string = plugin_config_list_string,
	.config_child = plugin_config_child,
	.now_ms = host_now_ms,
	.monotonic_ms = host_monotonic_ms,
	.instance_name = host_instance_name,
	.request_method = req_method,
	.request_path = req_path,
	.request_route = req_route,
	.request_repository = req_repository,
	.request_reference = req_reference,
	.request_header = req_header,
	.request_query = req_query,
	.request_client = req_client,
	.request_identity = req_identity,
	.request_body = req_body,
	.response_header = resp_header,
	.respond = resp_respond,
	.emit_event = events_host_emit,
	.list_repositories = access_list_repositories,
	.list_tags = access_list_tags,
	.read_manifest = access_read_manifest,
	.read_blob = access_read_blob,
	.delete_tag = access_delete_tag,
	.delete_manifest = access_delete_manifest,
	.metric_register = metrics_host_register,
	.metric_add = metrics_add,
	.metric_set = metrics_set,
	.metrics_foreach = metrics_foreach,
	.job_dry_run = jobs_host_dry_run,
	.job_print = jobs_host_print,
	.schedule = jobs_host_schedule,
	.storage_usage = storage_usage,
	.instances_foreach = hooks_instances_foreach,
	.serving = host_serving,
	.data_write = plugin_data_write,
	.data_read = plugin_data_read,
	.data_remove = plugin_data_remove,
	.data_list = plugin_data_list,
	.emit_request_event = events_host_emit_request,
	.allowed = host_allowed,
	.list_manifests = access_list_manifests,
	.manifest_times = access_manifest_times,
	.config_list_child = plugin_config_list_child,
	.config_key_count = plugin_config_key_count,
	.config_key_at = plugin_config_key_at,
	.config_where = plugin_config_where,
	.delete_tag_if = access_delete_tag_if,
	.delete_manifest_if_untagged = access_delete_manifest_if_untagged,
	.list_referrers = access_list_referrers,
	.request_query_value = req_query_value,
};

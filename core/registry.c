#include "registry.h"

#include <stdio.h>
#include <string.h>

#include "errors.h"
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

void registry_begin(http_request *req)
{
	int rc = route_parse(req->url, &req->rt);
	int m = req->method;
	int kind = req->rt.kind;

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
	if (kind == ROUTE_OTHER || kind == ROUTE_NOT_FOUND) {
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_UNSUPPORTED, "no such endpoint");
		return;
	}
	if (kind != ROUTE_BASE && kind != ROUTE_CATALOG && (rc == BERTH_E_NAME || !req->rt.name_valid)) {
		http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_NAME_INVALID,
				   "invalid repository name");
		return;
	}
	if (rc != 0) {
		http_respond_error(req, MHD_HTTP_BAD_REQUEST,
				   kind == ROUTE_MANIFEST ? OCI_MANIFEST_INVALID : OCI_DIGEST_INVALID,
				   "reference is too long");
		return;
	}

	switch (kind) {
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

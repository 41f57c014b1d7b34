/*
 * admin.c - Berth's own endpoints under /berth/v1/ that are not jobs:
 * scan reports.
 */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "hooks.h"
#include "layout.h"
#include "registry.h"
#include "storage.h"

void admin_report(http_request *req)
{
	layout_key key;
	digest d;
	char ds[DIGEST_STRING_MAX];
	char *report = NULL;
	size_t len = 0;
	berth_error err = {0};
	int rc;

	if (!req->rt.name_valid) {
		http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_NAME_INVALID,
				   "expected /berth/v1/reports/<repository>@<digest>");
		return;
	}
	if (digest_parse(req->rt.ref, &d) != 0) {
		http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_DIGEST_INVALID,
				   "invalid digest '%s'", req->rt.ref);
		return;
	}
	digest_format(&d, ds);
	layout_revision_link(key, req->rt.name, &d);
	if (!storage_exists(key)) {
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_MANIFEST_UNKNOWN,
				   "manifest %s is unknown to repository '%s'", ds, req->rt.name);
		return;
	}
	rc = hooks_scan_report(req->rt.name, ds, &report, &len, &err);
	if (rc == BERTH_E_NOT_FOUND) {
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_MANIFEST_UNKNOWN, "%s",
				   err.message);
		return;
	}
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		return;
	}
	http_respond_owned(req, MHD_HTTP_OK, "application/json", report, len, NULL);
}

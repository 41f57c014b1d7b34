#include "errors.h"

#include <stdarg.h>
#include <stdio.h>

#include <microhttpd.h>

#include "berth/error.h"

static const struct {
	const char *name;
	const char *description;
} oci_errors[] = {
	[OCI_BLOB_UNKNOWN] = {"BLOB_UNKNOWN", "blob unknown to registry"},
	[OCI_BLOB_UPLOAD_INVALID] = {"BLOB_UPLOAD_INVALID", "blob upload invalid"},
	[OCI_BLOB_UPLOAD_UNKNOWN] = {"BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry"},
	[OCI_DIGEST_INVALID] = {"DIGEST_INVALID", "provided digest did not match uploaded content"},
	[OCI_MANIFEST_BLOB_UNKNOWN] = {"MANIFEST_BLOB_UNKNOWN",
				       "manifest references a manifest or blob unknown to registry"},
	[OCI_MANIFEST_INVALID] = {"MANIFEST_INVALID", "manifest invalid"},
	[OCI_MANIFEST_UNKNOWN] = {"MANIFEST_UNKNOWN", "manifest unknown to registry"},
	[OCI_NAME_INVALID] = {"NAME_INVALID", "invalid repository name"},
	[OCI_NAME_UNKNOWN] = {"NAME_UNKNOWN", "repository name not known to registry"},
	[OCI_SIZE_INVALID] = {"SIZE_INVALID", "provided length did not match content length"},
	[OCI_UNAUTHORIZED] = {"UNAUTHORIZED", "authentication required"},
	[OCI_DENIED] = {"DENIED", "requested access to the resource is denied"},
	[OCI_UNSUPPORTED] = {"UNSUPPORTED", "the operation is unsupported"},
	[OCI_TOOMANYREQUESTS] = {"TOOMANYREQUESTS", "too many requests"},
	[OCI_PAGINATION_NUMBER_INVALID] = {"PAGINATION_NUMBER_INVALID",
					   "invalid number of results requested"},
	[OCI_UNKNOWN] = {"UNKNOWN", "unknown error"},
};

const char *oci_error_name(int oci)
{
	if (oci < 0 || oci > OCI_UNKNOWN)
		oci = OCI_UNKNOWN;
	return oci_errors[oci].name;
}

const char *oci_error_description(int oci)
{
	if (oci < 0 || oci > OCI_UNKNOWN)
		oci = OCI_UNKNOWN;
	return oci_errors[oci].description;
}

int oci_error_for_status(int berth_status, int *http_status, int *oci)
{
	switch (berth_status) {
	case BERTH_E_NAME:
		*http_status = MHD_HTTP_BAD_REQUEST;
		*oci = OCI_NAME_INVALID;
		return 1;
	case BERTH_E_DENIED:
		*http_status = MHD_HTTP_FORBIDDEN;
		*oci = OCI_DENIED;
		return 1;
	case BERTH_E_UNAUTHORIZED:
		*http_status = MHD_HTTP_UNAUTHORIZED;
		*oci = OCI_UNAUTHORIZED;
		return 1;
	case BERTH_E_UNSUPPORTED:
		*http_status = MHD_HTTP_METHOD_NOT_ALLOWED;
		*oci = OCI_UNSUPPORTED;
		return 1;
	case BERTH_E_TOO_MANY:
		*http_status = MHD_HTTP_TOO_MANY_REQUESTS;
		*oci = OCI_TOOMANYREQUESTS;
		return 1;
	case BERTH_E_TOO_LARGE:
		*http_status = MHD_HTTP_CONTENT_TOO_LARGE;
		*oci = OCI_SIZE_INVALID;
		return 1;
	case BERTH_E_NOSPACE:
		*http_status = MHD_HTTP_INSUFFICIENT_STORAGE;
		*oci = OCI_UNKNOWN;
		return 1;
	case BERTH_E_AGAIN:
		*http_status = MHD_HTTP_SERVICE_UNAVAILABLE;
		*oci = OCI_UNKNOWN;
		return 1;
	case BERTH_E_IO:
	case BERTH_E_NOMEM:
	case BERTH_E_INTERNAL:
	case BERTH_E_CONFIG:
		*http_status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		*oci = OCI_UNKNOWN;
		return 1;
	default:
		return 0;
	}
}

int error_set(berth_error *err, int code, const char *fmt, ...)
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

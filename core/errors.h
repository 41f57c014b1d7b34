/*
 * errors.h - the one place where failures become OCI error codes.
 *
 * Handlers return negative berth_status codes internally; when a request
 * fails, the handler picks the OCI code that names the failing thing
 * (BLOB_UNKNOWN vs MANIFEST_UNKNOWN) and http_respond_error() writes the
 * spec's JSON body. oci_error_for_status() covers the codes that mean the
 * same thing everywhere (I/O, full disk, rate limits).
 */
#ifndef BERTH_ERRORS_H
#define BERTH_ERRORS_H

#include "berth/error.h"

enum oci_error {
	OCI_BLOB_UNKNOWN,
	OCI_BLOB_UPLOAD_INVALID,
	OCI_BLOB_UPLOAD_UNKNOWN,
	OCI_DIGEST_INVALID,
	OCI_MANIFEST_BLOB_UNKNOWN,
	OCI_MANIFEST_INVALID,
	OCI_MANIFEST_UNKNOWN,
	OCI_NAME_INVALID,
	OCI_NAME_UNKNOWN,
	OCI_SIZE_INVALID,
	OCI_UNAUTHORIZED,
	OCI_DENIED,
	OCI_UNSUPPORTED,
	OCI_TOOMANYREQUESTS,
	/* Distribution's codes that clients also know. */
	OCI_PAGINATION_NUMBER_INVALID,
	OCI_UNKNOWN /* 5xx: the server's own failure */
};

/* The code's name as it appears in the JSON body, e.g. "BLOB_UNKNOWN". */
const char *oci_error_name(int oci);
/* The spec's short description of a code. */
const char *oci_error_description(int oci);

/*
 * For failures whose meaning does not depend on the route: map a berth
 * status to an HTTP status and OCI code. Returns 0 if the status has no
 * route-independent meaning (the caller must decide).
 */
int oci_error_for_status(int berth_status, int *http_status, int *oci);

/* Fill err (may be NULL) with code and a formatted message; returns code. */
int error_set(berth_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif

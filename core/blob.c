/*
 * blob.c - GET, HEAD and DELETE of blobs in a repository.
 *
 * A blob is served from a repository only when the repository links it
 * (pushed there, mounted, or a manifest revision of it), as Distribution
 * does: knowing a digest is not enough to read another team's layer.
 * Bytes go out with sendfile when the driver gives a file descriptor.
 */
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "errors.h"
#include "events.h"
#include "gc_barrier.h"
#include "layout.h"
#include "log.h"
#include "range.h"
#include "registry.h"
#include "storage.h"

/* Answers the request and returns < 0 when the digest in the path is bad. */
int blob_digest_from_route(http_request *req, digest *d)
{
	int rc = digest_parse(req->rt.ref, d);

	if (rc == BERTH_E_UNSUPPORTED) {
		http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_DIGEST_INVALID,
				   "unsupported digest algorithm in '%s' (sha256 and sha512 are)",
				   req->rt.ref);
		return rc;
	}
	if (rc != 0) {
		http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_DIGEST_INVALID,
				   "invalid digest '%s'", req->rt.ref);
		return rc;
	}
	return 0;
}

/*
 * Storage that can sign URLs (object stores) lets the client fetch the
 * bytes from it directly. Returns 1 when the request was answered.
 */
static int storage_redirect(http_request *req, const char *key, const char *ds)
{
	char url[4096];
	berth_error err = {0};
	int rc = storage_redirect_url(key, "GET", url, sizeof(url), &err);

	if (rc == BERTH_DECLINED || rc == BERTH_E_UNSUPPORTED)
		return 0;
	if (rc != 0) {
		log_warn("cannot sign a URL for blob %s, serving it: %s", ds, err.message);
		return 0;
	}
	url[sizeof(url) - 1] = '\0';
	http_respond(req, MHD_HTTP_TEMPORARY_REDIRECT, NULL, "", 0,
		     (const char *const[]){"Location", url, "Docker-Content-Digest", ds, NULL});
	return 1;
}

/* 1 when the repository may read the blob. */
static int blob_linked(const char *name, const digest *d)
{
	layout_key key;

	if (layout_layer_link(key, name, d) == 0 && storage_exists(key))
		return 1;
	return layout_revision_link(key, name, d) == 0 && storage_exists(key);
}

void blob_get(http_request *req)
{
	digest d;
	char ds[DIGEST_STRING_MAX], etag[DIGEST_STRING_MAX + 2], crange[96];
	layout_key key;
	berth_read_handle h = {.fd = -1};
	berth_error err = {0};
	uint64_t start = 0, end = 0, size;
	int status = MHD_HTTP_OK, rc;
	const char *range;

	if (blob_digest_from_route(req, &d) < 0)
		return;
	digest_format(&d, ds);
	/* A client that sees the blob exists may reference it next. */
	gc_protect(&d);
	if (!blob_linked(req->rt.name, &d)) {
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_BLOB_UNKNOWN,
				   "blob %s is unknown to repository '%s'", ds, req->rt.name);
		return;
	}
	layout_blob_data(key, &d);
	if (req->method == HTTP_GET && storage_redirect(req, key, ds))
		return;
	rc = storage_open_read(key, 0, &h, &err);
	if (rc == BERTH_E_NOT_FOUND) {
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_BLOB_UNKNOWN,
				   "blob %s is linked but its data is missing", ds);
		return;
	}
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		return;
	}
	size = h.size;
	end = size ? size - 1 : 0;
	snprintf(etag, sizeof(etag), "\"%s\"", ds);

	range = http_header(req, MHD_HTTP_HEADER_RANGE);
	if (range && req->method == HTTP_GET) {
		rc = range_parse(range, size, &start, &end);
		if (rc != 0) {
			const char *hdr[] = {"Content-Range", crange, NULL};
			snprintf(crange, sizeof(crange), "bytes */%" PRIu64, size);
			http_respond_error_headers(req, MHD_HTTP_RANGE_NOT_SATISFIABLE,
						   OCI_SIZE_INVALID, hdr,
						   "range '%s' cannot be served from a blob of %" PRIu64
						   " bytes",
						   range, size);
			goto out;
		}
		status = MHD_HTTP_PARTIAL_CONTENT;
		snprintf(crange, sizeof(crange), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start,
			 end, size);
	}
	{
		uint64_t len = size ? end - start + 1 : 0;
		const char *hdr[] = {"Docker-Content-Digest", ds,
				     "ETag", etag,
				     "Accept-Ranges", "bytes",
				     "Cache-Control", "max-age=31536000",
				     status == MHD_HTTP_PARTIAL_CONTENT ? "Content-Range" : NULL, crange,
				     NULL};
		if (req->method == HTTP_HEAD) {
			http_respond_head(req, status, "application/octet-stream", len, hdr);
		} else if (h.fd >= 0) {
			http_respond_fd(req, status, "application/octet-stream", h.fd, start, len,
					hdr);
			h.fd = -1;
			h.stream = NULL;
		} else {
			http_respond_stream(req, status, "application/octet-stream", h.stream,
					    start, len, hdr);
			h.stream = NULL;
		}
	}
out:
	if (h.fd >= 0)
		close(h.fd);
	else if (h.stream)
		storage_read_close(h.stream);
}

void blob_delete(http_request *req)
{
	digest d;
	char ds[DIGEST_STRING_MAX];
	layout_key key;
	berth_error err = {0};
	int rc;

	if (!registry_settings_get()->delete_enabled) {
		http_respond_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, OCI_UNSUPPORTED,
				   "deletes are disabled on this registry");
		return;
	}
	if (blob_digest_from_route(req, &d) < 0)
		return;
	digest_format(&d, ds);
	layout_layer_dir(key, req->rt.name, &d);
	rc = storage_remove(key, &err);
	if (rc == BERTH_E_NOT_FOUND) {
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_BLOB_UNKNOWN,
				   "blob %s is unknown to repository '%s'", ds, req->rt.name);
		return;
	}
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		return;
	}
	log_info("blob %s unlinked from '%s'", ds, req->rt.name);
	events_emit(&(event_fields){
		.type = "blob.delete",
		.repository = req->rt.name,
		.digest = ds,
		.identity = req->identity.name[0] ? req->identity.name : NULL,
		.client = req->client,
		.source = "core",
	});
	http_respond(req, MHD_HTTP_ACCEPTED, NULL, "", 0,
		     (const char *const[]){"Docker-Content-Digest", ds, NULL});
}

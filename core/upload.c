/*
 * upload.c - blob uploads: POST (start, monolithic, mount), PATCH (chunked
 * and streamed), PUT (finish), GET (status) and DELETE (cancel).
 *
 * The bytes of an upload go to `_uploads/<uuid>/data` in storage as they
 * arrive and are hashed on the way (never held in memory), so an upload
 * survives a restart and can be finished by another node. A blob becomes
 * visible only when PUT has verified its digest: the data is moved to
 * `blobs/.../data` and then linked into the repository; a digest mismatch
 * removes the upload and leaves nothing behind.
 */
#include <inttypes.h>
#include <pthread.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog_index.h"
#include "errors.h"
#include "events.h"
#include "gc_barrier.h"
#include "metrics.h"
#include "layout.h"
#include "log.h"
#include "range.h"
#include "reference.h"
#include "registry.h"
#include "storage.h"
#include "upload_pipe.h"
#include "upload_state.h"

typedef struct upload_op {
	char uuid[40];
	uint64_t size;        /* bytes in storage, plus what this request appended */
	void *writer;         /* open while the body streams */
	upload_pipe *pipe;    /* stores the body on its own thread, or NULL */
	digest_ctx *ctx;      /* sha256 at `size`, or NULL when unknown */
	upload_claim claim;   /* held while claim.entry is set */
	int counted;          /* in berth_uploads_in_progress */
	int finish;           /* PUT or monolithic POST: verify and publish at the end */
	digest expected;
	int created;          /* the upload was created by this request (monolithic POST) */
	int taken_over;       /* a write found the upload held by another request */
} upload_op;

/* Requests streaming upload bytes right now (a gauge for the metrics plugin). */
static berth_metric *uploads_gauge;
static pthread_once_t uploads_gauge_once = PTHREAD_ONCE_INIT;

static void uploads_gauge_register(void)
{
	uploads_gauge = metrics_register("core", "berth_uploads_in_progress",
					 "Requests streaming blob bytes into the registry now.",
					 BERTH_METRIC_GAUGE, NULL);
}

void upload_metrics_register(void)
{
	pthread_once(&uploads_gauge_once, uploads_gauge_register);
}

static void uploads_in_progress(long delta)
{
	pthread_once(&uploads_gauge_once, uploads_gauge_register);
	metrics_add(uploads_gauge, NULL, (double)delta);
}

static void range_value(char *out, size_t cap, uint64_t size)
{
	/* Distribution answers "0-0" for an empty upload; clients expect it. */
	snprintf(out, cap, "0-%" PRIu64, size ? size - 1 : 0);
}

static void location_value(char *out, size_t cap, const char *name, const char *uuid)
{
	snprintf(out, cap, "/v2/%s/blobs/uploads/%s", name, uuid);
}

static void respond_upload(http_request *req, int status, const char *uuid, uint64_t size)
{
	char loc[LAYOUT_KEY_MAX], range[48];

	location_value(loc, sizeof(loc), req->rt.name, uuid);
	range_value(range, sizeof(range), size);
	http_respond(req, status, NULL, "", 0,
		     (const char *const[]){"Location", loc, "Range", range, "Docker-Upload-UUID",
					   uuid, NULL});
}

static int new_uuid(char out[40])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return BERTH_E_INTERNAL;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 40,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
	return 0;
}

/* Create `_uploads/<uuid>/startedat` and an empty `data`. */
static int upload_create(const char *name, char uuid[40], berth_error *err)
{
	layout_key key;
	char when[40];
	time_t now = time(NULL);
	struct tm tm;
	void *w = NULL;
	int rc;

	rc = new_uuid(uuid);
	if (rc != 0)
		return error_set(err, rc, "cannot generate an upload id");
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	layout_upload_startedat(key, name, uuid);
	rc = storage_write_all(key, when, strlen(when), err);
	if (rc != 0)
		return rc;
	layout_upload_data(key, name, uuid);
	rc = storage_write_open(key, BERTH_WRITE_APPEND, &w, err);
	if (rc != 0)
		return rc;
	return storage_write_commit(w, err);
}

static void upload_remove(const char *name, const char *uuid)
{
	layout_key key;
	berth_error err = {0};

	if (layout_upload_dir(key, name, uuid) != 0)
		return;
	if (storage_remove(key, &err) != 0 && err.code != BERTH_E_NOT_FOUND)
		log_warn("cannot remove upload '%s' of '%s': %s", uuid, name, err.message);
	upload_state_forget(uuid);
}

/* Hash `len` bytes of a stored object from the start (rebuilding a lost state). */
static int hash_stored(const char *key, int alg, uint64_t len, digest_ctx **out, berth_error *err)
{
	berth_read_handle h = {.fd = -1};
	digest_ctx *ctx = digest_ctx_new(alg);
	size_t cap = 1024 * 1024;
	char *buf = malloc(cap);
	uint64_t off = 0;
	int rc;

	if (!ctx || !buf) {
		rc = error_set(err, BERTH_E_NOMEM, "out of memory hashing '%s'", key);
		goto out;
	}
	rc = storage_open_read(key, 0, &h, err);
	if (rc != 0)
		goto out;
	while (off < len) {
		size_t want = len - off < cap ? (size_t)(len - off) : cap;
		ssize_t n;
		if (h.fd >= 0) {
			n = pread(h.fd, buf, want, (off_t)off);
			if (n < 0) {
				rc = error_set(err, BERTH_E_IO, "cannot read '%s': %m", key);
				goto out;
			}
		} else {
			n = storage_read_at(h.stream, off, buf, want, err);
			if (n < 0) {
				rc = (int)n;
				goto out;
			}
		}
		if (n == 0) {
			rc = error_set(err, BERTH_E_IO, "'%s' ended after %" PRIu64 " of %" PRIu64
					" bytes", key, off, len);
			goto out;
		}
		digest_ctx_update(ctx, buf, (size_t)n);
		off += (uint64_t)n;
	}
	*out = ctx;
	ctx = NULL;
out:
	if (h.fd >= 0)
		close(h.fd);
	else if (h.stream)
		storage_read_close(h.stream);
	digest_ctx_free(ctx);
	free(buf);
	return rc;
}

/* Give up the upload for good: release its hash state, remove its data. */
static void op_drop(http_request *req, upload_op *op)
{
	upload_state_release(&op->claim, NULL, 0);
	op->created = 0;
	upload_remove(req->rt.name, op->uuid);
}

/* The pipe's sink: one block of body, on the pipe's writer thread. */
static int op_store(void *ctx, const void *buf, size_t len, berth_error *err)
{
	upload_op *op = ctx;
	int rc;

	if (upload_state_write_begin(&op->claim) != 0) {
		op->taken_over = 1;
		return error_set(err, BERTH_E_AGAIN, "upload '%s' was taken over by another request",
				 op->uuid);
	}
	rc = storage_write(op->writer, buf, len, err);
	upload_state_write_end(&op->claim);
	return rc;
}

static int op_body(http_request *req, const char *data, size_t len)
{
	upload_op *op = req->state;
	uint64_t limit = registry_settings_get()->max_chunk_size;
	berth_error err = {0};
	int rc;

	if (!op->writer) {
		http_fail(req, MHD_HTTP_BAD_REQUEST, OCI_BLOB_UPLOAD_INVALID, "unexpected body");
		return -1;
	}
	if (limit && req->bytes_in > limit) {
		http_fail(req, MHD_HTTP_CONTENT_TOO_LARGE, OCI_SIZE_INVALID,
			  "chunk is larger than the limit of %" PRIu64 " bytes", limit);
		goto broken;
	}
	if (op->pipe) {
		rc = upload_state_touch(&op->claim);
		if (rc != 0) {
			op->taken_over = 1;
			error_set(&err, rc, "upload '%s' was taken over by another request",
				  op->uuid);
		} else {
			rc = upload_pipe_write(op->pipe, data, len, &err);
		}
	} else {
		rc = op_store(op, data, len, &err);
	}
	/* taken_over is set before the failure it causes is reported (by the
	 * pipe under its lock), so it is seen here. */
	if (rc != 0 && op->taken_over) {
		/* Another request took this idle upload over. */
		http_fail(req, MHD_HTTP_CONFLICT, OCI_BLOB_UPLOAD_INVALID, "%s", err.message);
		goto broken;
	}
	if (rc != 0) {
		/* A full disk, an object store out of reach (try again), or broken. */
		int status = rc == BERTH_E_NOSPACE ? MHD_HTTP_INSUFFICIENT_STORAGE
			     : rc == BERTH_E_AGAIN ? MHD_HTTP_SERVICE_UNAVAILABLE
						   : MHD_HTTP_INTERNAL_SERVER_ERROR;
		http_fail(req, status, OCI_UNKNOWN, "cannot store upload data: %s", err.message);
		goto broken;
	}
	/* With a pipe, its hasher thread hashes the same bytes. */
	if (op->ctx && !op->pipe)
		digest_ctx_update(op->ctx, data, len);
	op->size += len;
	return 0;
broken:
	/* What reached storage is unknown now: forget the hash, the next
	 * request rebuilds it from the bytes actually stored. The pipe's
	 * threads stop first: its hasher uses the hash. */
	if (op->pipe) {
		upload_pipe_close(op->pipe, NULL);
		op->pipe = NULL;
	}
	digest_ctx_free(op->ctx);
	op->ctx = NULL;
	return -1;
}

static int op_close_writer(upload_op *op, berth_error *err)
{
	berth_error ignored = {0};
	int rc = 0, piped = 0;

	if (op->pipe) {
		piped = upload_pipe_close(op->pipe, err);
		op->pipe = NULL;
	}
	if (op->writer) {
		/* Commit even after a failed block: what was stored stays, the
		 * client resumes from the size it reads back. */
		rc = storage_write_commit(op->writer, piped ? &ignored : err);
		op->writer = NULL;
	}
	if (piped)
		rc = piped;
	if (rc != 0) {
		digest_ctx_free(op->ctx);
		op->ctx = NULL;
	}
	return rc;
}

static void op_cleanup(http_request *req, int completed)
{
	upload_op *op = req->state;
	berth_error err = {0};

	if (!op)
		return;
	if (op->counted)
		uploads_in_progress(-1);
	/* A client that went away mid-body keeps what was stored; it can ask
	 * for the upload's Range and continue. */
	if (op_close_writer(op, &err) != 0)
		log_warn("upload %s: %s", op->uuid, err.message);
	upload_state_release(&op->claim, op->ctx, op->size);
	/* A monolithic POST's upload exists only for that request. */
	if (op->created)
		upload_remove(req->rt.name, op->uuid);
	free(op);
	req->state = NULL;
}

/* Publish the upload as a blob of the repository once its digest verifies. */
static void op_finish(http_request *req)
{
	upload_op *op = req->state;
	layout_key data_key, blob_key, link_key;
	char ds[DIGEST_STRING_MAX], loc[LAYOUT_KEY_MAX];
	digest got;
	digest_ctx *ctx = NULL;
	berth_error err = {0};
	int rc;

	digest_format(&op->expected, ds);
	layout_upload_data(data_key, req->rt.name, op->uuid);
	if (op->expected.alg == DIGEST_SHA256 && op->ctx) {
		ctx = op->ctx;
		op->ctx = NULL;
	} else {
		rc = hash_stored(data_key, op->expected.alg, op->size, &ctx, &err);
		if (rc != 0) {
			http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
					    err.message);
			goto out;
		}
	}
	rc = digest_ctx_final(ctx, &got);
	if (rc != 0 || !digest_equal(&got, &op->expected)) {
		char gs[DIGEST_STRING_MAX];
		digest_format(&got, gs);
		op_drop(req, op);
		http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_DIGEST_INVALID,
				   "digest mismatch: expected %s, the uploaded %" PRIu64
				   " bytes hash to %s",
				   ds, op->size, rc == 0 ? gs : "(unknown)");
		goto out;
	}

	/* The blob may exist already, as garbage an online collection is about
	 * to sweep: protect it before looking, and link it before the
	 * collection can look again (gc_barrier.h). */
	gc_guard_enter();
	gc_protect(&op->expected);
	layout_blob_data(blob_key, &op->expected);
	rc = 0;
	if (!storage_exists(blob_key))
		rc = storage_move(data_key, blob_key, &err);
	if (rc == 0) {
		layout_layer_link(link_key, req->rt.name, &op->expected);
		rc = storage_write_link(link_key, &op->expected, &err);
	}
	gc_guard_leave();
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		goto out;
	}
	catalog_index_note(req->rt.name);
	op_drop(req, op);
	log_debug("blob %s (%" PRIu64 " bytes) pushed to '%s'", ds, op->size, req->rt.name);
	events_emit(&(event_fields){
		.type = "blob.push",
		.repository = req->rt.name,
		.digest = ds,
		.length = op->size,
		.identity = req->identity.name[0] ? req->identity.name : NULL,
		.client = req->client,
		.source = "core",
	});
	snprintf(loc, sizeof(loc), "/v2/%s/blobs/%s", req->rt.name, ds);
	http_respond(req, MHD_HTTP_CREATED, NULL, "", 0,
		     (const char *const[]){"Location", loc, "Docker-Content-Digest", ds, NULL});
out:
	digest_ctx_free(ctx);
}

static void op_end(http_request *req)
{
	upload_op *op = req->state;
	berth_error err = {0};
	int rc;

	rc = op_close_writer(op, &err);
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		return;
	}
	if (op->finish) {
		op_finish(req);
		return;
	}
	/* op_release gives the upload back before this answer goes out: a
	 * client sends its next chunk or PUT the moment it reads it. */
	respond_upload(req, MHD_HTTP_ACCEPTED, op->uuid, op->size);
}

/*
 * Take the upload for this request: check it exists, hold its hash state
 * (rebuilding it from storage if needed) and check Content-Range. Answers
 * the request and returns < 0 on failure.
 */
static int op_take(http_request *req, upload_op *op, int need_body)
{
	layout_key key;
	berth_stat st;
	berth_error err = {0};
	const char *cr = http_header(req, "Content-Range");
	uint64_t start, end, clen = 0;
	int has_len, rc;

	has_len = http_content_length(req, &clen);
	if (has_len < 0) {
		http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_SIZE_INVALID,
				   "invalid Content-Length");
		return -1;
	}
	/* Hold the upload before reading its size: once held, nobody else
	 * appends, so the size stays true for this whole request. */
	rc = upload_state_acquire(op->uuid, &op->claim);
	if (rc == BERTH_E_AGAIN) {
		http_respond_error(req, MHD_HTTP_CONFLICT, OCI_BLOB_UPLOAD_INVALID,
				   "upload '%s' is being written by another request", op->uuid);
		return -1;
	}
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_SERVICE_UNAVAILABLE, OCI_TOOMANYREQUESTS,
				    "too many uploads in progress");
		return -1;
	}
	layout_upload_data(key, req->rt.name, op->uuid);
	rc = storage_stat(key, &st, &err);
	if (rc == BERTH_E_NOT_FOUND) {
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_BLOB_UPLOAD_UNKNOWN,
				   "upload '%s' is unknown to repository '%s'", op->uuid,
				   req->rt.name);
		return -1;
	}
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		return -1;
	}
	op->size = st.size;

	if (cr) {
		char range[48];
		range_value(range, sizeof(range), op->size);
		if (content_range_parse(cr, &start, &end) != 0) {
			http_respond_error_headers(req, MHD_HTTP_RANGE_NOT_SATISFIABLE,
						   OCI_BLOB_UPLOAD_INVALID,
						   (const char *const[]){"Range", range, NULL},
						   "invalid Content-Range '%s'", cr);
			return -1;
		}
		if (start != op->size) {
			http_respond_error_headers(
				req, MHD_HTTP_RANGE_NOT_SATISFIABLE, OCI_BLOB_UPLOAD_INVALID,
				(const char *const[]){"Range", range, NULL},
				"chunk starts at %" PRIu64 " but the upload has %" PRIu64 " bytes",
				start, op->size);
			return -1;
		}
		if (has_len > 0 && clen != end - start + 1) {
			http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_SIZE_INVALID,
					   "Content-Range covers %" PRIu64
					   " bytes but Content-Length is %" PRIu64,
					   end - start + 1, clen);
			return -1;
		}
	}

	op->ctx = upload_state_hash(&op->claim, op->size);
	if (!op->ctx) {
		rc = hash_stored(key, DIGEST_SHA256, op->size, &op->ctx, &err);
		if (rc != 0) {
			http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
					    err.message);
			return -1;
		}
	}
	if (need_body) {
		rc = storage_write_open(key, BERTH_WRITE_APPEND, &op->writer, &err);
		if (rc != 0) {
			http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
					    err.message);
			return -1;
		}
		/* A large or unsized body is stored on a thread of its own; when
		 * the pipes' memory is spent it is written directly. */
		if (has_len == 0 || clen >= UPLOAD_PIPE_MIN_BODY) {
			rc = upload_pipe_open(&op->pipe, op_store, op, op->ctx, &err);
			if (rc < 0 && rc != BERTH_DECLINED)
				log_warn("upload %s: %s; writing directly", op->uuid, err.message);
		}
		uploads_in_progress(1);
		op->counted = 1;
	}
	return 0;
}

/* Give the upload back before the client hears the answer (see http.h). */
static void op_release(http_request *req)
{
	upload_op *op = req->state;

	if (op && op->claim.entry) {
		upload_state_release(&op->claim, op->ctx, op->size);
		op->ctx = NULL;
	}
}

static upload_op *op_new(http_request *req)
{
	upload_op *op = calloc(1, sizeof(*op));

	if (!op) {
		http_respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				   "out of memory");
		return NULL;
	}
	req->state = op;
	req->cleanup = op_cleanup;
	req->before_response = op_release;
	req->body = op_body;
	req->end = op_end;
	return op;
}

static int uuid_from_route(http_request *req, upload_op *op)
{
	if (!upload_uuid_valid(req->rt.ref)) {
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_BLOB_UPLOAD_UNKNOWN,
				   "upload '%s' is unknown", req->rt.ref);
		return -1;
	}
	memcpy(op->uuid, req->rt.ref, strlen(req->rt.ref) + 1);
	return 0;
}

/* Parse ?digest=; answers and returns < 0 when absent or bad. */
static int expected_digest(http_request *req, digest *d)
{
	const char *s = http_query(req, "digest");
	int rc;

	if (!s) {
		http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_DIGEST_INVALID,
				   "the digest query parameter is required to finish an upload");
		return -1;
	}
	rc = digest_parse(s, d);
	if (rc != 0) {
		http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_DIGEST_INVALID,
				   rc == BERTH_E_UNSUPPORTED ? "unsupported digest algorithm in '%s'"
							     : "invalid digest '%s'",
				   s);
		return -1;
	}
	return 0;
}

/* A body is coming when the client said so. */
static int has_body(http_request *req)
{
	uint64_t n = 0;
	const char *te = http_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);

	if (te)
		return 1;
	return http_content_length(req, &n) > 0 && n > 0;
}

/* POST ?mount=D[&from=R]: link an existing blob instead of uploading it. */
static int try_mount(http_request *req)
{
	const char *mount = http_query(req, "mount");
	const char *from = http_query(req, "from");
	layout_key key;
	digest d;
	char ds[DIGEST_STRING_MAX], loc[LAYOUT_KEY_MAX];
	berth_error err = {0};
	int rc;

	if (!mount)
		return 0;
	if (digest_parse(mount, &d) != 0) {
		http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_DIGEST_INVALID,
				   "invalid digest '%s' to mount", mount);
		return 1;
	}
	if (from) {
		if (!repo_name_valid(from)) {
			http_respond_error(req, MHD_HTTP_BAD_REQUEST, OCI_NAME_INVALID,
					   "invalid repository name to mount from");
			return 1;
		}
		if (layout_layer_link(key, from, &d) != 0 || !storage_exists(key))
			return 0;
	}
	gc_guard_enter();
	gc_protect(&d);
	layout_blob_data(key, &d);
	if (!storage_exists(key)) {
		gc_guard_leave();
		return 0;
	}
	layout_layer_link(key, req->rt.name, &d);
	rc = storage_write_link(key, &d, &err);
	gc_guard_leave();
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		return 1;
	}
	catalog_index_note(req->rt.name);
	digest_format(&d, ds);
	log_debug("blob %s mounted into '%s' from '%s'", ds, req->rt.name, from ? from : "*");
	/* Repository names need no JSON escaping. */
	char detail[REPO_NAME_MAX + 16];
	if (from)
		snprintf(detail, sizeof(detail), "{\"from\":\"%s\"}", from);
	events_emit(&(event_fields){
		.type = "mount",
		.repository = req->rt.name,
		.digest = ds,
		.identity = req->identity.name[0] ? req->identity.name : NULL,
		.client = req->client,
		.source = "core",
		.detail_json = from ? detail : NULL,
	});
	snprintf(loc, sizeof(loc), "/v2/%s/blobs/%s", req->rt.name, ds);
	http_respond(req, MHD_HTTP_CREATED, NULL, "", 0,
		     (const char *const[]){"Location", loc, "Docker-Content-Digest", ds, NULL});
	return 1;
}

void upload_start(http_request *req)
{
	upload_op *op;
	berth_error err = {0};
	int monolithic = http_query(req, "digest") != NULL;
	int rc;

	if (!monolithic && try_mount(req))
		return;
	op = op_new(req);
	if (!op)
		return;
	if (monolithic && expected_digest(req, &op->expected) < 0)
		return;
	rc = upload_create(req->rt.name, op->uuid, &err);
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		return;
	}
	if (!monolithic) {
		respond_upload(req, MHD_HTTP_ACCEPTED, op->uuid, 0);
		return;
	}
	op->created = 1;
	op->finish = 1;
	if (op_take(req, op, 1) < 0)
		return;
}

void upload_patch(http_request *req)
{
	upload_op *op = op_new(req);

	if (!op || uuid_from_route(req, op) < 0)
		return;
	op_take(req, op, 1);
}

void upload_put(http_request *req)
{
	upload_op *op = op_new(req);

	if (!op || uuid_from_route(req, op) < 0)
		return;
	if (expected_digest(req, &op->expected) < 0)
		return;
	op->finish = 1;
	op_take(req, op, has_body(req));
}

void upload_status(http_request *req)
{
	layout_key key;
	berth_stat st;
	berth_error err = {0};
	int rc;

	if (!upload_uuid_valid(req->rt.ref) ||
	    layout_upload_data(key, req->rt.name, req->rt.ref) != 0) {
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_BLOB_UPLOAD_UNKNOWN,
				   "upload '%s' is unknown", req->rt.ref);
		return;
	}
	rc = storage_stat(key, &st, &err);
	if (rc == BERTH_E_NOT_FOUND) {
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_BLOB_UPLOAD_UNKNOWN,
				   "upload '%s' is unknown to repository '%s'", req->rt.ref,
				   req->rt.name);
		return;
	}
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		return;
	}
	respond_upload(req, MHD_HTTP_NO_CONTENT, req->rt.ref, st.size);
}

void upload_cancel(http_request *req)
{
	layout_key key;
	berth_error err = {0};
	upload_claim claim;
	int rc;

	if (!upload_uuid_valid(req->rt.ref) ||
	    layout_upload_dir(key, req->rt.name, req->rt.ref) != 0) {
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_BLOB_UPLOAD_UNKNOWN,
				   "upload '%s' is unknown", req->rt.ref);
		return;
	}
	/* Refuse to pull the data from under a request still writing it. */
	if (upload_state_acquire(req->rt.ref, &claim) == BERTH_E_AGAIN) {
		http_respond_error(req, MHD_HTTP_CONFLICT, OCI_BLOB_UPLOAD_INVALID,
				   "upload '%s' is being written by another request", req->rt.ref);
		return;
	}
	upload_state_release(&claim, NULL, 0);
	rc = storage_remove(key, &err);
	upload_state_forget(req->rt.ref);
	if (rc == BERTH_E_NOT_FOUND) {
		http_respond_error(req, MHD_HTTP_NOT_FOUND, OCI_BLOB_UPLOAD_UNKNOWN,
				   "upload '%s' is unknown to repository '%s'", req->rt.ref,
				   req->rt.name);
		return;
	}
	if (rc != 0) {
		http_respond_status(req, rc, MHD_HTTP_INTERNAL_SERVER_ERROR, OCI_UNKNOWN,
				    err.message);
		return;
	}
	http_respond(req, MHD_HTTP_NO_CONTENT, NULL, "", 0, NULL);
}

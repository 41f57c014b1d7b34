/*
 * trivy_api.c - the plugin's endpoints under /berth/v1/scans:
 *
 *   PUT    /berth/v1/scans/<repository>@<digest>                  import (201 + summary)
 *   GET    /berth/v1/scans/<repository>@<digest>|:<tag>           summary
 *   GET    .../vulnerabilities?severity=HIGH,CRITICAL&fixable=true findings
 *   GET    .../raw                                                the report as imported
 *   DELETE /berth/v1/scans/<repository>@<digest>                  forget the report (204)
 *
 * Besides route:/berth/v1/scans:<METHOD> (asked by the core), each request
 * needs pull (GET), push (PUT) or delete (DELETE) on the repository, so a
 * report is shown only to those who may pull the image. Errors are OCI
 * error bodies: NAME_INVALID, DIGEST_INVALID, TAG_INVALID, MANIFEST_UNKNOWN,
 * REPORT_UNKNOWN, REPORT_INVALID, SIZE_INVALID, DENIED.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "trivy_plugin.h"

#define PREFIX "/berth/v1/scans/"

static int respond_json(struct scan_trivy *st, berth_request *req, int status, json_t *doc)
{
	static const char out_of_memory[] =
		"{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"out of memory\",\"detail\":null}]}";
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	int rc;

	if (!text)
		return st->host->respond(req, 500, "application/json", out_of_memory,
					 sizeof(out_of_memory) - 1);
	rc = st->host->respond(req, status, "application/json", text, strlen(text));
	free(text);
	return rc;
}

static int respond_error(struct scan_trivy *st, berth_request *req, int status, const char *code,
			 const char *message)
{
	json_t *doc = json_pack("{s:[{s:s,s:s,s:n}]}", "errors", "code", code, "message", message,
				"detail");
	int rc;

	/* A message holding invalid UTF-8 would make json_pack fail: say so plainly. */
	if (!doc)
		doc = json_pack("{s:[{s:s,s:s,s:n}]}", "errors", "code", code, "message",
				"the request was refused", "detail");
	rc = respond_json(st, req, status, doc);
	json_decref(doc);
	return rc;
}

/* The answer for a failure code; `invalid_code` names what BERTH_E_INVALID means here. */
static int respond_failure(struct scan_trivy *st, berth_request *req, int rc,
			   const berth_error *err, const char *invalid_code)
{
	switch (rc) {
	case BERTH_E_NAME:
		return respond_error(st, req, 400, "NAME_INVALID", err->message);
	case BERTH_E_DIGEST:
		return respond_error(st, req, 400, "DIGEST_INVALID", err->message);
	case BERTH_E_INVALID:
		return respond_error(st, req, 400, invalid_code, err->message);
	case BERTH_E_NOT_FOUND:
		return respond_error(st, req, 404, "MANIFEST_UNKNOWN", err->message);
	case BERTH_E_TOO_LARGE:
		return respond_error(st, req, 413, "SIZE_INVALID", err->message);
	case BERTH_E_DENIED:
		return respond_error(st, req, 403, "DENIED", err->message);
	case BERTH_E_AGAIN:
		return respond_error(st, req, 503, "UNAVAILABLE", err->message);
	default:
		st->host->log(st->self, BERTH_LOG_ERROR, "%s %s failed: %s",
			      st->host->request_method(req), st->host->request_path(req),
			      err->message);
		return respond_error(st, req, 500, "UNKNOWN", err->message);
	}
}

/* The target of the request's path, and the right to do `action` on its repository. */
static int target_of(struct scan_trivy *st, berth_request *req, const char *action,
		     trivy_target *t, berth_error *err)
{
	const char *path = st->host->request_path(req);
	berth_access access;
	int rc;

	if (strncmp(path, PREFIX, strlen(PREFIX)) != 0)
		return trivy_fail(err, BERTH_E_INVALID,
				  "expected /berth/v1/scans/<repository>@<digest> or "
				  "/berth/v1/scans/<repository>:<tag>");
	rc = trivy_target_parse(path + strlen(PREFIX), t, err);
	if (rc)
		return rc;
	access = (berth_access){"repository", t->repository, action};
	if (BERTH_HOST_HAS(st->host, allowed) && !st->host->allowed(req, &access))
		return trivy_fail(err, BERTH_E_DENIED, "requested access to repository '%s' is denied",
				  t->repository);
	return 0;
}

static int parse_filter(struct scan_trivy *st, berth_request *req, trivy_filter *f,
			berth_error *err)
{
	const char *sev = st->host->request_query(req, "severity");
	const char *fix = st->host->request_query(req, "fixable");

	f->severities = 0;
	f->fixable = -1;
	while (sev && *sev) {
		const char *end = strchr(sev, ',');
		size_t len = end ? (size_t)(end - sev) : strlen(sev);
		int s = trivy_severity_lookup(sev, len);

		if (s < 0)
			return trivy_fail(err, BERTH_E_INVALID,
					  "severity '%.*s' is not one of CRITICAL, HIGH, MEDIUM, LOW, "
					  "UNKNOWN", (int)(len > 40 ? 40 : len), sev);
		f->severities |= 1u << s;
		sev = end ? end + 1 : NULL;
	}
	if (fix) {
		if (!strcasecmp(fix, "true") || !strcmp(fix, "1") || !strcasecmp(fix, "yes"))
			f->fixable = 1;
		else if (!strcasecmp(fix, "false") || !strcmp(fix, "0") || !strcasecmp(fix, "no"))
			f->fixable = 0;
		else
			return trivy_fail(err, BERTH_E_INVALID,
					  "fixable is '%.40s': expected true or false", fix);
	}
	return 0;
}

static int get_raw(struct scan_trivy *st, berth_request *req, const trivy_manifest *m)
{
	berth_error err = {0};
	char *text = NULL;
	size_t len = 0;
	int rc = trivy_store_read(st, m->digest, TRIVY_FILE_REPORT, st->max_report_size, &text, &len,
				  &err);

	if (rc == BERTH_E_NOT_FOUND || rc == BERTH_E_RANGE)
		return respond_error(st, req, 404, "REPORT_UNKNOWN",
				     "no report was imported for this digest itself");
	if (rc)
		return respond_failure(st, req, rc, &err, "UNKNOWN");
	rc = st->host->respond(req, 200, "application/json", text, len);
	free(text);
	return rc;
}

static int scans_get(void *state, berth_request *req, berth_error *unused)
{
	struct scan_trivy *st = state;
	berth_error err = {0};
	trivy_target t;
	trivy_manifest m;
	trivy_filter filter;
	json_t *doc = NULL;
	int rc;

	(void)unused;
	memset(&m, 0, sizeof(m));
	rc = target_of(st, req, "pull", &t, &err);
	if (rc)
		return respond_failure(st, req, rc, &err, "TAG_INVALID");
	if (t.view == TRIVY_VIEW_VULNERABILITIES && (rc = parse_filter(st, req, &filter, &err)))
		return respond_failure(st, req, rc, &err, "FILTER_INVALID");
	rc = trivy_manifest_read(st, t.repository, t.reference, &m, &err);
	if (rc)
		return respond_failure(st, req, rc, &err, "UNKNOWN");
	switch (t.view) {
	case TRIVY_VIEW_RAW:
		rc = get_raw(st, req, &m);
		break;
	case TRIVY_VIEW_VULNERABILITIES:
		rc = trivy_view_vulnerabilities(st, t.repository, t.by_digest ? NULL : t.reference,
						&m, &filter, &doc, &err);
		if (rc == BERTH_E_NOT_FOUND)
			rc = respond_error(st, req, 404, "REPORT_UNKNOWN", err.message);
		else
			rc = rc ? respond_failure(st, req, rc, &err, "UNKNOWN")
				: respond_json(st, req, 200, doc);
		break;
	default:
		rc = trivy_view_summary(st, t.repository, t.by_digest ? NULL : t.reference, &m, &doc,
					&err);
		rc = rc ? respond_failure(st, req, rc, &err, "UNKNOWN") : respond_json(st, req, 200, doc);
	}
	json_decref(doc);
	trivy_manifest_clear(&m);
	return rc;
}

static int scans_put(void *state, berth_request *req, berth_error *unused)
{
	struct scan_trivy *st = state;
	const berth_host *host = st->host;
	berth_error err = {0};
	trivy_target t;
	trivy_import_request in;
	json_t *summary = NULL;
	char location[512];
	size_t len = 0;
	const void *body;
	int rc;

	(void)unused;
	rc = target_of(st, req, "push", &t, &err);
	if (rc)
		return respond_failure(st, req, rc, &err, "TAG_INVALID");
	if (t.view != TRIVY_VIEW_SUMMARY)
		return respond_error(st, req, 405, "UNSUPPORTED",
				     "reports are put at /berth/v1/scans/<repository>@<digest>");
	if (!t.by_digest)
		return respond_error(st, req, 400, "TAG_INVALID",
				     "put a report by digest (/berth/v1/scans/<repository>@<digest>): "
				     "a tag may have moved since the scan");
	body = host->request_body(req, &len);
	if (!body || len == 0)
		return respond_error(st, req, 400, "REPORT_INVALID",
				     "the body is empty: send the report (trivy image --format json)");
	memset(&in, 0, sizeof(in));
	in.repository = t.repository;
	in.digest = t.reference;
	in.body = body;
	in.len = len;
	in.via = "api";
	in.req = req;
	rc = trivy_import(st, &in, &summary, &err);
	if (rc)
		return respond_failure(st, req, rc, &err, "REPORT_INVALID");
	snprintf(location, sizeof(location), PREFIX "%s@%s", t.repository, t.reference);
	host->response_header(req, "Location", location);
	rc = respond_json(st, req, 201, summary);
	json_decref(summary);
	return rc;
}

static int scans_delete(void *state, berth_request *req, berth_error *unused)
{
	struct scan_trivy *st = state;
	const berth_host *host = st->host;
	berth_error err = {0};
	trivy_target t;
	trivy_manifest m;
	int rc;

	(void)unused;
	rc = target_of(st, req, "delete", &t, &err);
	if (rc)
		return respond_failure(st, req, rc, &err, "TAG_INVALID");
	if (t.view != TRIVY_VIEW_SUMMARY || !t.by_digest)
		return respond_error(st, req, 400, "TAG_INVALID",
				     "delete a report by digest (/berth/v1/scans/<repository>@<digest>)");
	rc = trivy_manifest_read(st, t.repository, t.reference, &m, &err);
	if (rc)
		return respond_failure(st, req, rc, &err, "UNKNOWN");
	trivy_manifest_clear(&m);
	pthread_mutex_lock(&st->import_lock);
	rc = trivy_store_remove(st, t.reference, &err);
	trivy_cache_invalidate(st->cache, t.reference);
	pthread_mutex_unlock(&st->import_lock);
	if (rc == BERTH_E_NOT_FOUND)
		return respond_error(st, req, 404, "REPORT_UNKNOWN", "no report for this digest");
	if (rc)
		return respond_failure(st, req, rc, &err, "UNKNOWN");
	host->log(st->self, BERTH_LOG_INFO, "report for %s@%s deleted", t.repository, t.reference);
	if (BERTH_HOST_HAS(host, emit_request_event))
		host->emit_request_event(st->self, req, NULL, "scan.deleted", t.repository, NULL,
					 t.reference, NULL);
	return host->respond(req, 204, NULL, NULL, 0);
}

static const berth_route route_get = {
	.size = sizeof(berth_route),
	.method = "GET",
	.path = "/berth/v1/scans",
	.handle = scans_get,
};

static const berth_route route_put = {
	.size = sizeof(berth_route),
	.method = "PUT",
	.path = "/berth/v1/scans",
	.max_body = TRIVY_REPORT_SIZE_LIMIT,
	.handle = scans_put,
};

static const berth_route route_delete = {
	.size = sizeof(berth_route),
	.method = "DELETE",
	.path = "/berth/v1/scans",
	.handle = scans_delete,
};

const berth_route *const trivy_routes[] = {&route_get, &route_put, &route_delete, NULL};

/*
 * test_record.c - which events and requests become audit lines
 * (audit_record.c), and what those lines say: login and login.failed from
 * an auth plugin, the core's push, pull, delete, mount and blob events, the
 * pull gate's pull.blocked, refusals from requests, and the cases written
 * once although seen twice.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit.h"
#include "test.h"

static const struct audit_filter defaults = {.pulls = 1};

static berth_event event(const char *type)
{
	berth_event ev = {
		.size = sizeof(ev),
		.id = 7,
		.time_ms = 1714564800123LL,
		.type = type,
		.repository = "team/app",
		.tag = "v1",
		.digest = "sha256:aaaa",
		.identity = "ci",
		.client = "127.0.0.1",
		.source = "core",
	};
	return ev;
}

/* The record as the line would show it, parsed back. */
static json_t *line_of(const struct audit_record *r)
{
	size_t len = 0;
	char *line = audit_line_format(r, &len);
	json_t *doc = line ? json_loadb(line, len, 0, NULL) : NULL;

	CHECK(doc != NULL);
	free(line);
	return doc;
}

static const char *str(json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

static void test_core_events(void)
{
	static const struct {
		const char *type, *action, *outcome;
	} cases[] = {
		{"push", "push", "success"},
		{"pull", "pull", "success"},
		{"delete", "delete", "success"},
		{"mount", "mount", "success"},
		{"blob.delete", "blob.delete", "success"},
		{"pull.blocked", "pull", "denied"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		berth_event ev = event(cases[i].type);
		struct audit_record r;
		json_t *doc;

		CHECK_INT(audit_record_from_event(&defaults, &ev, &r), 1);
		doc = line_of(&r);
		CHECK_STR(str(doc, "action"), cases[i].action);
		CHECK_STR(str(doc, "outcome"), cases[i].outcome);
		CHECK_STR(str(doc, "time"), "2024-05-01T12:00:00.123Z");
		CHECK_STR(str(doc, "identity"), "ci");
		CHECK_STR(str(doc, "client"), "127.0.0.1");
		CHECK_STR(str(doc, "repository"), "team/app");
		CHECK_STR(str(doc, "reference"), "v1");
		CHECK_STR(str(doc, "digest"), "sha256:aaaa");
		json_decref(doc);
		audit_record_release(&r);
	}
}

static void test_blocked_reason(void)
{
	berth_event ev = event("pull.blocked");
	struct audit_record r;

	CHECK_INT(audit_record_from_event(&defaults, &ev, &r), 1);
	CHECK_STR(r.reason, "blocked by a pull policy");
	audit_record_release(&r);
	ev.detail_json = "{\"reason\":\"critical CVE-2024-0001\"}";
	CHECK_INT(audit_record_from_event(&defaults, &ev, &r), 1);
	CHECK_STR(r.reason, "critical CVE-2024-0001");
	audit_record_release(&r);
}

/* A pull by digest names no tag: the reference is the digest. */
static void test_reference_by_digest(void)
{
	berth_event ev = event("pull");
	struct audit_record r;

	ev.tag = NULL;
	CHECK_INT(audit_record_from_event(&defaults, &ev, &r), 1);
	CHECK_STR(r.reference, "sha256:aaaa");
	audit_record_release(&r);
}

static void test_filters(void)
{
	struct audit_filter f = defaults;
	berth_event pull = event("pull"), blob = event("blob.push"), other = event("scan.done");
	static const char *const extra[] = {"robot.revoked", "token.denied", "x.failed"};
	struct audit_record r;

	CHECK_INT(audit_record_from_event(&f, &blob, &r), 0);
	CHECK(r.action == NULL);
	CHECK_INT(audit_record_from_event(&f, &other, &r), 0);
	f.pulls = 0;
	CHECK_INT(audit_record_from_event(&f, &pull, &r), 0);
	f.blob_pushes = 1;
	CHECK_INT(audit_record_from_event(&f, &blob, &r), 1);
	CHECK_STR(r.action, "blob.push");
	audit_record_release(&r);

	f.extra_events = extra;
	f.n_extra_events = 3;
	other.type = "robot.revoked";
	CHECK_INT(audit_record_from_event(&f, &other, &r), 1);
	CHECK_STR(r.action, "robot.revoked");
	CHECK_STR(r.outcome, "success");
	audit_record_release(&r);
	other.type = "token.denied";
	CHECK_INT(audit_record_from_event(&f, &other, &r), 1);
	CHECK_STR(r.outcome, "denied");
	audit_record_release(&r);
	other.type = "x.failed";
	CHECK_INT(audit_record_from_event(&f, &other, &r), 1);
	CHECK_STR(r.outcome, "failure");
	audit_record_release(&r);
	other.type = "scan.done";
	CHECK_INT(audit_record_from_event(&f, &other, &r), 0);
}

/* What auth-token emits through host->emit_request_event. */
static void test_login_events(void)
{
	berth_event ok = event("login"), bad = event("login.failed");
	struct audit_record r;
	json_t *doc, *scopes;

	ok.repository = ok.tag = ok.digest = NULL;
	ok.identity = "alice";
	ok.client = "10.0.0.7";
	ok.source = "auth-token";
	ok.detail_json = "{\"scopes\":[\"repository:team/app:pull,push\",\"registry:catalog:*\","
			 "42],\"token\":\"eyJhbGciOi.secret.part\",\"password\":\"hunter2\"}";
	CHECK_INT(audit_record_from_event(&defaults, &ok, &r), 1);
	doc = line_of(&r);
	CHECK_STR(str(doc, "action"), "login");
	CHECK_STR(str(doc, "outcome"), "success");
	CHECK_STR(str(doc, "identity"), "alice");
	CHECK_STR(str(doc, "client"), "10.0.0.7");
	CHECK(json_is_null(json_object_get(doc, "repository")));
	CHECK(json_is_null(json_object_get(doc, "reason")));
	scopes = json_object_get(doc, "scopes");
	CHECK_INT(json_array_size(scopes), 2);
	CHECK_STR(json_string_value(json_array_get(scopes, 0)), "repository:team/app:pull,push");
	CHECK_STR(json_string_value(json_array_get(scopes, 1)), "registry:catalog:*");
	/* Nothing else of the detail reaches the line. */
	CHECK(json_object_get(doc, "token") == NULL);
	CHECK(json_object_get(doc, "password") == NULL);
	json_decref(doc);
	{
		size_t len = 0;
		char *line = audit_line_format(&r, &len);
		CHECK(line && !strstr(line, "hunter2") && !strstr(line, "eyJhbGciOi"));
		free(line);
	}
	audit_record_release(&r);

	bad.repository = bad.tag = bad.digest = NULL;
	bad.identity = "mallory";
	bad.detail_json = "{\"reason\":\"invalid password\"}";
	CHECK_INT(audit_record_from_event(&defaults, &bad, &r), 1);
	doc = line_of(&r);
	CHECK_STR(str(doc, "action"), "login");
	CHECK_STR(str(doc, "outcome"), "failure");
	CHECK_STR(str(doc, "identity"), "mallory");
	CHECK_STR(str(doc, "reason"), "invalid password");
	CHECK(json_object_get(doc, "scopes") == NULL);
	json_decref(doc);
	audit_record_release(&r);

	/* No detail, or a detail of the wrong shape: a line all the same. */
	bad.detail_json = NULL;
	CHECK_INT(audit_record_from_event(&defaults, &bad, &r), 1);
	CHECK_STR(r.reason, "login failed");
	audit_record_release(&r);
	bad.detail_json = "{\"reason\":17}";
	CHECK_INT(audit_record_from_event(&defaults, &bad, &r), 1);
	CHECK_STR(r.reason, "login failed");
	audit_record_release(&r);
	ok.detail_json = "[1,2]";
	CHECK_INT(audit_record_from_event(&defaults, &ok, &r), 1);
	CHECK_INT(r.has_scopes, 0);
	audit_record_release(&r);
	ok.identity = NULL;
	CHECK_INT(audit_record_from_event(&defaults, &ok, &r), 1);
	doc = line_of(&r);
	CHECK_STR(str(doc, "identity"), "anonymous");
	json_decref(doc);
	audit_record_release(&r);
}

static struct audit_request request(const char *method, int route, int status,
				    const char *error_code, const berth_identity *id)
{
	struct audit_request q = {
		.time_ms = 1000,
		.method = method,
		.route = route,
		.path = "/v2/team/app/manifests/v1",
		.repository = "team/app",
		.reference = "v1",
		.client = "127.0.0.1",
		.identity = id,
		.status = status,
		.error_code = error_code,
		.pull_allowed = -1,
	};
	return q;
}

static void test_requests(void)
{
	berth_identity ci = {.size = sizeof(ci), .name = "ci"};
	berth_identity anon = {.size = sizeof(anon)};
	struct audit_request q;
	struct audit_record r;
	json_t *doc;

	/* Successes and other errors are not refusals. */
	q = request("GET", BERTH_ROUTE_MANIFEST, 200, NULL, &ci);
	CHECK_INT(audit_record_from_request(&defaults, &q, &r), 0);
	q = request("GET", BERTH_ROUTE_MANIFEST, 404, "MANIFEST_UNKNOWN", &ci);
	CHECK_INT(audit_record_from_request(&defaults, &q, &r), 0);
	q = request("GET", BERTH_ROUTE_MANIFEST, 403, "UNSUPPORTED", &ci);
	CHECK_INT(audit_record_from_request(&defaults, &q, &r), 0);

	/* A push refused to a known identity. */
	q = request("POST", BERTH_ROUTE_UPLOAD, 403, "DENIED", &ci);
	q.path = "/v2/locked/app/blobs/uploads/";
	q.repository = "locked/app";
	q.reference = "";
	q.error_message = "not allowed to push to locked/app";
	CHECK_INT(audit_record_from_request(&defaults, &q, &r), 1);
	doc = line_of(&r);
	CHECK_STR(str(doc, "message"), "not allowed to push to locked/app");
	CHECK_STR(str(doc, "action"), "push");
	CHECK_STR(str(doc, "outcome"), "denied");
	CHECK_STR(str(doc, "identity"), "ci");
	CHECK_STR(str(doc, "repository"), "locked/app");
	CHECK(json_is_null(json_object_get(doc, "reference")));
	CHECK_STR(str(doc, "reason"), "access denied");
	CHECK_INT(json_integer_value(json_object_get(doc, "status")), 403);
	CHECK_STR(str(doc, "path"), "/v2/locked/app/blobs/uploads/");
	json_decref(doc);

	/* Wrong credentials: a failure; none at all: a denial. */
	q = request("GET", BERTH_ROUTE_MANIFEST, 401, "UNAUTHORIZED", &anon);
	q.has_credentials = 1;
	CHECK_INT(audit_record_from_request(&defaults, &q, &r), 1);
	CHECK_STR(r.action, "pull");
	CHECK_STR(r.outcome, "failure");
	CHECK_STR(r.reason, "credentials rejected");
	/* No message from the host: the line says null, the reason is unchanged. */
	CHECK(r.message == NULL);
	doc = line_of(&r);
	CHECK(json_is_null(json_object_get(doc, "message")));
	json_decref(doc);
	q.has_credentials = 0;
	CHECK_INT(audit_record_from_request(&defaults, &q, &r), 1);
	CHECK_STR(r.outcome, "denied");
	CHECK_STR(r.reason, "authentication required");

	/* The login handshake's first 401 is noise unless asked for. */
	q = request("GET", BERTH_ROUTE_BASE, 401, "UNAUTHORIZED", &anon);
	q.repository = q.reference = "";
	CHECK_INT(audit_record_from_request(&defaults, &q, &r), 0);
	{
		struct audit_filter f = defaults;
		f.challenges = 1;
		CHECK_INT(audit_record_from_request(&f, &q, &r), 1);
		CHECK_STR(r.action, "login");
	}
	q.has_credentials = 1;
	CHECK_INT(audit_record_from_request(&defaults, &q, &r), 1);
	CHECK_STR(r.action, "login");
	CHECK_STR(r.outcome, "failure");

	/* A manifest by digest: the reference is the digest. */
	q = request("DELETE", BERTH_ROUTE_MANIFEST, 403, "DENIED", &ci);
	q.reference = "sha256:bbbb";
	CHECK_INT(audit_record_from_request(&defaults, &q, &r), 1);
	CHECK_STR(r.action, "delete");
	CHECK_STR(r.reference, "sha256:bbbb");
	CHECK_STR(r.digest, "sha256:bbbb");
	q = request("DELETE", BERTH_ROUTE_BLOB, 403, "DENIED", &ci);
	q.reference = "sha256:cccc";
	CHECK_INT(audit_record_from_request(&defaults, &q, &r), 1);
	CHECK_STR(r.action, "blob.delete");
	CHECK_STR(r.digest, "sha256:cccc");
}

/* A 403 on a manifest pull the identity may do came from a pull gate. */
static void test_gate_written_once(void)
{
	berth_identity ci = {.size = sizeof(ci), .name = "ci"};
	struct audit_request q = request("GET", BERTH_ROUTE_MANIFEST, 403, "DENIED", &ci);
	struct audit_record r;

	CHECK_INT(audit_request_needs_pull_check(&q), 1);
	q.pull_allowed = 1;
	CHECK_INT(audit_record_from_request(&defaults, &q, &r), 0);
	q.pull_allowed = 0;
	CHECK_INT(audit_record_from_request(&defaults, &q, &r), 1);
	q.pull_allowed = -1;
	CHECK_INT(audit_record_from_request(&defaults, &q, &r), 1);
	/* A refusal before authentication (a request hook) is always written. */
	q.identity = NULL;
	CHECK_INT(audit_request_needs_pull_check(&q), 0);
	q.pull_allowed = 1;
	CHECK_INT(audit_record_from_request(&defaults, &q, &r), 1);
	/* Not a manifest read: nothing to check. */
	q = request("PUT", BERTH_ROUTE_MANIFEST, 403, "DENIED", &ci);
	CHECK_INT(audit_request_needs_pull_check(&q), 0);
}

/* A public plugin route (a token endpoint) reports through its own events. */
static void test_plugin_routes(void)
{
	berth_identity ci = {.size = sizeof(ci), .name = "ci"};
	struct audit_request q = request("GET", BERTH_ROUTE_PLUGIN, 401, "UNAUTHORIZED", NULL);
	struct audit_record r;

	q.path = "/auth/token";
	q.repository = q.reference = "";
	q.has_credentials = 1;
	CHECK_INT(audit_record_from_request(&defaults, &q, &r), 0);
	q.identity = &ci;
	q.status = 403;
	q.error_code = "DENIED";
	CHECK_INT(audit_record_from_request(&defaults, &q, &r), 1);
	CHECK_STR(r.action, "route");
	CHECK_STR(r.path, "/auth/token");
	CHECK(r.reference == NULL);
}

int main(void)
{
	test_core_events();
	test_blocked_reason();
	test_reference_by_digest();
	test_filters();
	test_login_events();
	test_requests();
	test_gate_written_once();
	test_plugin_routes();
	TEST_MAIN_END();
}

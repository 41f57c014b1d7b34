/*
 * audit_record.c - which events and requests are security-relevant acts,
 * and what their lines say.
 *
 * An act seen both as an event and as a request is written once:
 *   - what succeeded (push, pull, delete, mount, login) comes from its event,
 *     which names the digest and the identity;
 *   - a refusal (401, 403) comes from its request, since the core emits no
 *     event for it; except a pull refused by a pull gate (scan, signature),
 *     which the core reports as a "pull.blocked" event with the digest, so
 *     its request is left out.
 * Blob uploads are parts of a push: they are written only when asked
 * (log_blob_pushes), the manifest's push line being the act.
 */
#include <string.h>

#include "audit.h"

static const char *const outcome_success = "success";
static const char *const outcome_failure = "failure";
static const char *const outcome_denied = "denied";

static int is(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

void audit_record_release(struct audit_record *r)
{
	if (r && r->detail) {
		json_decref(r->detail);
		r->detail = NULL;
	}
}

/*
 * The two things a line takes from an event's detail_json: "reason" (a
 * string) and, for a login, "scopes" (strings). Nothing else of the
 * detail is copied, so a plugin's detail cannot carry a secret into the
 * file by accident.
 */
static void take_detail(const berth_event *ev, struct audit_record *r, int want_scopes)
{
	json_t *doc, *reason, *scopes;

	if (!ev->detail_json)
		return;
	doc = json_loads(ev->detail_json, 0, NULL);
	if (!doc || !json_is_object(doc)) {
		json_decref(doc);
		return;
	}
	r->detail = doc;
	reason = json_object_get(doc, "reason");
	if (json_is_string(reason))
		r->reason = json_string_value(reason);
	scopes = json_object_get(doc, "scopes");
	if (want_scopes && json_is_array(scopes)) {
		size_t i;
		json_t *s;

		r->has_scopes = 1;
		json_array_foreach(scopes, i, s) {
			if (r->n_scopes == AUDIT_SCOPES_MAX)
				break;
			if (json_is_string(s))
				r->scopes[r->n_scopes++] = json_string_value(s);
		}
	}
}

static int extra_event(const struct audit_filter *f, const char *type)
{
	for (size_t i = 0; i < f->n_extra_events; i++)
		if (is(type, f->extra_events[i]))
			return 1;
	return 0;
}

int audit_record_from_event(const struct audit_filter *f, const berth_event *ev,
			    struct audit_record *r)
{
	const char *type = ev ? ev->type : NULL;
	int login = 0;

	memset(r, 0, sizeof(*r));
	if (!type)
		return 0;
	r->outcome = outcome_success;
	if (is(type, "push") || is(type, "delete") || is(type, "mount") ||
	    is(type, "blob.delete")) {
		r->action = type;
	} else if (is(type, "pull")) {
		if (!f->pulls)
			return 0;
		r->action = type;
	} else if (is(type, "blob.push")) {
		if (!f->blob_pushes)
			return 0;
		r->action = type;
	} else if (is(type, "pull.blocked")) {
		r->action = "pull";
		r->outcome = outcome_denied;
	} else if (is(type, "login")) {
		r->action = "login";
		login = 1;
	} else if (is(type, "login.failed")) {
		r->action = "login";
		r->outcome = outcome_failure;
	} else if (extra_event(f, type)) {
		r->action = type;
		if (ends_with(type, ".failed"))
			r->outcome = outcome_failure;
		else if (ends_with(type, ".denied") || ends_with(type, ".blocked"))
			r->outcome = outcome_denied;
	} else {
		memset(r, 0, sizeof(*r));
		return 0;
	}
	r->time_ms = ev->time_ms;
	r->identity = ev->identity;
	r->client = ev->client;
	r->repository = ev->repository;
	/* By tag when the act named one, else by the digest it addressed. */
	r->reference = ev->tag && *ev->tag ? ev->tag : ev->digest;
	r->digest = ev->digest;
	take_detail(ev, r, login);
	if (!r->reason && is(type, "pull.blocked"))
		r->reason = "blocked by a pull policy";
	if (!r->reason && is(type, "login.failed"))
		r->reason = "login failed";
	return 1;
}

/* ------------------------------------------------------------------------ */

/* What a request on a registry route tried to do. */
static const char *request_action(const struct audit_request *q)
{
	const char *m = q->method ? q->method : "";
	int read = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;

	switch (q->route) {
	case BERTH_ROUTE_BASE:
		return "login";
	case BERTH_ROUTE_CATALOG:
		return "catalog";
	case BERTH_ROUTE_TAGS:
		return "list";
	case BERTH_ROUTE_MANIFEST:
		if (read)
			return "pull";
		return strcmp(m, "DELETE") == 0 ? "delete" : "push";
	case BERTH_ROUTE_BLOB:
		if (read)
			return "pull";
		return strcmp(m, "DELETE") == 0 ? "blob.delete" : "push";
	case BERTH_ROUTE_UPLOAD:
		return "push";
	case BERTH_ROUTE_REFERRERS:
		return "pull";
	case BERTH_ROUTE_PLUGIN:
		return "route";
	case BERTH_ROUTE_ADMIN:
		return "admin";
	default:
		return "other";
	}
}

static int manifest_read(const struct audit_request *q)
{
	return q->route == BERTH_ROUTE_MANIFEST && q->method &&
	       (strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0);
}

int audit_request_needs_pull_check(const struct audit_request *q)
{
	return q->status == 403 && manifest_read(q) && q->identity != NULL;
}

int audit_record_from_request(const struct audit_filter *f, const struct audit_request *q,
			      struct audit_record *r)
{
	int unauthorized = q->status == 401 && is(q->error_code, "UNAUTHORIZED");
	int denied = q->status == 403 && is(q->error_code, "DENIED");

	memset(r, 0, sizeof(*r));
	if (!unauthorized && !denied)
		return 0;
	/* Every client's first GET /v2/ is refused to learn how to log in. */
	if (unauthorized && q->route == BERTH_ROUTE_BASE && !q->has_credentials &&
	    !f->challenges)
		return 0;
	/* Refused by a pull gate: the pull.blocked event is the record. */
	if (denied && manifest_read(q) && q->identity && q->pull_allowed == 1)
		return 0;
	/*
	 * A public plugin route (a token endpoint) answers for itself and
	 * reports its outcomes as events (login, login.failed); the core's
	 * authorization, which refuses the other routes, always sets an
	 * identity.
	 */
	if (q->route == BERTH_ROUTE_PLUGIN && !q->identity)
		return 0;

	r->time_ms = q->time_ms;
	r->action = request_action(q);
	r->identity = q->identity ? q->identity->name : NULL;
	r->client = q->client;
	r->repository = q->repository;
	if (q->route == BERTH_ROUTE_MANIFEST || q->route == BERTH_ROUTE_BLOB ||
	    q->route == BERTH_ROUTE_REFERRERS) {
		r->reference = q->reference;
		/* A reference with an algorithm prefix is a digest; a tag cannot hold ':'. */
		if (q->reference && strchr(q->reference, ':'))
			r->digest = q->reference;
	}
	r->status = q->status;
	r->path = q->path ? q->path : "";
	/*
	 * The reason stays a stable category to filter on; the message is the
	 * core's OCI error text, which names no credential.
	 */
	r->message = q->error_message;
	if (denied) {
		r->outcome = outcome_denied;
		r->reason = "access denied";
	} else if (q->has_credentials) {
		r->outcome = outcome_failure;
		r->reason = "credentials rejected";
	} else {
		r->outcome = outcome_denied;
		r->reason = "authentication required";
	}
	return 1;
}

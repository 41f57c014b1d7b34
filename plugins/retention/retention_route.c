/*
 * retention_route.c - GET /berth/v1/retention/plan: what a run would
 * delete now, per repository, as JSON (the dry run's table as data).
 *
 *   GET /berth/v1/retention/plan                   every selected repository
 *   GET /berth/v1/retention/plan?repository=NAME   one repository
 *
 * The route needs route:/berth/v1/retention:GET from the auth plugins, and
 * lists only the repositories the caller may pull, so it never shows a
 * repository's tags to someone who cannot see them.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "retention.h"

#define PLAN_PATH "/berth/v1/retention/plan"
#define JSON_TYPE "application/json"

static int respond_error(const berth_host *h, berth_request *req, int status, const char *code,
			 const char *message)
{
	json_t *body = json_pack("{s[{sssssn}]}", "errors", "code", code, "message", message,
				 "detail");
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc;

	json_decref(body);
	if (!text)
		return BERTH_E_NOMEM;
	rc = h->respond(req, status, JSON_TYPE, text, strlen(text));
	free(text);
	return rc;
}

static int may_pull(const berth_host *h, const berth_request *req, const char *repository)
{
	berth_access a = {.type = "repository", .name = repository, .action = "pull"};

	return !BERTH_HOST_HAS(h, allowed) || !h->allowed || h->allowed(req, &a);
}

static int stop_at_first(void *ctx, const char *name)
{
	(void)name;
	*(int *)ctx = 1;
	return 1;
}

/* One repository's entry: its plan, or {"repository": ..., "error": ...}. */
static json_t *repository_entry(struct retention_state *st, const char *repository,
				json_t *total)
{
	struct retention_repo_in in;
	struct retention_plan plan;
	berth_error err = {0};
	json_t *o;
	int rc = retention_collect(st->host, repository, &in, &err);

	if (rc == BERTH_E_NOT_FOUND)
		return json_null();
	if (rc < 0)
		return json_pack("{ssss}", "repository", repository, "error", err.message);
	rc = retention_plan_make(&st->rules, &in, &plan);
	if (rc < 0) {
		retention_repo_in_free(&in);
		return NULL;
	}
	o = retention_plan_json_repo(&st->rules, &in, &plan);
	json_object_set_new(total, "tags", json_integer(json_integer_value(
		json_object_get(total, "tags")) + (json_int_t)plan.n_tags_deleted));
	json_object_set_new(total, "manifests", json_integer(json_integer_value(
		json_object_get(total, "manifests")) + (json_int_t)plan.n_order));
	json_object_set_new(total, "bytes", json_integer(json_integer_value(
		json_object_get(total, "bytes")) + (json_int_t)plan.bytes));
	retention_plan_free(&plan);
	retention_repo_in_free(&in);
	return o;
}

/* The repository named in ?repository=, checked: 0, or an answer was sent (1) or failed. */
static int check_named(struct retention_state *st, berth_request *req, const char *name)
{
	const berth_host *h = st->host;
	berth_error err = {0};
	int found = 0, rc;

	rc = h->list_manifests(name, stop_at_first, &found, &err);
	if (rc == BERTH_E_NAME || rc == BERTH_E_INVALID)
		return respond_error(h, req, 400, "NAME_INVALID", "invalid repository name") < 0 ? -1 : 1;
	if (rc == BERTH_E_NOT_FOUND || (rc == 0 && !found) || !may_pull(h, req, name))
		return respond_error(h, req, 404, "NAME_UNKNOWN",
				     "repository name not known to registry") < 0 ? -1 : 1;
	if (rc < 0)
		return respond_error(h, req, 500, "UNKNOWN", err.message) < 0 ? -1 : 1;
	return 0;
}

int retention_route_plan(void *state, berth_request *req, berth_error *err)
{
	struct retention_state *st = state;
	const berth_host *h = st->host;
	const char *path = h->request_path(req), *only = h->request_query(req, "repository");
	struct retention_names repos = {0};
	json_t *doc = NULL, *list, *total;
	char *text = NULL;
	size_t i;
	int rc;

	if (!path || strcmp(path, PLAN_PATH) != 0)
		return respond_error(h, req, 404, "UNSUPPORTED", "no such endpoint");
	if (only) {
		rc = check_named(st, req, only);
		if (rc != 0)
			return rc < 0 ? retention_fail(err, BERTH_E_NOMEM, "out of memory") : 0;
		retention_names_add(&repos, only);
	} else {
		rc = h->list_repositories(retention_names_add, &repos, err);
	}
	if (rc == 0 && repos.failed)
		rc = retention_fail(err, BERTH_E_NOMEM, "out of memory");
	if (rc < 0)
		goto out;
	doc = json_pack("{sbsbsIs[]s{sIsIsIsI}}", "dry_run", 1, "enforce", st->enforce,
			"time_ms", (json_int_t)h->now_ms(), "repositories", "total",
			"repositories", (json_int_t)0, "tags", (json_int_t)0, "manifests",
			(json_int_t)0, "bytes", (json_int_t)0);
	if (!doc) {
		rc = retention_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	list = json_object_get(doc, "repositories");
	total = json_object_get(doc, "total");
	for (i = 0; i < repos.n; i++) {
		json_t *entry;

		if (!retention_repository_selected(&st->rules, repos.v[i]) ||
		    !may_pull(h, req, repos.v[i]))
			continue;
		entry = repository_entry(st, repos.v[i], total);
		if (!entry) {
			rc = retention_fail(err, BERTH_E_NOMEM, "out of memory");
			goto out;
		}
		if (json_is_null(entry)) {
			json_decref(entry);
			continue;
		}
		json_array_append_new(list, entry);
	}
	json_object_set_new(total, "repositories", json_integer((json_int_t)json_array_size(list)));
	text = json_dumps(doc, JSON_COMPACT);
	if (!text) {
		rc = retention_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = h->respond(req, 200, JSON_TYPE, text, strlen(text));
out:
	free(text);
	json_decref(doc);
	retention_names_free(&repos);
	return rc;
}

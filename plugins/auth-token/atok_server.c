/*
 * atok_server.c - the token server at /auth/token (token-auth.md sections
 * 3 to 5).
 *
 *   GET  /auth/token?service=S&scope=...&account=A&offline_token=true
 *        with Basic credentials, or none for the anonymous identity;
 *   POST /auth/token, a form: grant_type=password (username, password) or
 *        grant_type=refresh_token (refresh_token), scope (space-separated),
 *        access_type=offline.
 *
 * The token grants the intersection of what was asked and what the policy
 * (or a robot's grants) allows; what is not allowed is left out, never an
 * error, so an anonymous client gets a token (maybe granting nothing) and
 * the registry then answers insufficient_scope. Wrong credentials are 401,
 * a locked-out client or account 429 with Retry-After. Every outcome is an
 * event: "login" or "login.failed" with the reason; no password or token
 * ever goes into one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "auth_token.h"

#define FIELD_MAX 512

typedef struct token_request {
	int post;
	const char *grant;             /* "password", "refresh_token" or "anonymous" */
	char service[FIELD_MAX];
	char account[FIELD_MAX];       /* GET account=, or POST username= */
	char user[BERTH_IDENTITY_NAME_MAX + 1];
	char password[ATOK_CREDENTIALS_MAX];
	char client_id[FIELD_MAX];
	char *refresh;                 /* POST refresh_token= */
	int offline;
	int have_credentials;
	atok_access_list asked;
	size_t bad_scopes;
} token_request;

static void request_free(token_request *t)
{
	if (!t)
		return;
	atok_access_list_free(&t->asked);
	OPENSSL_cleanse(t->password, sizeof(t->password));
	if (t->refresh)
		OPENSSL_cleanse(t->refresh, strlen(t->refresh));
	free(t->refresh);
	free(t);
}

static int respond_json(atok_state *st, berth_request *req, int status, json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	int rc;

	json_decref(doc);
	if (!text)
		return BERTH_E_NOMEM;
	/* RFC 6749 section 5.1: responses with tokens are never cached. */
	st->host->response_header(req, "Cache-Control", "no-store");
	rc = st->host->respond(req, status, "application/json", text, strlen(text));
	free(text);
	return rc;
}

/* The OCI error envelope, plus OAuth2's error fields for POST clients. */
static int respond_error(atok_state *st, berth_request *req, int status, const char *code,
			 const char *oauth, const char *message)
{
	json_t *doc = json_pack("{s:[{s:s, s:s, s:n}], s:s, s:s}", "errors", "code", code,
				"message", message, "detail", "error", oauth,
				"error_description", message);

	if (!doc)
		return BERTH_E_NOMEM;
	return respond_json(st, req, status, doc);
}

static void emit_failure(atok_state *st, const berth_request *req, const char *account,
			 const token_request *t, const char *reason)
{
	json_t *detail = json_pack("{s:s, s:s}", "reason", reason, "grant", t->grant);

	atok_emit_login(st, req, account, 0, detail);
}

/*
 * The idx-th value of a query parameter: docker asks for several scopes as
 * repeated scope= parameters. A host without request_query_value gives the
 * first only.
 */
static const char *query_value(atok_state *st, const berth_request *req, const char *name,
			       size_t idx)
{
	if (BERTH_HOST_HAS(st->host, request_query_value) && st->host->request_query_value)
		return st->host->request_query_value(req, name, idx);
	return idx == 0 ? st->host->request_query(req, name) : NULL;
}

/* Read a field: query for GET, form body for POST. -1 when malformed. */
static int field(atok_state *st, const berth_request *req, const char *form, size_t form_len,
		 const char *name, char *out, size_t cap)
{
	const char *v;

	if (form)
		return atok_form_value(form, form_len, name, 0, out, cap);
	v = query_value(st, req, name, 0);
	if (!v)
		return 0;
	if (strlen(v) >= cap)
		return -1;
	memcpy(out, v, strlen(v) + 1);
	return 1;
}

/* Fill t from the request. 0, or an HTTP status (400) with *why set. */
static int read_request(atok_state *st, berth_request *req, token_request *t, const char **why)
{
	const char *form = NULL;
	size_t form_len = 0;
	char buf[4096], grant[32] = "";
	int rc;

	t->post = strcmp(st->host->request_method(req), "POST") == 0;
	if (t->post) {
		const char *ctype = st->host->request_header(req, "Content-Type");
		form = st->host->request_body(req, &form_len);
		if (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0) {
			*why = "the body must be application/x-www-form-urlencoded";
			return 400;
		}
		if (!form)
			form = "";
		if (atok_form_value(form, form_len, "grant_type", 0, grant, sizeof(grant)) != 1) {
			*why = "grant_type is required (password or refresh_token)";
			return 400;
		}
	}
	if (field(st, req, form, form_len, "service", t->service, sizeof(t->service)) < 0 ||
	    field(st, req, form, form_len, "client_id", t->client_id, sizeof(t->client_id)) < 0 ||
	    field(st, req, form, form_len, t->post ? "username" : "account", t->account,
		  sizeof(t->account)) < 0) {
		*why = "malformed or overlong parameter";
		return 400;
	}
	if (t->service[0] && strcmp(t->service, st->cfg.service) != 0) {
		*why = "unknown service";
		return 400;
	}
	/* GET repeats scope=, POST sends one, space-separated (token-auth.md section 8). */
	for (size_t idx = 0; idx < ATOK_SCOPES_MAX; idx++) {
		const char *v = NULL;

		if (form) {
			rc = atok_form_value(form, form_len, "scope", idx, buf, sizeof(buf));
			v = rc == 1 ? buf : NULL;
		} else {
			v = query_value(st, req, "scope", idx);
			rc = v && strlen(v) >= sizeof(buf) ? -1 : v != NULL;
		}
		if (rc < 0) {
			*why = "malformed or overlong scope";
			return 400;
		}
		if (!v)
			break;
		if (atok_scope_parse(v, &t->asked, &t->bad_scopes) < 0) {
			*why = "out of memory";
			return 500;
		}
	}
	rc = field(st, req, form, form_len, t->post ? "access_type" : "offline_token", buf,
		   sizeof(buf));
	t->offline = rc == 1 && (strcmp(buf, "offline") == 0 || strcmp(buf, "true") == 0);
	if (!t->post) {
		rc = atok_basic_parse(st->host->request_header(req, "Authorization"), t->user,
				      sizeof(t->user), t->password, sizeof(t->password));
		if (rc < 0) {
			*why = "malformed basic credentials";
			return 401;
		}
		t->have_credentials = rc == 1;
		t->grant = rc == 1 ? "password" : "anonymous";
		if (rc == 1 && t->account[0] && strcmp(t->account, t->user) != 0) {
			*why = "account does not match the credentials";
			return 401;
		}
		return 0;
	}
	if (strcmp(grant, "password") == 0) {
		t->grant = "password";
		if (strlen(t->account) >= sizeof(t->user) ||
		    atok_form_value(form, form_len, "password", 0, t->password,
				    sizeof(t->password)) != 1 ||
		    !t->account[0]) {
			*why = "grant_type=password needs username and password";
			return 400;
		}
		memcpy(t->user, t->account, strlen(t->account) + 1);
		t->have_credentials = 1;
		return 0;
	}
	if (strcmp(grant, "refresh_token") == 0) {
		t->grant = "refresh_token";
		t->refresh = malloc(ATOK_TOKEN_MAX + 1);
		if (!t->refresh) {
			*why = "out of memory";
			return 500;
		}
		if (atok_form_value(form, form_len, "refresh_token", 0, t->refresh,
				    ATOK_TOKEN_MAX + 1) != 1 ||
		    !t->refresh[0]) {
			*why = "grant_type=refresh_token needs refresh_token";
			return 400;
		}
		return 0;
	}
	*why = "unsupported grant_type (password or refresh_token)";
	return 400;
}

/* What the policy or a robot's grants give who on one asked resource. */
static int grant_entry(atok_state *st, const atok_account *who, const atok_access *e,
		       atok_access_list *out)
{
	atok_who w = {who->name, who->groups};
	unsigned allowed, all = atok_type_actions(e->type);
	atok_db *db = NULL;
	int rc = 0;

	if (strcmp(e->type, "repository") == 0 && !atok_repository_name_valid(e->name))
		return 0;
	if (who->robot) {
		const atok_robot *robot;
		db = atok_store_get(&st->store);
		robot = atok_robot_find(&db->acc, who->name);
		allowed = robot ? atok_grants_actions(&robot->grants, e->type, e->name, NULL) : 0;
		atok_db_put(db);
	} else {
		allowed = atok_policy_actions(&st->policy, &w, e->type, e->name, NULL);
	}
	for (size_t k = 0; rc == 0 && k < e->n_actions; k++) {
		const char *action = e->actions[k];
		unsigned bit = atok_action_bit(e->type, action);

		if (!bit)
			continue;
		if (bit != ATOK_ALL) {
			if (atok_actions_cover(allowed, bit))
				rc = atok_access_list_add(out, e->type, e->name, action);
			continue;
		}
		/* "*" asked: granted whole when everything is allowed, else the parts that are. */
		if ((allowed & ATOK_ALL) || (all && (allowed & all) == all)) {
			rc = atok_access_list_add(out, e->type, e->name, "*");
			continue;
		}
		for (unsigned b = 1; rc == 0 && b < ATOK_ALL; b <<= 1)
			if ((all & b) && (allowed & b))
				rc = atok_access_list_add(out, e->type, e->name,
							  atok_action_name(e->type, b));
	}
	return rc;
}

static json_t *access_json(const atok_access_list *l)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < l->n; i++) {
		json_t *actions = json_array();
		if (l->v[i].n_actions == 0) {
			json_decref(actions);
			continue;
		}
		for (size_t k = 0; actions && k < l->v[i].n_actions; k++)
			json_array_append_new(actions, json_string(l->v[i].actions[k]));
		if (!actions || json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "type",
								     l->v[i].type, "name",
								     l->v[i].name, "actions",
								     actions)) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static void random_id(char *out, size_t cap)
{
	unsigned char raw[16];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		memset(raw, 0, sizeof(raw));
	for (size_t i = 0; i < sizeof(raw) && 2 * i + 2 < cap; i++)
		snprintf(out + 2 * i, cap - 2 * i, "%02x", raw[i]);
}

static char *sign(atok_state *st, const char *sub, int64_t now, int64_t lifetime,
		  const atok_access_list *access, const char *fingerprint)
{
	char jti[40];
	json_t *claims;
	char *token = NULL;

	random_id(jti, sizeof(jti));
	claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "iss", st->cfg.issuer, "sub",
			   sub, "aud", st->cfg.service, "exp", (json_int_t)(now + lifetime), "nbf",
			   (json_int_t)now, "iat", (json_int_t)now, "jti", jti);
	if (!claims)
		return NULL;
	if (access) {
		json_t *a = access_json(access);
		if (!a || json_object_set_new(claims, "access", a) < 0)
			goto out;
	} else if (json_object_set_new(claims, "berth_use", json_string("refresh")) < 0 ||
		   json_object_set_new(claims, "berth_pwd", json_string(fingerprint)) < 0) {
		goto out;
	}
	if (atok_jwt_sign(&st->keys, claims, &token) < 0)
		token = NULL;
out:
	json_decref(claims);
	return token;
}

/* Who the request proves to be: 0 with *who, or an answer was sent (rc from respond). */
static int identify(atok_state *st, berth_request *req, token_request *t, atok_account *who,
		    int *answered)
{
	const char *client = st->host->request_client(req);
	const char *reason = "";
	int64_t retry_ms = 0;
	char why[160];
	int rc;

	*answered = 0;
	memset(who, 0, sizeof(*who));
	if (t->refresh) {
		atok_verify_opts o = {.keys = &st->keys, .algs = st->cfg.algs,
				      .issuer = st->cfg.issuer, .audience = st->cfg.service,
				      .leeway_s = st->cfg.leeway_s,
				      .now_s = st->host->now_ms() / 1000, .refresh = 1};
		atok_claims *c = NULL;
		atok_db *db;

		rc = atok_jwt_verify(t->refresh, strlen(t->refresh), &o, &c, why, sizeof(why));
		if (rc == 0 && (!c->sub[0] ||
				!atok_subject_alive(st, c->sub, who->groups, sizeof(who->groups),
						    c->fingerprint)))
			rc = BERTH_E_UNAUTHORIZED;
		if (rc < 0) {
			atok_claims_put(c);
			emit_failure(st, req, "", t, "invalid_refresh_token");
			*answered = 1;
			return respond_error(st, req, 401, "UNAUTHORIZED", "invalid_grant",
					     "invalid or expired refresh token");
		}
		snprintf(who->name, sizeof(who->name), "%s", c->sub);
		snprintf(who->fingerprint, sizeof(who->fingerprint), "%s", c->fingerprint);
		db = atok_store_get(&st->store);
		who->robot = atok_robot_find(&db->acc, c->sub) != NULL;
		atok_db_put(db);
		atok_claims_put(c);
		return 0;
	}
	if (!t->have_credentials)
		return 0;
	rc = atok_login(st, client, t->user, t->password, who, &retry_ms, &reason);
	OPENSSL_cleanse(t->password, sizeof(t->password));
	if (rc == 0)
		return 0;
	*answered = 1;
	emit_failure(st, req, t->user, t, reason);
	st->host->log(st->self, BERTH_LOG_INFO, "token refused to '%s' from %s: %s", t->user,
		      client ? client : "?", reason);
	if (rc == BERTH_E_TOO_MANY) {
		char secs[24];
		snprintf(secs, sizeof(secs), "%lld", (long long)((retry_ms + 999) / 1000));
		st->host->response_header(req, "Retry-After", secs);
		return respond_error(st, req, 429, "TOOMANYREQUESTS", "invalid_grant",
				     "too many failed logins: try again later");
	}
	st->host->response_header(req, "WWW-Authenticate", "Basic realm=\"berth token server\"");
	return respond_error(st, req, 401, "UNAUTHORIZED", "invalid_grant",
			     strcmp(reason, "expired") == 0 ? "the account has expired"
							    : "invalid username or password");
}

static int issue(atok_state *st, berth_request *req, token_request *t, const atok_account *who)
{
	atok_access_list granted = {0};
	int64_t now = st->host->now_ms() / 1000;
	char *token = NULL, *refresh = NULL, issued[32], scope[4096];
	const char *grant_label[] = {t->grant, NULL};
	/* Asked for, for an account (never anonymous), unless it came with one. */
	int want_refresh = t->offline && who->name[0] && st->cfg.refresh_lifetime_s > 0 && !t->refresh;
	json_t *doc = NULL;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < t->asked.n; i++)
		rc = grant_entry(st, who, &t->asked.v[i], &granted);
	if (rc == 0)
		token = sign(st, who->name, now, st->cfg.token_lifetime_s, &granted, NULL);
	if (token && want_refresh)
		refresh = sign(st, who->name, now, st->cfg.refresh_lifetime_s, NULL, who->fingerprint);
	if (!token || (want_refresh && !refresh)) {
		st->host->log(st->self, BERTH_LOG_ERROR, "cannot sign a token");
		rc = respond_error(st, req, 500, "UNKNOWN", "server_error", "cannot sign a token");
		goto out;
	}
	atok_rfc3339(now, issued, sizeof(issued));
	if (atok_access_list_scope(&granted, scope, sizeof(scope)) < 0)
		scope[0] = '\0';
	doc = json_pack("{s:s, s:s, s:I, s:s, s:s}", "token", token, "access_token", token,
			"expires_in", (json_int_t)st->cfg.token_lifetime_s, "issued_at", issued,
			"scope", scope);
	if (doc && (refresh || t->refresh))
		json_object_set_new(doc, "refresh_token", json_string(refresh ? refresh : t->refresh));
	if (!doc) {
		rc = BERTH_E_NOMEM;
		goto out;
	}
	if (st->issued)
		st->host->metric_add(st->issued, grant_label, 1);
	atok_emit_login(st, req, who->name, 1,
			json_pack("{s:s, s:s, s:s, s:b}", "grant", t->grant, "scope", scope,
				  "client_id", t->client_id, "refresh_token", refresh != NULL));
	rc = respond_json(st, req, 200, doc);
out:
	atok_access_list_free(&granted);
	free(token);
	free(refresh);
	return rc;
}

int atok_token_route(void *state, berth_request *req, berth_error *err)
{
	atok_state *st = atok_token_server_instance(state);
	token_request *t;
	atok_account who;
	const char *why = NULL;
	int status, answered = 0, rc;

	if (!st)
		return respond_error(state, req, 404, "UNSUPPORTED", "invalid_request",
				     "no token server here");
	t = calloc(1, sizeof(*t));
	if (!t)
		return atok_fail(err, BERTH_E_NOMEM, "out of memory");
	t->grant = "unknown";
	status = read_request(st, req, t, &why);
	if (status != 0) {
		emit_failure(st, req, t->user[0] ? t->user : t->account, t, why);
		if (status == 401)
			st->host->response_header(req, "WWW-Authenticate",
						  "Basic realm=\"berth token server\"");
		rc = respond_error(st, req, status,
				   status == 401 ? "UNAUTHORIZED" : status == 500 ? "UNKNOWN" : "UNSUPPORTED",
				   status == 401 ? "invalid_grant" : "invalid_request", why);
		goto out;
	}
	rc = identify(st, req, t, &who, &answered);
	if (answered || rc < 0)
		goto out;
	rc = issue(st, req, t, &who);
out:
	request_free(t);
	return rc;
}

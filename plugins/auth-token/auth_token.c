/*
 * auth_token.c - the auth-token plugin: Docker registry token
 * authentication (its own token server, and tokens from external ones),
 * access policy, robot accounts and brute-force limits.
 *
 * This file holds the descriptor, the instance's lifecycle and the auth
 * hooks, and hands the work to the file that does it:
 *   authenticate()  -> atok_bearer.c (tokens), atok_login.c (Basic)
 *   authorize()     -> atok_decide.c (token claims, robots, policy)
 *   challenge()     -> atok_challenge.c
 *   /auth/token     -> atok_server.c
 *   /berth/v1/auth  -> atok_admin.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth_token.h"

/*
 * Routes belong to the plugin, not to an instance: every instance of this
 * .so shares this list, so the instance a route lands on can find the one
 * that serves tokens.
 */
static pthread_mutex_t instances_lock = PTHREAD_MUTEX_INITIALIZER;
static atok_state *instances[ATOK_INSTANCES_MAX];
static size_t n_instances;

static int serves_tokens(const atok_state *st)
{
	return st->cfg.mode == ATOK_MODE_TOKEN && st->keys.signing;
}

atok_state *atok_token_server_instance(atok_state *st)
{
	atok_state *found = NULL;

	if (serves_tokens(st))
		return st;
	pthread_mutex_lock(&instances_lock);
	for (size_t i = 0; i < n_instances && !found; i++)
		if (serves_tokens(instances[i]))
			found = instances[i];
	pthread_mutex_unlock(&instances_lock);
	return found;
}

size_t atok_instances(atok_state **out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&instances_lock);
	n = n_instances < max ? n_instances : max;
	memcpy(out, instances, n * sizeof(*out));
	pthread_mutex_unlock(&instances_lock);
	return n;
}

static int registry_add(atok_state *st)
{
	int rc = 0;

	pthread_mutex_lock(&instances_lock);
	if (n_instances == ATOK_INSTANCES_MAX)
		rc = BERTH_E_CONFIG;
	else
		instances[n_instances++] = st;
	pthread_mutex_unlock(&instances_lock);
	return rc;
}

static void registry_remove(atok_state *st)
{
	pthread_mutex_lock(&instances_lock);
	for (size_t i = 0; i < n_instances; i++)
		if (instances[i] == st) {
			memmove(&instances[i], &instances[i + 1],
				(n_instances - i - 1) * sizeof(instances[0]));
			n_instances--;
			break;
		}
	pthread_mutex_unlock(&instances_lock);
}

static int host_usable(const berth_host *h)
{
	return h && BERTH_HOST_HAS(h, respond) && h->log && h->config_string && h->config_int &&
	       h->config_bool && h->config_list_count && h->config_list_string && h->now_ms &&
	       h->monotonic_ms && h->instance_name && h->request_method && h->request_path &&
	       h->request_route && h->request_header && h->request_query && h->request_client &&
	       h->request_body && h->response_header && h->respond && h->metric_register &&
	       h->metric_add;
}

static void atok_destroy(void *state)
{
	atok_state *st = state;

	if (!st)
		return;
	registry_remove(st);
	if (st->ready) {
		atok_token_cache_destroy(&st->tokens);
		atok_pwcache_destroy(&st->pwcache);
		atok_bf_destroy(&st->bf);
		pthread_mutex_destroy(&st->admin_lock);
	}
	atok_store_destroy(&st->store);
	atok_keys_free(&st->keys);
	atok_rules_free(&st->policy);
	atok_config_free(&st->cfg);
	free(st);
}

static int load_keys(atok_state *st, berth_error *err)
{
	int rc = 0;

	if (st->cfg.signing_key)
		rc = atok_keys_load_signing(&st->keys, st->cfg.signing_key, err);
	if (rc == 0 && st->cfg.rootcertbundle)
		rc = atok_keys_load_roots(&st->keys, st->cfg.rootcertbundle, err);
	if (rc == 0 && st->cfg.jwks)
		rc = atok_keys_load_jwks(&st->keys, st->cfg.jwks, err);
	if (rc == 0 && st->keys.signing && !(st->cfg.algs & st->keys.signing_alg->bit))
		rc = atok_fail(err, BERTH_E_CONFIG,
			       "signing_key signs with %s, which signingalgorithms does not accept",
			       st->keys.signing_alg->name);
	return rc;
}

static int init_locks(atok_state *st, berth_error *err)
{
	if (atok_pwcache_init(&st->pwcache, st->cfg.password_cache_ms) < 0)
		return atok_fail(err, BERTH_E_NOMEM, "cannot set up the password cache");
	if (atok_token_cache_init(&st->tokens) < 0) {
		atok_pwcache_destroy(&st->pwcache);
		return atok_fail(err, BERTH_E_NOMEM, "cannot set up the token cache");
	}
	if (atok_bf_init(&st->bf, st->cfg.bf_account, st->cfg.bf_client, st->cfg.bf_window_ms,
			 st->cfg.bf_lockout_ms) < 0) {
		atok_token_cache_destroy(&st->tokens);
		atok_pwcache_destroy(&st->pwcache);
		return atok_fail(err, BERTH_E_NOMEM, "cannot set up the brute-force table");
	}
	if (pthread_mutex_init(&st->admin_lock, NULL) != 0) {
		atok_bf_destroy(&st->bf);
		atok_token_cache_destroy(&st->tokens);
		atok_pwcache_destroy(&st->pwcache);
		return atok_fail(err, BERTH_E_NOMEM, "cannot create a mutex");
	}
	st->ready = 1;
	return 0;
}

static void register_metrics(atok_state *st)
{
	static const char *const kind[] = {"kind", NULL};
	static const char *const grant[] = {"grant", NULL};

	st->lockouts = st->host->metric_register(
		st->self, "berth_auth_lockouts_total",
		"Clients and accounts locked out after too many failed logins.", BERTH_METRIC_COUNTER,
		kind);
	st->issued = st->host->metric_register(st->self, "berth_auth_tokens_issued_total",
					       "Tokens issued by the token server, by grant.",
					       BERTH_METRIC_COUNTER, grant);
}

static void log_summary(atok_state *st)
{
	atok_db *db = atok_store_get(&st->store);
	const berth_host *h = st->host;
	char server[80] = "no token server";

	if (st->keys.signing)
		snprintf(server, sizeof(server), "token server at %s (%s)", ATOK_TOKEN_PATH,
			 st->keys.signing_alg->name);
	if (st->cfg.mode == ATOK_MODE_BASIC)
		h->log(st->self, BERTH_LOG_INFO, "basic mode: %zu users, %zu robots, %zu rules",
		       db->acc.n_users, db->acc.n_robots, st->policy.n);
	else
		h->log(st->self, BERTH_LOG_INFO,
		       "token mode: service '%s', issuer '%s', %s, %zu trusted key ids, %zu users, "
		       "%zu robots, %zu rules%s",
		       st->cfg.service, st->cfg.issuer, server, st->keys.n_trusted, db->acc.n_users,
		       db->acc.n_robots, st->policy.n,
		       st->cfg.basic ? ", Basic credentials accepted too" : "");
	atok_db_put(db);
}

static int atok_create(const berth_host *host, const berth_instance *self,
		       const berth_config *config, void **state, berth_error *err)
{
	atok_state *st;
	int rc;

	*state = NULL;
	if (!host_usable(host))
		return atok_fail(err, BERTH_E_UNSUPPORTED,
				 "this Berth lacks host services the plugin needs");
	st = calloc(1, sizeof(*st));
	if (!st)
		return atok_fail(err, BERTH_E_NOMEM, "out of memory");
	st->host = host;
	st->self = self;
	st->name = host->instance_name(self);
	rc = atok_config_load(host, config, &st->cfg, &st->policy, err);
	if (rc == 0)
		rc = load_keys(st, err);
	if (rc == 0)
		rc = atok_store_init(&st->store, host, self, st->cfg.users_file, st->cfg.robots_file,
				     err);
	if (rc == 0)
		rc = init_locks(st, err);
	if (rc == 0 && registry_add(st) < 0)
		rc = atok_fail(err, BERTH_E_CONFIG, "more than %d instances", ATOK_INSTANCES_MAX);
	if (rc < 0) {
		atok_destroy(st);
		return rc;
	}
	register_metrics(st);
	log_summary(st);
	*state = st;
	return 0;
}

static int atok_authenticate(void *state, const berth_request *req, berth_identity *id,
			     berth_error *err)
{
	atok_state *st = state;
	const char *header = st->host->request_header(req, "Authorization");
	char user[BERTH_IDENTITY_NAME_MAX + 1], password[ATOK_CREDENTIALS_MAX], why[160];
	const char *reason = "";
	atok_claims *c = NULL;
	atok_account who;
	int64_t retry_ms = 0;
	int rc;

	rc = atok_request_claims(st, req, &c, why, sizeof(why));
	if (rc == 0) {
		snprintf(id->name, sizeof(id->name), "%s", c->sub);
		id->groups[0] = '\0';
		if (c->own && c->sub[0])
			atok_subject_alive(st, c->sub, id->groups, sizeof(id->groups), NULL);
		atok_claims_put(c);
		return 0;
	}
	if (rc != BERTH_DECLINED)
		return atok_fail(err, BERTH_E_UNAUTHORIZED, "invalid token: %s", why);
	if (!st->cfg.basic)
		return BERTH_DECLINED;
	rc = atok_basic_parse(header, user, sizeof(user), password, sizeof(password));
	if (rc == 0)
		return BERTH_DECLINED;
	if (rc < 0)
		return atok_fail(err, BERTH_E_UNAUTHORIZED, "malformed basic credentials");
	rc = atok_login(st, st->host->request_client(req), user, password, &who, &retry_ms,
			&reason);
	OPENSSL_cleanse(password, sizeof(password));
	if (rc == 0) {
		snprintf(id->name, sizeof(id->name), "%s", who.name);
		snprintf(id->groups, sizeof(id->groups), "%s", who.groups);
		/* One event per checked password, not one per request of a push. */
		if (!who.cached)
			atok_emit_login(st, req, who.name, 1, json_pack("{s:s}", "grant", "basic"));
		return 0;
	}
	atok_emit_login(st, req, user, 0,
			json_pack("{s:s, s:s}", "reason", reason, "grant", "basic"));
	if (rc == BERTH_E_TOO_MANY)
		return atok_fail(err, BERTH_E_TOO_MANY,
				 "too many failed logins: try again in %lld s",
				 (long long)((retry_ms + 999) / 1000));
	return atok_fail(err, BERTH_E_UNAUTHORIZED, "%s",
			 strcmp(reason, "expired") == 0 ? "the account has expired"
							: "invalid username or password");
}

static int atok_authorize(void *state, const berth_request *req, const berth_identity *id,
			  const berth_access *access, berth_error *err)
{
	return atok_decide(state, req, id, access, err);
}

static int atok_challenge_hook(void *state, const berth_request *req,
			       const berth_access *accesses, size_t n, char *out, size_t cap)
{
	return atok_challenge(state, req, accesses, n, out, cap);
}

static const berth_auth_ops atok_auth_ops = {
	.size = sizeof(berth_auth_ops),
	.priority = 0,
	.authenticate = atok_authenticate,
	.authorize = atok_authorize,
	.challenge = atok_challenge_hook,
};

static const berth_route token_get_route = {
	.size = sizeof(berth_route),
	.method = "GET",
	.path = ATOK_TOKEN_PATH,
	.flags = BERTH_ROUTE_PUBLIC,
	.max_body = 1024,
	.handle = atok_token_route,
};

static const berth_route token_post_route = {
	.size = sizeof(berth_route),
	.method = "POST",
	.path = ATOK_TOKEN_PATH,
	.flags = BERTH_ROUTE_PUBLIC,
	.max_body = ATOK_FORM_MAX,
	.handle = atok_token_route,
};

/* Not public: the core asks for route:/berth/v1/auth:<METHOD> first. */
static const berth_route admin_route = {
	.size = sizeof(berth_route),
	.method = NULL,
	.path = ATOK_ADMIN_PATH,
	.flags = 0,
	.max_body = 1024,
	.handle = atok_admin_route,
};

static const berth_route *const atok_routes[] = {&token_get_route, &token_post_route,
						 &admin_route, NULL};

static const berth_plugin atok_plugin = {
	BERTH_PLUGIN_HEADER,
	.name = ATOK_PLUGIN_NAME,
	.version = ATOK_PLUGIN_VERSION,
	.description = "Docker token auth (own token server and external issuers), access "
		       "policy, robot accounts, brute-force limits",
	.config_schema = atok_config_schema,
	.create = atok_create,
	.destroy = atok_destroy,
	.auth = &atok_auth_ops,
	.routes = atok_routes,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &atok_plugin;
}

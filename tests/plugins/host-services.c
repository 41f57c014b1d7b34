/*
 * A plugin that exposes host services through a route, so tests can drive
 * them over HTTP: plugin data (data_write/read/remove/list), allowed(),
 * emit_request_event(), list_manifests(), manifest_times() and reopen(). Its auth hooks make a small world of
 * identities: the header X-Test-User names the user, who may pull only
 * repositories under "<user>/" and "public/"; everything else is allowed.
 *
 * Built twice: the second build (HS_BAD_ROUTE) puts its route on a path the
 * core owns, for the loader to refuse.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/plugin.h"

#ifdef HS_BAD_ROUTE
#define HS_ROUTE "/berth/v1/jobs/mine"
#define HS_NAME "host-services-bad-route"
#else
#define HS_ROUTE "/berth/v1/hs"
#define HS_NAME "host-services"
#endif

typedef struct hs {
	const berth_host *host;
	const berth_instance *self;
	const berth_config *config;
	atomic_int reopens;
} hs;

typedef struct buf {
	char *data;
	size_t len;
	int failed;
} buf;

static int collect(void *ctx, const void *data, size_t len)
{
	buf *b = ctx;
	char *n = realloc(b->data, b->len + len + 1);

	if (!n) {
		b->failed = 1;
		return 1;
	}
	memcpy(n + b->len, data, len);
	b->data = n;
	b->len += len;
	return 0;
}

static int list_one(void *ctx, const char *name, int is_dir)
{
	buf *b = ctx;
	char line[600];
	int n = snprintf(line, sizeof(line), "%s%s\n", name, is_dir ? "/" : "");

	return collect(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static int list_name(void *ctx, const char *name)
{
	return list_one(ctx, name, 0);
}

static int list_referrer(void *ctx, const berth_manifest *m)
{
	char line[600];
	int n = snprintf(line, sizeof(line), "%s %s %zu %s\n", m->digest,
			 m->artifact_type ? m->artifact_type : "-", m->body_len,
			 m->subject ? m->subject : "-");

	return collect(ctx, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static int hs_create(const berth_host *host, const berth_instance *self,
		     const berth_config *config, void **state, berth_error *err)
{
	hs *h = calloc(1, sizeof(*h));

	if (!h) {
		err->code = BERTH_E_NOMEM;
		return BERTH_E_NOMEM;
	}
	h->host = host;
	h->self = self;
	h->config = config;
	*state = h;
	return 0;
}

static void hs_destroy(void *state)
{
	free(state);
}

static void hs_reopen(void *state)
{
	hs *h = state;

	atomic_fetch_add(&h->reopens, 1);
}

static int reply(hs *h, berth_request *req, int status, const char *body, size_t len)
{
	return h->host->respond(req, status, "text/plain", body, len);
}

static int hs_handle(void *state, berth_request *req, berth_error *err)
{
	hs *h = state;
	const berth_host *H = h->host;
	const char *method = H->request_method(req);
	const char *path = H->request_path(req) + strlen(HS_ROUTE);
	buf b = {0};
	char small[64];
	int rc = 0;

	if (strncmp(path, "/data/", 6) == 0) {
		const char *key = path + 6;
		if (strcmp(method, "PUT") == 0) {
			size_t len = 0;
			const void *body = H->request_body(req, &len);
			rc = H->data_write(h->self, key, body, len, err);
			if (rc == 0)
				rc = reply(h, req, 201, "", 0);
		} else if (strcmp(method, "DELETE") == 0) {
			rc = H->data_remove(h->self, key, err);
			if (rc == 0)
				rc = reply(h, req, 204, "", 0);
		} else {
			const char *max = H->request_query(req, "max");
			rc = H->data_read(h->self, key, max ? strtoull(max, NULL, 10) : 1u << 20,
					  collect, &b, err);
			if (rc == 0)
				rc = reply(h, req, 200, b.data ? b.data : "", b.len);
		}
	} else if (strcmp(path, "/list") == 0 || strncmp(path, "/list/", 6) == 0) {
		rc = H->data_list(h->self, path[5] ? path + 6 : "", list_one, &b, err);
		if (rc == 0)
			rc = reply(h, req, 200, b.data ? b.data : "", b.len);
	} else if (strcmp(path, "/allowed") == 0) {
		const char *repo = H->request_query(req, "repo");
		const char *action = H->request_query(req, "action");
		berth_access acc = {.type = "repository", .name = repo ? repo : "",
				    .action = action ? action : "pull"};
		rc = reply(h, req, 200, H->allowed(req, &acc) ? "1" : "0", 1);
	} else if (strcmp(path, "/event") == 0) {
		rc = H->emit_request_event(h->self, req, H->request_query(req, "identity"),
					   "test.event", "team/app", "v1", NULL, "{\"n\":1}");
		if (rc == 0)
			rc = reply(h, req, 202, "", 0);
	} else if (strcmp(path, "/manifests") == 0) {
		const char *repo = H->request_query(req, "repo");
		rc = H->list_manifests(repo ? repo : "", list_name, &b, err);
		if (rc == 0)
			rc = reply(h, req, 200, b.data ? b.data : "", b.len);
	} else if (strcmp(path, "/times") == 0) {
		const char *repo = H->request_query(req, "repo");
		const char *ref = H->request_query(req, "ref");
		int64_t pushed = -1, pulled = -1;
		rc = H->manifest_times(repo ? repo : "", ref ? ref : "", &pushed, &pulled, err);
		if (rc == 0) {
			int n = snprintf(small, sizeof(small), "%lld %lld", (long long)pushed,
					 (long long)pulled);
			rc = reply(h, req, 200, small, (size_t)n);
		}
	} else if (strcmp(path, "/config") == 0) {
		/* Every rule as "i key=value FILE:LINE:COL", one per line. */
		const berth_config *rule;
		char where[256], line[768];
		for (size_t i = 0; (rule = H->config_list_child(h->config, "rules", i)); i++) {
			for (size_t k = 0; k < H->config_key_count(rule); k++) {
				const char *key = H->config_key_at(rule, k);
				const char *v = H->config_string(rule, key);
				int n = snprintf(line, sizeof(line), "%zu %s=%s %s\n", i, key,
						 v ? v : "(not a value)",
						 H->config_where(rule, key, where, sizeof(where)));
				collect(&b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
			}
		}
		rc = reply(h, req, 200, b.data ? b.data : "", b.len);
	} else if (strcmp(path, "/delete-tag-if") == 0) {
		rc = H->delete_tag_if(h->self, H->request_query(req, "repo"), H->request_query(req, "tag"),
				      H->request_query(req, "digest"), err);
		if (rc == 0)
			rc = reply(h, req, 204, "", 0);
	} else if (strcmp(path, "/delete-if-untagged") == 0) {
		rc = H->delete_manifest_if_untagged(h->self, H->request_query(req, "repo"),
						    H->request_query(req, "digest"), err);
		if (rc == 0)
			rc = reply(h, req, 204, "", 0);
	} else if (strcmp(path, "/referrers") == 0) {
		rc = H->list_referrers(H->request_query(req, "repo"), H->request_query(req, "digest"),
				       list_referrer, &b, err);
		if (rc == 0)
			rc = reply(h, req, 200, b.data ? b.data : "", b.len);
	} else if (strcmp(path, "/reopens") == 0) {
		int n = snprintf(small, sizeof(small), "%d", atomic_load(&h->reopens));
		rc = reply(h, req, 200, small, (size_t)n);
	} else {
		snprintf(err->message, sizeof(err->message), "no such test endpoint");
		rc = BERTH_E_NOT_FOUND;
	}
	free(b.data);
	return rc;
}

static int hs_authenticate(void *state, const berth_request *req, berth_identity *id,
			   berth_error *err)
{
	hs *h = state;
	const char *user = h->host->request_header(req, "X-Test-User");

	(void)err;
	if (!user)
		return BERTH_DECLINED;
	snprintf(id->name, sizeof(id->name), "%s", user);
	return 0;
}

static int under(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(name, prefix, n) == 0 && name[n] == '/';
}

static int hs_authorize(void *state, const berth_request *req, const berth_identity *id,
			const berth_access *access, berth_error *err)
{
	(void)state;
	(void)req;
	if (strcmp(access->type, "repository") != 0 || strcmp(access->action, "pull") != 0)
		return 0;
	if (under(access->name, "public") || (id->name[0] && under(access->name, id->name)))
		return 0;
	snprintf(err->message, sizeof(err->message), "not yours");
	return BERTH_E_DENIED;
}

static const berth_auth_ops auth_ops = {
	.size = sizeof(berth_auth_ops),
	.authenticate = hs_authenticate,
	.authorize = hs_authorize,
};

/* Every rule needs `repositories`: what a schema cannot say about a MAP_LIST. */
static int hs_check_config(const berth_host *host, const berth_config *config, berth_error *err)
{
	const berth_config *rule;
	char where[256];

	for (size_t i = 0; (rule = host->config_list_child(config, "rules", i)); i++) {
		if (host->config_string(rule, "repositories"))
			continue;
		snprintf(err->message, sizeof(err->message), "%s: rule %zu has no 'repositories'",
			 host->config_where(rule, NULL, where, sizeof(where)), i + 1);
		return err->code = BERTH_E_CONFIG;
	}
	return 0;
}

static const berth_config_key schema[] = {
	{.key = "rules", .type = BERTH_CONFIG_MAP_LIST, .help = "a list of maps, echoed back"},
	{.type = BERTH_CONFIG_END},
};

static const berth_route route = {
	.size = sizeof(berth_route),
	.path = HS_ROUTE,
	.handle = hs_handle,
};

static const berth_route *const routes[] = {&route, NULL};

static const berth_plugin descriptor = {
	BERTH_PLUGIN_HEADER,
	.name = HS_NAME,
	.version = "1",
	.config_schema = schema,
	.create = hs_create,
	.destroy = hs_destroy,
	.auth = &auth_ops,
	.routes = routes,
	.reopen = hs_reopen,
	.check_config = hs_check_config,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &descriptor;
}

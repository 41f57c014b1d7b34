/*
 * sig_config.c - the config schema, and reading every policy in create():
 * unknown keys and bad values stop the server with FILE:LINE:COLUMN, keys
 * are loaded once, so a pull never touches a key file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sig.h"

#define SIG_POLICIES_MAX 256
#define SIG_LIST_MAX 256

const berth_config_key sig_config_schema[] = {
	{ .key = "policies", .type = BERTH_CONFIG_MAP_LIST, .flags = BERTH_CONFIG_REQUIRED,
	  .help = "signature policies, tried in order; the first whose repositories match applies" },
	{ .key = "cache_entries", .type = BERTH_CONFIG_INT, .default_value = "4096",
	  .help = "verdicts kept in memory (by manifest digest and signature set)" },
	{ .key = "referrers_ttl", .type = BERTH_CONFIG_DURATION, .default_value = "60s",
	  .help = "how long a repository's referrers map is trusted (pushes on this node refresh it at once)" },
	{ .key = "max_signatures", .type = BERTH_CONFIG_INT, .default_value = "32",
	  .help = "signature layers and referrers examined per manifest" },
	{ .key = "max_payload_size", .type = BERTH_CONFIG_SIZE, .default_value = "64KiB",
	  .help = "largest signature payload or bundle read" },
	{ .key = "max_repository_manifests", .type = BERTH_CONFIG_INT, .default_value = "10000",
	  .help = "manifests read to map a repository's referrers; beyond, referrers are not searched" },
	{ .type = BERTH_CONFIG_END }
};

static const char *const policy_keys[] = {
	"name", "repositories", "mode", "keys", "identity", "identity_hosts", "index",
	"referrers", "bypass_identities", "bypass_groups", NULL
};

int sig_fail(berth_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return code;
}

typedef struct reader {
	const berth_host *host;
	const berth_config *cfg;   /* the policy's map */
	size_t index;              /* 1-based, for messages */
	berth_error *err;
} reader;

static const char *where(const reader *r, const char *key, char *buf, size_t cap)
{
	return r->host->config_where(r->cfg, key, buf, cap);
}

BERTH_PRINTF(3, 4)
static int bad(const reader *r, const char *key, const char *fmt, ...)
{
	char at[256], text[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return sig_fail(r->err, BERTH_E_CONFIG, "%s: policy-signature: policies[%zu]: %s",
			where(r, key, at, sizeof(at)), r->index, text);
}

static int has_key(const reader *r, const char *key)
{
	for (size_t i = 0; i < r->host->config_key_count(r->cfg); i++)
		if (strcmp(r->host->config_key_at(r->cfg, i), key) == 0)
			return 1;
	return 0;
}

/* A scalar: NULL when absent; a list or map written there is an error. */
static int scalar(const reader *r, const char *key, const char **out)
{
	*out = r->host->config_string(r->cfg, key);
	if (!*out && has_key(r, key) && r->host->config_list_count(r->cfg, key) > 0)
		return bad(r, key, "'%s' must be a single value", key);
	return 0;
}

static int strings(const reader *r, const char *key, char ***out, size_t *n)
{
	size_t count = r->host->config_list_count(r->cfg, key);

	*out = NULL;
	*n = 0;
	if (count == 0)
		return 0;
	if (count > SIG_LIST_MAX)
		return bad(r, key, "'%s' has more than %d items", key, SIG_LIST_MAX);
	*out = calloc(count, sizeof(**out));
	if (!*out)
		return sig_fail(r->err, BERTH_E_NOMEM, "policy-signature: out of memory");
	for (size_t i = 0; i < count; i++) {
		const char *v = r->host->config_list_string(r->cfg, key, i);
		if (!v || !*v)
			return bad(r, key, "'%s' item %zu is empty or not a string", key, i + 1);
		if (!((*out)[i] = strdup(v)))
			return sig_fail(r->err, BERTH_E_NOMEM, "policy-signature: out of memory");
		(*n)++;
	}
	return 0;
}

static int choice(const reader *r, const char *key, const char *const *names,
		  const char *expected, int def, int *out)
{
	const char *v;
	int rc = scalar(r, key, &v);

	*out = def;
	if (rc || !v)
		return rc;
	for (int i = 0; names[i]; i++)
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return 0;
		}
	return bad(r, key, "'%s' is '%.60s': expected %s", key, v, expected);
}

static int read_keys(const reader *r, sig_policy *p)
{
	char **paths = NULL, why[400];
	size_t n = 0;
	int rc = strings(r, "keys", &paths, &n);

	if (rc)
		goto out;
	if (n && !(p->keys = calloc(n, sizeof(*p->keys)))) {
		rc = sig_fail(r->err, BERTH_E_NOMEM, "policy-signature: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		rc = sig_key_load(paths[i], &p->keys[i], why, sizeof(why));
		if (rc) {
			rc = bad(r, "keys", "%s", why);
			goto out;
		}
		p->n_keys++;
	}
out:
	for (size_t i = 0; paths && i < n; i++)
		free(paths[i]);
	free(paths);
	return rc;
}

static int read_policy(const reader *r, sig_policy *p)
{
	static const char *const modes[] = {"enforce", "warn", "off", NULL};
	static const char *const identities[] = {"off", "repository", "exact", NULL};
	static const char *const indexes[] = {"index", "children", NULL};
	const char *name, *referrers;
	char why[200], def[32];
	int rc;

	for (size_t k = 0; k < r->host->config_key_count(r->cfg); k++) {
		const char *key = r->host->config_key_at(r->cfg, k);
		size_t j;
		for (j = 0; policy_keys[j] && strcmp(policy_keys[j], key) != 0; j++)
			;
		if (!policy_keys[j])
			return bad(r, key, "unknown key '%s' (known: name, repositories, mode, keys, "
				   "identity, identity_hosts, index, referrers, bypass_identities, "
				   "bypass_groups)", key);
	}
	if ((rc = scalar(r, "name", &name)) != 0)
		return rc;
	snprintf(def, sizeof(def), "policy-%zu", r->index);
	if (!(p->name = strdup(name && *name ? name : def)))
		return sig_fail(r->err, BERTH_E_NOMEM, "policy-signature: out of memory");
	if ((rc = choice(r, "mode", modes, "enforce, warn or off", SIG_MODE_ENFORCE, &p->mode)) ||
	    (rc = choice(r, "identity", identities, "off, repository or exact",
			      SIG_IDENTITY_OFF, &p->identity)) ||
	    (rc = choice(r, "index", indexes, "index or children", SIG_INDEX_SELF, &p->index_mode)) ||
	    (rc = scalar(r, "referrers", &referrers)) ||
	    (rc = strings(r, "repositories", &p->repositories, &p->n_repositories)) ||
	    (rc = strings(r, "identity_hosts", &p->identity_hosts, &p->n_identity_hosts)) ||
	    (rc = strings(r, "bypass_identities", &p->bypass_identities,
			  &p->n_bypass_identities)) ||
	    (rc = strings(r, "bypass_groups", &p->bypass_groups, &p->n_bypass_groups)))
		return rc;
	p->referrers = r->host->config_bool(r->cfg, "referrers", -1);
	if (p->referrers < 0 && referrers)
		return bad(r, "referrers", "'referrers' is '%.40s': expected true or false",
			   referrers);
	if (p->referrers < 0)
		p->referrers = 1;
	if (p->n_repositories == 0)
		return bad(r, NULL, "'repositories' is required (a list of patterns such as "
			   "'prod/**')");
	for (size_t i = 0; i < p->n_repositories; i++)
		if (sig_glob_check(p->repositories[i], why, sizeof(why)) < 0)
			return bad(r, "repositories", "%s", why);
	if ((rc = read_keys(r, p)) != 0)
		return rc;
	if (p->n_keys == 0 && p->mode != SIG_MODE_OFF)
		return bad(r, NULL, "'keys' is required unless mode is off (PEM public key files)");
	return 0;
}

int sig_config_load(policy_signature *ps, const berth_config *cfg, berth_error *err)
{
	const berth_host *host = ps->host;
	size_t n = host->config_list_count(cfg, "policies");
	int64_t v;

	v = host->config_int(cfg, "cache_entries", 4096);
	if (v < 1 || v > 1000000)
		return sig_fail(err, BERTH_E_CONFIG,
				"policy-signature: 'cache_entries' must be between 1 and 1000000");
	ps->cache = sig_cache_new((size_t)v);
	v = host->config_int(cfg, "max_signatures", 32);
	if (v < 1 || v > 1024)
		return sig_fail(err, BERTH_E_CONFIG,
				"policy-signature: 'max_signatures' must be between 1 and 1024");
	ps->max_signatures = (size_t)v;
	v = host->config_int(cfg, "max_payload_size", 65536);
	if (v < 256 || v > 16 * 1024 * 1024)
		return sig_fail(err, BERTH_E_CONFIG,
				"policy-signature: 'max_payload_size' must be between 256 and 16MiB");
	ps->max_payload_size = (uint64_t)v;
	{
		int64_t ttl = host->config_int(cfg, "referrers_ttl", 60000);
		int64_t maxm = host->config_int(cfg, "max_repository_manifests", 10000);
		if (ttl < 0 || ttl > 24LL * 3600 * 1000)
			return sig_fail(err, BERTH_E_CONFIG,
					"policy-signature: 'referrers_ttl' must be between 0s and 24h");
		if (maxm < 1 || maxm > 10000000)
			return sig_fail(err, BERTH_E_CONFIG, "policy-signature: "
					"'max_repository_manifests' must be between 1 and 10000000");
		ps->graphs = sig_graphs_new(256, ttl, (size_t)maxm);
	}
	if (!ps->cache || !ps->graphs)
		return sig_fail(err, BERTH_E_NOMEM, "policy-signature: out of memory");
	if (n == 0)
		return sig_fail(err, BERTH_E_CONFIG, "policy-signature: 'policies' lists no policy");
	if (n > SIG_POLICIES_MAX)
		return sig_fail(err, BERTH_E_CONFIG, "policy-signature: more than %d policies",
				SIG_POLICIES_MAX);
	ps->policies = calloc(n, sizeof(*ps->policies));
	if (!ps->policies)
		return sig_fail(err, BERTH_E_NOMEM, "policy-signature: out of memory");
	for (size_t i = 0; i < n; i++) {
		reader r = { host, host->config_list_child(cfg, "policies", i), i + 1, err };
		int rc;

		if (!r.cfg) {
			char at[256];
			return sig_fail(err, BERTH_E_CONFIG,
					"%s: policy-signature: policies[%zu] is not a map",
					host->config_where(cfg, "policies", at, sizeof(at)), i + 1);
		}
		ps->n_policies++;
		rc = read_policy(&r, &ps->policies[i]);
		if (rc)
			return rc;
	}
	return 0;
}

void sig_config_free(policy_signature *ps)
{
	for (size_t i = 0; i < ps->n_policies; i++)
		sig_policy_clear(&ps->policies[i]);
	free(ps->policies);
	sig_cache_free(ps->cache);
	sig_graphs_free(ps->graphs);
	ps->policies = NULL;
	ps->n_policies = 0;
	ps->cache = NULL;
	ps->graphs = NULL;
}

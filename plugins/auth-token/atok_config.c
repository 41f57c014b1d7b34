/*
 * atok_config.c - the plugin's config schema and its checks.
 *
 * The keys a Distribution operator knows (realm, service, issuer,
 * rootcertbundle, jwks, signingalgorithms) keep their names and meaning;
 * the rest are Berth's. The host has already checked types and rejected
 * unknown keys; this file checks values and how they go together, and
 * says which key is wrong.
 */
#include <stdlib.h>
#include <string.h>

#include "auth_token.h"

const berth_config_key atok_config_schema[] = {
	{.key = "mode", .type = BERTH_CONFIG_STRING, .default_value = "token",
	 .help = "token (Docker token auth, Bearer challenge) or basic (Basic credentials only)"},
	{.key = "realm", .type = BERTH_CONFIG_STRING,
	 .help = "absolute URL of the token server clients are sent to (token mode)"},
	{.key = "service", .type = BERTH_CONFIG_STRING,
	 .help = "the service name: challenge 'service' and the audience tokens must name"},
	{.key = "issuer", .type = BERTH_CONFIG_STRING,
	 .help = "the issuer tokens must name (and the own token server writes)"},
	{.key = "rootcertbundle", .type = BERTH_CONFIG_STRING,
	 .help = "PEM certificates: roots for x5c chains; their keys are trusted by kid"},
	{.key = "jwks", .type = BERTH_CONFIG_STRING,
	 .help = "JWKS file whose keys are trusted under their kid"},
	{.key = "signingalgorithms", .type = BERTH_CONFIG_LIST,
	 .default_value = "[RS256, RS384, RS512, ES256, ES384, ES512]",
	 .help = "algorithms accepted on tokens"},
	{.key = "signing_key", .type = BERTH_CONFIG_STRING,
	 .help = "PEM private key (RSA or EC) of the own token server at /auth/token"},
	{.key = "token_lifetime", .type = BERTH_CONFIG_DURATION, .default_value = "5m",
	 .help = "how long an issued token is valid (60s to 24h)"},
	{.key = "refresh_token_lifetime", .type = BERTH_CONFIG_DURATION, .default_value = "7d",
	 .help = "how long a refresh token (docker login's identity token) is valid; 0: none issued"},
	{.key = "leeway", .type = BERTH_CONFIG_DURATION, .default_value = "60s",
	 .help = "clock skew allowed on exp, nbf and iat (at most 10m)"},
	{.key = "users_file", .type = BERTH_CONFIG_STRING,
	 .help = "lines name:hash:groups (berth passwd writes them); reloaded when it changes"},
	{.key = "robots_file", .type = BERTH_CONFIG_STRING,
	 .help = "lines 'name hash expires grant...'; reloaded when it changes"},
	{.key = "rules", .type = BERTH_CONFIG_LIST,
	 .help = "policy rules '<resource> <subjects> <actions>'"},
	{.key = "basic", .type = BERTH_CONFIG_BOOL, .default_value = "false",
	 .help = "also accept Basic credentials on registry requests (token mode)"},
	{.key = "bruteforce_account_failures", .type = BERTH_CONFIG_INT, .default_value = "10",
	 .help = "failed logins for one account within the window that lock it out; 0: off"},
	{.key = "bruteforce_client_failures", .type = BERTH_CONFIG_INT, .default_value = "30",
	 .help = "failed logins from one client address within the window that lock it out; 0: off"},
	{.key = "bruteforce_window", .type = BERTH_CONFIG_DURATION, .default_value = "5m",
	 .help = "the window failures are counted in"},
	{.key = "bruteforce_lockout", .type = BERTH_CONFIG_DURATION, .default_value = "5m",
	 .help = "how long a lockout lasts"},
	{.key = "password_cache", .type = BERTH_CONFIG_DURATION, .default_value = "60s",
	 .help = "how long a checked password is remembered (0: every login runs the hash)"},
	{.type = BERTH_CONFIG_END},
};

/* Values that end up inside quoted header parameters and JSON strings. */
static int header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\')
			return 0;
	return 1;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

void atok_config_free(atok_config *c)
{
	free(c->realm);
	free(c->service);
	free(c->issuer);
	free(c->rootcertbundle);
	free(c->jwks);
	free(c->signing_key);
	free(c->users_file);
	free(c->robots_file);
	memset(c, 0, sizeof(*c));
}

static int load_algs(const berth_host *h, const berth_config *cfg, atok_config *c,
		     berth_error *err)
{
	size_t n = h->config_list_count(cfg, "signingalgorithms");

	c->algs = 0;
	for (size_t i = 0; i < n; i++) {
		const char *name = h->config_list_string(cfg, "signingalgorithms", i);
		const atok_alg_info *alg = atok_alg_by_name(name);
		if (!alg)
			return atok_fail(err, BERTH_E_CONFIG,
					 "signingalgorithms: '%.40s' is not supported (RS256, RS384, "
					 "RS512, ES256, ES384, ES512; HS* and none never are)",
					 name ? name : "");
		c->algs |= alg->bit;
	}
	if (!c->algs)
		return atok_fail(err, BERTH_E_CONFIG, "signingalgorithms: the list is empty");
	return 0;
}

static int load_rules(const berth_host *h, const berth_config *cfg, atok_rules *policy,
		      berth_error *err)
{
	size_t n = h->config_list_count(cfg, "rules");

	for (size_t i = 0; i < n; i++) {
		const char *text = h->config_list_string(cfg, "rules", i);
		char why[200] = "";
		int rc;

		if (!text)
			return atok_fail(err, BERTH_E_CONFIG, "rules[%zu]: empty rule", i);
		rc = atok_rules_add_policy(policy, text, why, sizeof(why));
		if (rc == BERTH_E_NOMEM)
			return atok_fail(err, rc, "out of memory");
		if (rc < 0)
			return atok_fail(err, BERTH_E_CONFIG, "rules[%zu] '%.120s': %s", i, text, why);
	}
	return 0;
}

static int in_range(int64_t v, int64_t lo, int64_t hi)
{
	return v >= lo && v <= hi;
}

static int check_values(atok_config *c, berth_error *err)
{
	if (c->mode == ATOK_MODE_TOKEN) {
		if (!c->realm || !c->service || !c->issuer)
			return atok_fail(err, BERTH_E_CONFIG,
					 "mode token needs realm, service and issuer");
		if ((strncmp(c->realm, "http://", 7) != 0 && strncmp(c->realm, "https://", 8) != 0) ||
		    strchr(c->realm, ' '))
			return atok_fail(err, BERTH_E_CONFIG,
					 "realm '%.200s': must be an absolute http:// or https:// URL "
					 "(Docker resolves no relative realm)",
					 c->realm);
		if (!c->signing_key && !c->rootcertbundle && !c->jwks)
			return atok_fail(err, BERTH_E_CONFIG,
					 "no key to check tokens with: set signing_key (own token "
					 "server), rootcertbundle or jwks");
	} else if (!c->users_file && !c->robots_file) {
		return atok_fail(err, BERTH_E_CONFIG, "mode basic needs users_file or robots_file");
	}
	if ((c->realm && !header_safe(c->realm)) || (c->service && !header_safe(c->service)) ||
	    (c->issuer && !header_safe(c->issuer)))
		return atok_fail(err, BERTH_E_CONFIG,
				 "realm, service and issuer may not hold quotes, backslashes or "
				 "control characters");
	if (!in_range(c->token_lifetime_s, 60, 86400))
		return atok_fail(err, BERTH_E_CONFIG,
				 "token_lifetime: between 60s and 24h (clients treat anything shorter "
				 "as 60s)");
	if (c->refresh_lifetime_s != 0 && !in_range(c->refresh_lifetime_s, 60, 366 * 86400))
		return atok_fail(err, BERTH_E_CONFIG, "refresh_token_lifetime: 0, or 60s to 366d");
	if (!in_range(c->leeway_s, 0, 600))
		return atok_fail(err, BERTH_E_CONFIG, "leeway: between 0s and 10m");
	if (c->bf_window_ms < 1000 || c->bf_lockout_ms < 1000 || c->bf_window_ms > 86400000 ||
	    c->bf_lockout_ms > 86400000)
		return atok_fail(err, BERTH_E_CONFIG,
				 "bruteforce_window and bruteforce_lockout: between 1s and 24h");
	if (!in_range(c->password_cache_ms, 0, 3600000))
		return atok_fail(err, BERTH_E_CONFIG, "password_cache: between 0s and 1h");
	return 0;
}

int atok_config_load(const berth_host *h, const berth_config *cfg, atok_config *c,
		     atok_rules *policy, berth_error *err)
{
	const char *mode = h->config_string(cfg, "mode");
	int64_t account = h->config_int(cfg, "bruteforce_account_failures", 10);
	int64_t client = h->config_int(cfg, "bruteforce_client_failures", 30);
	int rc;

	memset(c, 0, sizeof(*c));
	if (!mode || strcmp(mode, "token") == 0)
		c->mode = ATOK_MODE_TOKEN;
	else if (strcmp(mode, "basic") == 0)
		c->mode = ATOK_MODE_BASIC;
	else
		return atok_fail(err, BERTH_E_CONFIG, "mode '%.40s': token or basic", mode);
	c->realm = dup_or_null(h->config_string(cfg, "realm"));
	c->service = dup_or_null(h->config_string(cfg, "service"));
	c->issuer = dup_or_null(h->config_string(cfg, "issuer"));
	c->rootcertbundle = dup_or_null(h->config_string(cfg, "rootcertbundle"));
	c->jwks = dup_or_null(h->config_string(cfg, "jwks"));
	c->signing_key = dup_or_null(h->config_string(cfg, "signing_key"));
	c->users_file = dup_or_null(h->config_string(cfg, "users_file"));
	c->robots_file = dup_or_null(h->config_string(cfg, "robots_file"));
	if (c->mode == ATOK_MODE_BASIC && !c->realm)
		c->realm = strdup("berth");
	c->token_lifetime_s = h->config_int(cfg, "token_lifetime", 300000) / 1000;
	c->refresh_lifetime_s = h->config_int(cfg, "refresh_token_lifetime", 604800000) / 1000;
	c->leeway_s = h->config_int(cfg, "leeway", 60000) / 1000;
	c->basic = c->mode == ATOK_MODE_BASIC || h->config_bool(cfg, "basic", 0);
	c->bf_window_ms = h->config_int(cfg, "bruteforce_window", 300000);
	c->bf_lockout_ms = h->config_int(cfg, "bruteforce_lockout", 300000);
	c->password_cache_ms = h->config_int(cfg, "password_cache", 60000);
	if (!in_range(account, 0, 1000000) || !in_range(client, 0, 1000000))
		return atok_fail(err, BERTH_E_CONFIG,
				 "bruteforce_account_failures and bruteforce_client_failures: "
				 "between 0 (off) and 1000000");
	c->bf_account = (unsigned)account;
	c->bf_client = (unsigned)client;
	rc = load_algs(h, cfg, c, err);
	if (rc == 0)
		rc = check_values(c, err);
	if (rc == 0)
		rc = load_rules(h, cfg, policy, err);
	return rc;
}

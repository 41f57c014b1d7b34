/*
 * trivy_config.c - the config schema, and reading and checking an
 * instance's values in create(), so a wrong value stops the server at
 * start-up with a message naming it.
 *
 * The policy written directly in the config is the one a deployment with a
 * single policy needs (its keys are checked by Berth like any other);
 * several policies per repository pattern go in policy_file, because a
 * plugin config cannot hold a list of maps. File policies are tried first,
 * in order; the inline one comes last.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trivy_glob.h"
#include "trivy_plugin.h"

#define CACHE_ENTRIES_MAX 1000000
#define CACHE_TTL_MAX_MS (3600LL * 1000)
#define REPORT_SIZE_MIN 1024
#define LIST_MAX 1024

const berth_config_key trivy_config_schema[] = {
	{ .key = "max_report_size", .type = BERTH_CONFIG_SIZE, .default_value = "64MiB",
	  .help = "largest report accepted, through the API or as a referrer (at most 64MiB)" },
	{ .key = "import_referrers", .type = BERTH_CONFIG_BOOL, .default_value = "true",
	  .help = "import reports pushed as OCI referrers of an image" },
	{ .key = "referrer_types", .type = BERTH_CONFIG_LIST,
	  .default_value = "[application/vnd.aquasec.trivy.report.v1+json, "
			   "application/sarif+json, application/json]",
	  .help = "artifact or layer media types of referrers read as reports" },
	{ .key = "cache_entries", .type = BERTH_CONFIG_INT, .default_value = "4096",
	  .help = "manifest digests whose scan state the pull gate keeps in memory" },
	{ .key = "cache_ttl", .type = BERTH_CONFIG_DURATION, .default_value = "30s",
	  .help = "how long the gate trusts what it read (imports on other nodes show after this)" },
	{ .key = "policy_file", .type = BERTH_CONFIG_STRING,
	  .help = "YAML file of per-repository policies, tried before the inline policy" },
	{ .key = "name", .type = BERTH_CONFIG_STRING, .default_value = "default",
	  .help = "inline policy: its name, as refusals and logs show it" },
	{ .key = "repositories", .type = BERTH_CONFIG_LIST, .default_value = "['**']",
	  .help = "inline policy: repository patterns it applies to" },
	{ .key = "block_severity", .type = BERTH_CONFIG_STRING, .default_value = "none",
	  .help = "inline policy: refuse pulls with vulnerabilities at or above this "
		  "(none, UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL)" },
	{ .key = "only_fixable", .type = BERTH_CONFIG_BOOL, .default_value = "false",
	  .help = "inline policy: only vulnerabilities with a fixed version block" },
	{ .key = "block_unscanned", .type = BERTH_CONFIG_BOOL, .default_value = "false",
	  .help = "inline policy: refuse pulls of images that have no report" },
	{ .key = "allowlist", .type = BERTH_CONFIG_LIST,
	  .help = "inline policy: IDs that never block, as 'ID' or 'ID until YYYY-MM-DD'" },
	{ .key = "bypass_identities", .type = BERTH_CONFIG_LIST,
	  .help = "inline policy: identities whose pulls are never refused" },
	{ .key = "bypass_groups", .type = BERTH_CONFIG_LIST,
	  .help = "inline policy: groups whose members' pulls are never refused" },
	{ .key = "contact", .type = BERTH_CONFIG_STRING,
	  .help = "inline policy: who grants exceptions, named in refusals" },
	{ .type = BERTH_CONFIG_END }
};

int trivy_fail(berth_error *err, int code, const char *fmt, ...)
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

/* A LIST key's items, copied. */
static int read_list(const berth_host *host, const berth_config *cfg, const char *key,
		     char ***out, size_t *n, berth_error *err)
{
	size_t count = host->config_list_count(cfg, key);

	*out = NULL;
	*n = 0;
	if (count == 0)
		return 0;
	if (count > LIST_MAX)
		return trivy_fail(err, BERTH_E_CONFIG, "scan-trivy: '%s' has more than %d items",
				  key, LIST_MAX);
	*out = calloc(count, sizeof(**out));
	if (!*out)
		return trivy_fail(err, BERTH_E_NOMEM, "scan-trivy: out of memory");
	for (size_t i = 0; i < count; i++) {
		const char *v = host->config_list_string(cfg, key, i);
		if (!v || !*v)
			return trivy_fail(err, BERTH_E_CONFIG, "scan-trivy: '%s' item %zu is empty",
					  key, i + 1);
		(*out)[i] = strdup(v);
		if (!(*out)[i])
			return trivy_fail(err, BERTH_E_NOMEM, "scan-trivy: out of memory");
		(*n)++;
	}
	return 0;
}

static int inline_policy(struct scan_trivy *st, const berth_config *cfg, trivy_policy *p,
			 berth_error *err)
{
	const berth_host *host = st->host;
	const char *sev = host->config_string(cfg, "block_severity");
	const char *contact = host->config_string(cfg, "contact");
	const char *name = host->config_string(cfg, "name");
	char why[200], **allow = NULL;
	size_t n_allow = 0;
	int rc;

	if (!name || !trivy_policy_name_valid(name))
		return trivy_fail(err, BERTH_E_CONFIG,
				  "scan-trivy: 'name' must be 1 to 64 of [A-Za-z0-9._-]");
	for (size_t i = 0; i < st->policies.n; i++)
		if (strcmp(st->policies.v[i].name, name) == 0)
			return trivy_fail(err, BERTH_E_CONFIG,
					  "scan-trivy: policy_file has a policy named '%s' too; give "
					  "the inline policy another 'name'", name);
	p->name = strdup(name);
	if (!p->name)
		return trivy_fail(err, BERTH_E_NOMEM, "scan-trivy: out of memory");
	p->block_severity = trivy_block_severity_parse(sev);
	if (p->block_severity == -2)
		return trivy_fail(err, BERTH_E_CONFIG,
				  "scan-trivy: 'block_severity' is '%.40s': expected none, UNKNOWN, "
				  "LOW, MEDIUM, HIGH or CRITICAL", sev);
	p->only_fixable = host->config_bool(cfg, "only_fixable", 0);
	p->block_unscanned = host->config_bool(cfg, "block_unscanned", 0);
	if (contact && *contact && !(p->contact = strdup(contact)))
		return trivy_fail(err, BERTH_E_NOMEM, "scan-trivy: out of memory");
	if ((rc = read_list(host, cfg, "repositories", &p->repositories, &p->n_repositories, err)) ||
	    (rc = read_list(host, cfg, "bypass_identities", &p->bypass_identities,
			    &p->n_bypass_identities, err)) ||
	    (rc = read_list(host, cfg, "bypass_groups", &p->bypass_groups, &p->n_bypass_groups,
			    err)))
		return rc;
	for (size_t i = 0; i < p->n_repositories; i++)
		if (trivy_glob_check(p->repositories[i], why, sizeof(why)) < 0)
			return trivy_fail(err, BERTH_E_CONFIG, "scan-trivy: 'repositories': %s", why);
	rc = read_list(host, cfg, "allowlist", &allow, &n_allow, err);
	if (rc == 0 && n_allow && !(p->allow = calloc(n_allow, sizeof(*p->allow))))
		rc = trivy_fail(err, BERTH_E_NOMEM, "scan-trivy: out of memory");
	for (size_t i = 0; rc == 0 && i < n_allow; i++) {
		if (trivy_allow_parse(allow[i], &p->allow[i], why, sizeof(why)) < 0)
			rc = trivy_fail(err, BERTH_E_CONFIG, "scan-trivy: 'allowlist': %s", why);
		else
			p->n_allow++;
	}
	for (size_t i = 0; i < n_allow; i++)
		free(allow[i]);
	free(allow);
	if (rc == 0 && trivy_policy_finish(p, why, sizeof(why)) < 0)
		rc = trivy_fail(err, BERTH_E_CONFIG, "scan-trivy: %s", why);
	return rc;
}

int trivy_config_load(struct scan_trivy *st, const berth_config *cfg, berth_error *err)
{
	const berth_host *host = st->host;
	const char *file = host->config_string(cfg, "policy_file");
	int64_t size = host->config_int(cfg, "max_report_size", TRIVY_REPORT_SIZE_LIMIT);
	int64_t entries = host->config_int(cfg, "cache_entries", 4096);
	int64_t ttl = host->config_int(cfg, "cache_ttl", 30000);
	trivy_policy p;
	trivy_policy *nv;
	int rc;

	if (size < REPORT_SIZE_MIN || size > (int64_t)TRIVY_REPORT_SIZE_LIMIT)
		return trivy_fail(err, BERTH_E_CONFIG,
				  "scan-trivy: 'max_report_size' must be between 1KiB and 64MiB");
	st->max_report_size = (uint64_t)size;
	if (entries < 1 || entries > CACHE_ENTRIES_MAX)
		return trivy_fail(err, BERTH_E_CONFIG,
				  "scan-trivy: 'cache_entries' must be between 1 and %d",
				  CACHE_ENTRIES_MAX);
	if (ttl < 0 || ttl > CACHE_TTL_MAX_MS)
		return trivy_fail(err, BERTH_E_CONFIG,
				  "scan-trivy: 'cache_ttl' must be between 0s and 1h");
	st->import_referrers = host->config_bool(cfg, "import_referrers", 1);
	rc = read_list(host, cfg, "referrer_types", &st->referrer_types, &st->n_referrer_types, err);
	if (rc)
		return rc;
	st->cache = trivy_cache_new((size_t)entries, ttl);
	if (!st->cache)
		return trivy_fail(err, BERTH_E_NOMEM, "scan-trivy: out of memory");
	if (file && *file) {
		rc = trivy_policy_file_load(file, &st->policies, err);
		if (rc)
			return rc;
	}
	memset(&p, 0, sizeof(p));
	rc = inline_policy(st, cfg, &p, err);
	if (rc == 0 && !trivy_policy_inert(&p)) {
		nv = realloc(st->policies.v, (st->policies.n + 1) * sizeof(*nv));
		if (!nv) {
			rc = trivy_fail(err, BERTH_E_NOMEM, "scan-trivy: out of memory");
		} else {
			st->policies.v = nv;
			st->policies.v[st->policies.n++] = p;
			return 0;
		}
	}
	trivy_policy_free(&p);
	return rc;
}

void trivy_config_free(struct scan_trivy *st)
{
	trivy_policy_set_free(&st->policies);
	for (size_t i = 0; i < st->n_referrer_types; i++)
		free(st->referrer_types[i]);
	free(st->referrer_types);
	st->referrer_types = NULL;
	st->n_referrer_types = 0;
	trivy_cache_free(st->cache);
	st->cache = NULL;
}

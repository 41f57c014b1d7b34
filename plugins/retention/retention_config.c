/*
 * retention_config.c - the plugin's config schema, and reading an
 * instance's values at create(): the policies, the immutable tags and the
 * switches. A wrong value stops the server at start-up with a message
 * naming it, before anything can be deleted.
 */
#include <stdlib.h>

#include "retention.h"

const berth_config_key retention_config_schema[] = {
	{ .key = "policies", .type = BERTH_CONFIG_MAP_LIST,
	  .help = "what to delete: a list of policies (repositories, tags, keep rules)" },
	{ .key = "immutable_tags", .type = BERTH_CONFIG_LIST,
	  .help = "tag patterns (glob or re:ERE) that no push, DELETE or retention may change" },
	{ .key = "immutable_repositories", .type = BERTH_CONFIG_LIST, .default_value = "[\"**\"]",
	  .help = "repositories where immutable_tags apply (globs)" },
	{ .key = "delete_referrers", .type = BERTH_CONFIG_BOOL, .default_value = "true",
	  .help = "delete signatures, SBOMs and other referrers with the manifest they refer to" },
	{ .key = "enforce", .type = BERTH_CONFIG_BOOL, .default_value = "true",
	  .help = "false: every run only reports what it would delete (a dry run)" },
	{ .type = BERTH_CONFIG_END }
};

void retention_rules_free(struct retention_rules *r)
{
	for (size_t i = 0; i < r->n_policies; i++)
		retention_policy_free(&r->policies[i]);
	free(r->policies);
	r->policies = NULL;
	r->n_policies = 0;
	retention_patterns_free(&r->immutable_tags);
	retention_patterns_free(&r->immutable_repositories);
}

const struct retention_pattern *retention_immutable_match(const struct retention_rules *r,
							  const char *repository,
							  const char *tag)
{
	if (r->immutable_tags.n == 0 ||
	    !retention_patterns_match(&r->immutable_repositories, repository))
		return NULL;
	return retention_patterns_match(&r->immutable_tags, tag);
}

int retention_repository_selected(const struct retention_rules *r, const char *repository)
{
	for (size_t i = 0; i < r->n_policies; i++)
		if (retention_policy_selects(&r->policies[i], repository))
			return 1;
	return 0;
}

static int load_list(const berth_host *host, const berth_config *cfg, const char *key,
		     struct retention_patterns *out, berth_error *err)
{
	size_t n = host->config_list_count(cfg, key);
	berth_error perr = {0};
	char where[300];

	for (size_t i = 0; i < n; i++) {
		const char *s = host->config_list_string(cfg, key, i);
		int rc;

		host->config_where(cfg, key, where, sizeof(where));
		if (!s)
			return retention_fail(err, BERTH_E_CONFIG, "%s: '%s': item %zu is not a pattern",
					      where, key, i + 1);
		rc = retention_patterns_add(out, s, &perr);
		if (rc < 0)
			return retention_fail(err, rc, "%s: '%s': %s", where, key, perr.message);
	}
	return 0;
}

int retention_config_load(const berth_host *host, const berth_config *cfg,
			  struct retention_state *st, berth_error *err)
{
	int rc;

	st->rules.delete_referrers = host->config_bool(cfg, "delete_referrers", 1);
	st->enforce = host->config_bool(cfg, "enforce", 1);
	rc = load_list(host, cfg, "immutable_tags", &st->rules.immutable_tags, err);
	if (rc == 0)
		rc = load_list(host, cfg, "immutable_repositories", &st->rules.immutable_repositories,
			       err);
	if (rc == 0)
		rc = retention_policies_load(host, cfg, &st->rules, err);
	return rc;
}

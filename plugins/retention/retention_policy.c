/*
 * retention_policy.c - the `policies:` list of the plugin's config, read
 * through the host into struct retention_policy. Each policy is a map the
 * host does not check, so every key is checked here, and every mistake is
 * refused with the FILE:LINE:COLUMN where it was written: a retention
 * policy read wrong deletes what it should keep, so a key written wrong
 * must stop the server, never be ignored.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "retention.h"

/* Counts above this are certainly a typo. */
#define COUNT_MAX 1000000
#define DURATION_MAX_MS (100LL * 366 * RETENTION_DAY_MS)
#define NAME_MAX_BYTES 64
#define WHERE_MAX 300

static const char *const policy_keys[] = {
	"name", "repositories", "exclude_repositories", "tags", "exclude_tags",
	"keep_last_pushed", "keep_last_pulled", "keep_pushed_within", "keep_pulled_within",
	"semver", "always_keep", "untagged", NULL
};
static const char *const semver_keys[] = { "keep_minors", "keep_majors", "prereleases", NULL };
static const char *const untagged_keys[] = { "keep_days", "delete", NULL };

/* What every message of one policy needs. */
struct ctx {
	const berth_host *h;
	const char *policy;             /* "policy 'ci'", "policy #2", or NULL */
	berth_error *err;
};

/* A mistake at `key` of map `cfg` (at the map itself when key is NULL). */
BERTH_PRINTF(4, 5)
static int fail_at(struct ctx *c, const berth_config *cfg, const char *key, const char *fmt, ...)
{
	char what[BERTH_ERROR_MESSAGE_MAX], where[WHERE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	c->h->config_where(cfg, key, where, sizeof(where));
	return retention_fail(c->err, BERTH_E_CONFIG, "%s%s%s%s%s", where, where[0] ? ": " : "",
			      c->policy ? c->policy : "", c->policy ? ": " : "", what);
}

void retention_policy_free(struct retention_policy *p)
{
	free(p->name);
	retention_patterns_free(&p->repositories);
	retention_patterns_free(&p->exclude_repositories);
	retention_patterns_free(&p->tags);
	retention_patterns_free(&p->exclude_tags);
	retention_patterns_free(&p->always_keep);
}

const char *retention_policy_label(const struct retention_policy *p, char *buf, size_t cap)
{
	if (p->name[0] == '#')
		snprintf(buf, cap, "policy %s", p->name);
	else
		snprintf(buf, cap, "policy '%s'", p->name);
	return buf;
}

int retention_policy_selects(const struct retention_policy *p, const char *repository)
{
	return retention_patterns_match(&p->repositories, repository) &&
	       !retention_patterns_match(&p->exclude_repositories, repository);
}

/* Levenshtein distance, for "did you mean". */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64], i, j;

	if (la >= 63 || lb >= 63)
		return (size_t)-1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0], tmp;

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			diag = tmp;
		}
	}
	return row[lb];
}

static int check_keys(struct ctx *c, const berth_config *cfg, const char *const *known,
		      const char *where)
{
	size_t n = c->h->config_key_count(cfg);

	for (size_t i = 0; i < n; i++) {
		const char *key = c->h->config_key_at(cfg, i), *best = NULL;
		size_t best_d = 3, k;

		if (!key)
			continue;
		for (k = 0; known[k]; k++) {
			size_t d = distance(key, known[k]);

			if (d == 0)
				break;
			if (d < best_d) {
				best_d = d;
				best = known[k];
			}
		}
		if (known[k])
			continue;
		if (best)
			return fail_at(c, cfg, key, "unknown key '%.64s'%s (did you mean '%s'?)", key,
				       where, best);
		return fail_at(c, cfg, key, "unknown key '%.64s'%s", key, where);
	}
	return 0;
}

static int has_key(const struct ctx *c, const berth_config *cfg, const char *key)
{
	size_t n = c->h->config_key_count(cfg);

	for (size_t i = 0; i < n; i++) {
		const char *k = c->h->config_key_at(cfg, i);

		if (k && strcmp(k, key) == 0)
			return 1;
	}
	return 0;
}

/* A key's single value: NULL (and *rc set) when it is empty, a list or a map. */
static const char *scalar_of(struct ctx *c, const berth_config *cfg, const char *key, int *rc)
{
	const char *s = c->h->config_string(cfg, key);

	*rc = 0;
	if (!s || !*s)
		*rc = fail_at(c, cfg, key, "'%s' needs a single value", key);
	return *rc ? NULL : s;
}

static int count_of(struct ctx *c, const berth_config *cfg, const char *key, int64_t *out)
{
	const char *s;
	int64_t v = 0;
	int rc;

	if (!has_key(c, cfg, key))
		return 0;
	s = scalar_of(c, cfg, key, &rc);
	if (rc < 0)
		return rc;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > COUNT_MAX) {
			v = -1;
			break;
		}
		v = v * 10 + (*p - '0');
	}
	if (v < 0 || v > COUNT_MAX)
		return fail_at(c, cfg, key, "'%s' must be a whole number from 0 to %d, not '%.64s'",
			       key, COUNT_MAX, s);
	*out = v;
	return 0;
}

static int bool_of(struct ctx *c, const berth_config *cfg, const char *key, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", NULL };
	static const char *const no[] = { "false", "no", "off", NULL };
	const char *s;
	int rc;

	if (!has_key(c, cfg, key))
		return 0;
	s = scalar_of(c, cfg, key, &rc);
	if (rc < 0)
		return rc;
	for (size_t i = 0; yes[i]; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = 0, 0;
	}
	return fail_at(c, cfg, key, "'%s' must be true or false, not '%.64s'", key, s);
}

int retention_duration_parse(const char *text, int64_t *out)
{
	const char *s = text;
	int64_t total = 0;

	if (!*s)
		return -1;
	while (*s) {
		int64_t v = 0, unit;
		const char *start = s;

		while (*s >= '0' && *s <= '9') {
			if (v > DURATION_MAX_MS)
				return -1;
			v = v * 10 + (*s++ - '0');
		}
		if (s == start)
			return -1;
		switch (*s) {
		case '\0':
			/* A bare number is days: policies speak in days. */
			if (start != text)
				return -1;
			unit = RETENTION_DAY_MS;
			break;
		case 'w':
			unit = 7 * RETENTION_DAY_MS;
			s++;
			break;
		case 'd':
			unit = RETENTION_DAY_MS;
			s++;
			break;
		case 'h':
			unit = 3600 * 1000;
			s++;
			break;
		case 'm':
			unit = 60 * 1000;
			s++;
			break;
		case 's':
			unit = 1000;
			s++;
			break;
		default:
			return -1;
		}
		if (v > DURATION_MAX_MS / unit)
			return -1;
		total += v * unit;
		if (total > DURATION_MAX_MS)
			return -1;
	}
	*out = total;
	return 0;
}

static int duration_of(struct ctx *c, const berth_config *cfg, const char *key, int64_t *out)
{
	const char *s;
	int rc;

	if (!has_key(c, cfg, key))
		return 0;
	s = scalar_of(c, cfg, key, &rc);
	if (rc < 0)
		return rc;
	if (retention_duration_parse(s, out) < 0)
		return fail_at(c, cfg, key, "'%s' must be a number of days (30) or a duration (30d, "
			       "12h, 90m, 2w), not '%.64s'", key, s);
	return 0;
}

/* A list of patterns; one value counts as a list of one. */
static int patterns_of(struct ctx *c, const berth_config *cfg, const char *key,
		       struct retention_patterns *out)
{
	size_t n;

	if (!has_key(c, cfg, key))
		return 0;
	n = c->h->config_list_count(cfg, key);
	if (n == 0)
		return fail_at(c, cfg, key, "'%s' must be a non-empty list of patterns", key);
	for (size_t i = 0; i < n; i++) {
		const char *s = c->h->config_list_string(cfg, key, i);
		berth_error perr = {0};
		int rc;

		if (!s)
			return fail_at(c, cfg, key, "'%s': item %zu is not a pattern", key, i + 1);
		rc = retention_patterns_add(out, s, &perr);
		if (rc == BERTH_E_NOMEM)
			return retention_fail(c->err, rc, "out of memory");
		if (rc < 0)
			return fail_at(c, cfg, key, "'%s': %s", key, perr.message);
	}
	return 0;
}

/* A nested map: NULL and no error when absent, NULL and *rc set when not a map. */
static const berth_config *map_of(struct ctx *c, const berth_config *cfg, const char *key,
				  const char *example, int *rc)
{
	const berth_config *child;

	*rc = 0;
	if (!has_key(c, cfg, key))
		return NULL;
	child = c->h->config_child(cfg, key);
	if (!child)
		*rc = fail_at(c, cfg, key, "'%s' must be a map such as %s", key, example);
	return child;
}

static int parse_semver(struct ctx *c, const berth_config *cfg, struct retention_policy *p)
{
	const berth_config *s;
	int rc;

	s = map_of(c, cfg, "semver", "{keep_minors: 3}", &rc);
	if (!s)
		return rc;
	p->has_semver = 1;
	if ((rc = check_keys(c, s, semver_keys, " in semver")) < 0 ||
	    (rc = count_of(c, s, "keep_minors", &p->keep_minors)) < 0 ||
	    (rc = count_of(c, s, "keep_majors", &p->keep_majors)) < 0 ||
	    (rc = bool_of(c, s, "prereleases", &p->prereleases)) < 0)
		return rc;
	if (p->keep_minors < 0 && p->keep_majors < 0)
		return fail_at(c, cfg, "semver", "'semver' needs keep_minors or keep_majors");
	return 0;
}

static int parse_untagged(struct ctx *c, const berth_config *cfg, struct retention_policy *p)
{
	const berth_config *u;
	int yes = 0, keep, del, rc;

	u = map_of(c, cfg, "untagged", "{keep_days: 7} or {delete: true}", &rc);
	if (!u)
		return rc;
	rc = check_keys(c, u, untagged_keys, " in untagged");
	if (rc < 0)
		return rc;
	keep = has_key(c, u, "keep_days");
	del = has_key(c, u, "delete");
	if (keep == del)
		return fail_at(c, cfg, "untagged", "'untagged' takes exactly one of keep_days and delete");
	if (keep) {
		p->untagged = RETENTION_UNTAGGED_KEEP;
		return duration_of(c, u, "keep_days", &p->untagged_keep_ms);
	}
	rc = bool_of(c, u, "delete", &yes);
	if (rc < 0)
		return rc;
	if (!yes)
		return fail_at(c, u, "delete", "'delete' can only be true: to keep untagged "
			       "manifests, leave 'untagged' out or use keep_days");
	p->untagged = RETENTION_UNTAGGED_DELETE;
	return 0;
}

static int parse_name(struct ctx *c, const berth_config *cfg, struct retention_policy *p)
{
	const char *s;
	int rc;

	if (!has_key(c, cfg, "name"))
		return 0;
	s = scalar_of(c, cfg, "name", &rc);
	if (rc < 0)
		return rc;
	if (strlen(s) > NAME_MAX_BYTES || s[0] == '#')
		return fail_at(c, cfg, "name", "'name' must be at most %d bytes and not start "
			       "with '#'", NAME_MAX_BYTES);
	for (const char *q = s; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f || *q == '\'' || *q == '"' || *q == '\\')
			return fail_at(c, cfg, "name", "'name' may not hold control characters, "
				       "quotes or backslashes");
	free(p->name);
	p->name = strdup(s);
	return p->name ? 0 : retention_fail(c->err, BERTH_E_NOMEM, "out of memory");
}

static int has_rule(const struct retention_policy *p)
{
	return p->keep_last_pushed >= 0 || p->keep_last_pulled >= 0 ||
	       p->keep_pushed_within_ms >= 0 || p->keep_pulled_within_ms >= 0 || p->has_semver ||
	       p->always_keep.n > 0 || p->untagged != RETENTION_UNTAGGED_NONE;
}

static int parse_policy(struct ctx *c, const berth_config *cfg, size_t index,
			struct retention_policy *p)
{
	char label[NAME_MAX_BYTES + 16], num[24];
	int rc;

	memset(p, 0, sizeof(*p));
	p->keep_last_pushed = p->keep_last_pulled = -1;
	p->keep_pushed_within_ms = p->keep_pulled_within_ms = -1;
	p->keep_minors = p->keep_majors = -1;
	snprintf(num, sizeof(num), "#%zu", index + 1);
	p->name = strdup(num);
	if (!p->name)
		return retention_fail(c->err, BERTH_E_NOMEM, "out of memory");
	c->policy = NULL;
	if ((rc = parse_name(c, cfg, p)) < 0)
		return rc;
	c->policy = retention_policy_label(p, label, sizeof(label));
	if ((rc = check_keys(c, cfg, policy_keys, "")) < 0)
		return rc;
	if (!has_key(c, cfg, "repositories"))
		return fail_at(c, cfg, NULL, "'repositories' is required (use [\"**\"] for all)");
	if ((rc = patterns_of(c, cfg, "repositories", &p->repositories)) < 0 ||
	    (rc = patterns_of(c, cfg, "exclude_repositories", &p->exclude_repositories)) < 0 ||
	    (rc = patterns_of(c, cfg, "tags", &p->tags)) < 0 ||
	    (rc = patterns_of(c, cfg, "exclude_tags", &p->exclude_tags)) < 0 ||
	    (rc = patterns_of(c, cfg, "always_keep", &p->always_keep)) < 0 ||
	    (rc = count_of(c, cfg, "keep_last_pushed", &p->keep_last_pushed)) < 0 ||
	    (rc = count_of(c, cfg, "keep_last_pulled", &p->keep_last_pulled)) < 0 ||
	    (rc = duration_of(c, cfg, "keep_pushed_within", &p->keep_pushed_within_ms)) < 0 ||
	    (rc = duration_of(c, cfg, "keep_pulled_within", &p->keep_pulled_within_ms)) < 0 ||
	    (rc = parse_semver(c, cfg, p)) < 0 || (rc = parse_untagged(c, cfg, p)) < 0)
		return rc;
	if (!has_rule(p))
		return fail_at(c, cfg, NULL, "no rule: give keep_last_pushed, keep_last_pulled, "
			       "keep_pushed_within, keep_pulled_within, semver, always_keep or "
			       "untagged (keep_last_pushed: 0 deletes every tag it selects)");
	return 0;
}

int retention_policies_load(const berth_host *h, const berth_config *cfg,
			    struct retention_rules *rules, berth_error *err)
{
	struct ctx c = {.h = h, .err = err};
	size_t n = h->config_list_count(cfg, "policies"), i, j;
	int rc = 0;

	if (n == 0)
		return 0;
	rules->policies = calloc(n, sizeof(*rules->policies));
	if (!rules->policies)
		return retention_fail(err, BERTH_E_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		const berth_config *item = h->config_list_child(cfg, "policies", i);

		rules->n_policies = i + 1;
		if (!item) {
			c.policy = NULL;
			return fail_at(&c, cfg, "policies", "policy #%zu is not a map", i + 1);
		}
		rc = parse_policy(&c, item, i, &rules->policies[i]);
		if (rc < 0)
			return rc;
		for (j = 0; j < i; j++)
			if (strcmp(rules->policies[j].name, rules->policies[i].name) == 0) {
				c.policy = NULL;
				return fail_at(&c, item, "name", "two policies are named '%s'",
					       rules->policies[i].name);
			}
	}
	return 0;
}

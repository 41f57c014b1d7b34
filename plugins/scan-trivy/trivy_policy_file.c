/*
 * trivy_policy_file.c - per-repository policies from a YAML file:
 *
 *   policies:
 *     - name: production
 *       repositories: [prod, "prod-*"]   # patterns: see trivy_glob.h
 *       block_severity: HIGH
 *       only_fixable: true
 *       block_unscanned: true
 *       allowlist:
 *         - CVE-2022-22965
 *         - CVE-2023-1234 until 2026-03-31
 *         - {id: CVE-2023-5678, expires: 2026-06-30, reason: not reachable}
 *       bypass_identities: [security-bot]
 *       bypass_groups: [security]
 *       contact: security@example.com
 *
 * Checked as strictly as Berth checks its own config: unknown keys, wrong
 * types and bad values are refused with file:line:column, so a typo never
 * silently weakens a policy.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "trivy_glob.h"
#include "trivy_plugin.h"

#define POLICIES_MAX 256

typedef struct loader {
	const char *path;
	yaml_document_t doc;
	berth_error *err;
} loader;

BERTH_PRINTF(3, 4)
static int bad(loader *l, const yaml_node_t *n, const char *fmt, ...)
{
	char what[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return trivy_fail(l->err, BERTH_E_CONFIG, "%s:%zu:%zu: %s", l->path,
			  n ? n->start_mark.line + 1 : 1, n ? n->start_mark.column + 1 : 1, what);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int want_scalar(loader *l, const yaml_node_t *n, const char *key, const char **out)
{
	*out = scalar(n);
	if (!*out)
		return bad(l, n, "'%s' must be a single value", key);
	return 0;
}

static int want_bool(loader *l, const yaml_node_t *n, const char *key, int *out)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
	const char *s;

	if (want_scalar(l, n, key, &s))
		return BERTH_E_CONFIG;
	for (int i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return bad(l, n, "'%s' is '%.40s': expected true or false", key, s);
}

static int want_strdup(loader *l, const yaml_node_t *n, const char *key, char **out)
{
	const char *s;

	if (want_scalar(l, n, key, &s))
		return BERTH_E_CONFIG;
	free(*out);
	*out = strdup(s);
	return *out ? 0 : trivy_fail(l->err, BERTH_E_NOMEM, "out of memory");
}

/* A sequence of scalars (or one scalar) into a string array. */
static int want_strings(loader *l, const yaml_node_t *n, const char *key, char ***out, size_t *count)
{
	yaml_node_item_t *it;

	if (n->type == YAML_SCALAR_NODE) {
		*out = calloc(1, sizeof(**out));
		if (!*out || want_strdup(l, n, key, &(*out)[0]))
			return trivy_fail(l->err, BERTH_E_NOMEM, "out of memory");
		*count = 1;
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return bad(l, n, "'%s' must be a list", key);
	*out = calloc((size_t)(n->data.sequence.items.top - n->data.sequence.items.start) + 1,
		      sizeof(**out));
	if (!*out)
		return trivy_fail(l->err, BERTH_E_NOMEM, "out of memory");
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(&l->doc, *it);
		const char *s = scalar(item);
		if (!s || !*s)
			return bad(l, item, "'%s' items must be non-empty values", key);
		(*out)[*count] = strdup(s);
		if (!(*out)[*count])
			return trivy_fail(l->err, BERTH_E_NOMEM, "out of memory");
		(*count)++;
	}
	return 0;
}

/* {id, expires, reason} */
static int allow_map(loader *l, const yaml_node_t *n, trivy_allow *a)
{
	yaml_node_pair_t *pair;
	const char *v;
	char why[200];

	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(&l->doc, pair->key);
		yaml_node_t *val = yaml_document_get_node(&l->doc, pair->value);
		const char *key = scalar(k) ? scalar(k) : "";

		if (strcmp(key, "id") == 0) {
			trivy_allow parsed;
			if (want_scalar(l, val, "id", &v))
				return BERTH_E_CONFIG;
			if (a->id)
				return bad(l, k, "'id' given twice");
			if (trivy_allow_parse(v, &parsed, why, sizeof(why)) < 0 || parsed.expires_ms) {
				free(parsed.id);
				return bad(l, val, "allowlist 'id' must be a vulnerability ID");
			}
			a->id = parsed.id;
		} else if (strcmp(key, "expires") == 0) {
			if (want_scalar(l, val, "expires", &v))
				return BERTH_E_CONFIG;
			if (trivy_date_end_ms(v, &a->expires_ms) < 0)
				return bad(l, val, "'expires' is '%.40s': expected a date YYYY-MM-DD", v);
		} else if (strcmp(key, "reason") == 0) {
			if (want_strdup(l, val, "reason", &a->reason))
				return BERTH_E_CONFIG;
		} else {
			return bad(l, k, "unknown allowlist key '%.40s' (id, expires, reason)", key);
		}
	}
	if (!a->id)
		return bad(l, n, "an allowlist entry needs an 'id'");
	return 0;
}

static int read_allowlist(loader *l, const yaml_node_t *n, trivy_policy *p)
{
	yaml_node_item_t *it;
	char why[200];

	if (n->type != YAML_SEQUENCE_NODE)
		return bad(l, n, "'allowlist' must be a list");
	p->allow = calloc((size_t)(n->data.sequence.items.top - n->data.sequence.items.start) + 1,
			  sizeof(*p->allow));
	if (!p->allow)
		return trivy_fail(l->err, BERTH_E_NOMEM, "out of memory");
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(&l->doc, *it);
		trivy_allow *a = &p->allow[p->n_allow];
		int rc;

		if (item->type == YAML_MAPPING_NODE) {
			rc = allow_map(l, item, a);
		} else if (scalar(item)) {
			rc = trivy_allow_parse(scalar(item), a, why, sizeof(why)) < 0
				     ? bad(l, item, "%s", why) : 0;
		} else {
			rc = bad(l, item, "an allowlist entry is an ID or a map {id, expires, reason}");
		}
		/* Counted even on failure, so trivy_policy_free releases what it holds. */
		p->n_allow++;
		if (rc)
			return rc;
	}
	return 0;
}

static int policy_key(loader *l, trivy_policy *p, const yaml_node_t *k, const yaml_node_t *v)
{
	const char *key = scalar(k) ? scalar(k) : "";
	const char *s;
	char why[200];
	int rc;

	if (strcmp(key, "name") == 0) {
		if ((rc = want_strdup(l, v, "name", &p->name)))
			return rc;
		if (!trivy_policy_name_valid(p->name))
			return bad(l, v, "policy name '%.80s' must be 1 to 64 of [A-Za-z0-9._-]",
				   p->name);
		return 0;
	}
	if (strcmp(key, "repositories") == 0) {
		if (p->repositories)
			return bad(l, k, "'repositories' given twice");
		if ((rc = want_strings(l, v, key, &p->repositories, &p->n_repositories)))
			return rc;
		for (size_t i = 0; i < p->n_repositories; i++)
			if (trivy_glob_check(p->repositories[i], why, sizeof(why)) < 0)
				return bad(l, v, "%s", why);
		return 0;
	}
	if (strcmp(key, "block_severity") == 0) {
		if (want_scalar(l, v, key, &s))
			return BERTH_E_CONFIG;
		p->block_severity = trivy_block_severity_parse(s);
		if (p->block_severity == -2)
			return bad(l, v, "'block_severity' is '%.40s': expected none, UNKNOWN, LOW, "
				   "MEDIUM, HIGH or CRITICAL", s);
		return 0;
	}
	if (strcmp(key, "only_fixable") == 0)
		return want_bool(l, v, key, &p->only_fixable);
	if (strcmp(key, "block_unscanned") == 0)
		return want_bool(l, v, key, &p->block_unscanned);
	if (strcmp(key, "allowlist") == 0)
		return p->allow ? bad(l, k, "'allowlist' given twice") : read_allowlist(l, v, p);
	if (strcmp(key, "bypass_identities") == 0)
		return p->bypass_identities ? bad(l, k, "'bypass_identities' given twice")
					    : want_strings(l, v, key, &p->bypass_identities,
							   &p->n_bypass_identities);
	if (strcmp(key, "bypass_groups") == 0)
		return p->bypass_groups ? bad(l, k, "'bypass_groups' given twice")
					: want_strings(l, v, key, &p->bypass_groups,
						       &p->n_bypass_groups);
	if (strcmp(key, "contact") == 0)
		return want_strdup(l, v, key, &p->contact);
	return bad(l, k, "unknown policy key '%.40s' (name, repositories, block_severity, "
		   "only_fixable, block_unscanned, allowlist, bypass_identities, bypass_groups, "
		   "contact)", key);
}

static int read_policy(loader *l, const yaml_node_t *n, trivy_policy *p)
{
	yaml_node_pair_t *pair;
	char why[200];
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return bad(l, n, "a policy must be a map");
	p->block_severity = -1;
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		rc = policy_key(l, p, yaml_document_get_node(&l->doc, pair->key),
				yaml_document_get_node(&l->doc, pair->value));
		if (rc)
			return rc;
	}
	if (!p->name)
		return bad(l, n, "a policy needs a 'name'");
	if (p->n_repositories == 0)
		return bad(l, n, "policy '%s' needs 'repositories' (patterns such as team/*)",
			   p->name);
	if (trivy_policy_finish(p, why, sizeof(why)) < 0)
		return bad(l, n, "%s", why);
	return 0;
}

static int read_policies(loader *l, const yaml_node_t *seq, trivy_policy_set *set)
{
	size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	trivy_policy *nv;
	yaml_node_item_t *it;

	if (n > POLICIES_MAX)
		return bad(l, seq, "more than %d policies", POLICIES_MAX);
	nv = realloc(set->v, (set->n + n + 1) * sizeof(*nv));
	if (!nv)
		return trivy_fail(l->err, BERTH_E_NOMEM, "out of memory");
	set->v = nv;
	for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		trivy_policy *p = &set->v[set->n];
		int rc;

		memset(p, 0, sizeof(*p));
		rc = read_policy(l, yaml_document_get_node(&l->doc, *it), p);
		if (rc) {
			trivy_policy_free(p);
			return rc;
		}
		for (size_t i = 0; i < set->n; i++)
			if (strcmp(set->v[i].name, p->name) == 0) {
				rc = bad(l, yaml_document_get_node(&l->doc, *it),
					 "two policies are named '%s'", p->name);
				trivy_policy_free(p);
				return rc;
			}
		set->n++;
	}
	return 0;
}

int trivy_policy_file_load(const char *path, trivy_policy_set *set, berth_error *err)
{
	loader l = {.path = path, .err = err};
	yaml_parser_t parser;
	yaml_node_t *root;
	yaml_node_pair_t *pair;
	FILE *f;
	int rc = 0, have_doc = 0, seen = 0;

	f = fopen(path, "re");
	if (!f)
		return trivy_fail(err, BERTH_E_CONFIG, "scan-trivy: cannot open policy_file '%s': %s",
				  path, strerror(errno));
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		return trivy_fail(err, BERTH_E_NOMEM, "out of memory");
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &l.doc)) {
		rc = trivy_fail(err, BERTH_E_CONFIG, "%s:%zu:%zu: %s", path,
				parser.problem_mark.line + 1, parser.problem_mark.column + 1,
				parser.problem ? parser.problem : "invalid YAML");
		goto out;
	}
	have_doc = 1;
	root = yaml_document_get_root_node(&l.doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		rc = bad(&l, root, "expected a map with a 'policies' list");
		goto out;
	}
	for (pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(&l.doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(&l.doc, pair->value);

		if (!scalar(k) || strcmp(scalar(k), "policies") != 0) {
			rc = bad(&l, k, "unknown key '%.40s' (the file holds 'policies')",
				 scalar(k) ? scalar(k) : "?");
			goto out;
		}
		if (v->type != YAML_SEQUENCE_NODE) {
			rc = bad(&l, v, "'policies' must be a list");
			goto out;
		}
		seen = 1;
		rc = read_policies(&l, v, set);
		if (rc)
			goto out;
	}
	if (!seen)
		rc = bad(&l, root, "no 'policies' list");
out:
	if (have_doc)
		yaml_document_delete(&l.doc);
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}

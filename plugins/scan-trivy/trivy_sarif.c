/*
 * trivy_sarif.c - Trivy's SARIF output (trivy --format sarif) as findings.
 *
 * SARIF is imported rather than refused: it is what GitHub code scanning
 * takes, so CI pipelines often keep only that file, and Trivy writes all
 * that a summary needs into it. In Trivy's SARIF a rule is a vulnerability
 * ID whose properties.tags hold "vulnerability" and the upper-case Trivy
 * severity; a result is one package affected by a rule, with the package,
 * installed and fixed versions as lines of its message text:
 *
 *   Package: curl\nInstalled Version: 7.61.0-r0\nVulnerability CVE-...\n
 *   Severity: CRITICAL\nFixed Version: 7.61.1-r0\nLink: [...](...)
 *
 * The severity comes from the rule's tag (what SOURCES.md counts), then
 * from the message's "Severity:" line, else UNKNOWN: the SARIF `level`
 * folds CRITICAL and HIGH together, so it is never used. Results of
 * misconfiguration, secret and license rules are not vulnerabilities and
 * are left out. Another tool's SARIF is refused.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "trivy_json.h"
#include "trivy_report.h"

enum rule_kind { RULE_UNTAGGED = 0, RULE_VULNERABILITY, RULE_OTHER };

typedef struct sarif_rule {
	const char *id;
	const char *url;
	int severity;              /* -1: no severity tag */
	int kind;                  /* enum rule_kind */
} sarif_rule;

typedef struct sarif_result {
	int64_t rule_index;        /* -1 when absent */
	const char *rule_id;
	const char *target;
	const char *pkg;
	const char *installed;
	const char *fixed;
	int message_severity;      /* -1: no "Severity:" line */
	int looks_like_vulnerability;
} sarif_result;

typedef struct sarif_run {
	sarif_rule *rules;
	size_t n_rules, cap_rules;
	sarif_result *results;
	size_t n_results, cap_results;
	const char *tool_name;
	const char *tool_version;
} sarif_run;

static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 64;
	void *nv;

	if (n < *cap)
		return v;
	nv = realloc(v, c * size);
	if (nv)
		*cap = c;
	return nv;
}

static int copy_string(trivy_json *j, trivy_report *r, const char *what, const char **dst, size_t max)
{
	const char *s;
	size_t len;

	if (trivy_json_peek(j) == TRIVY_JSON_NULL)
		return trivy_json_skip(j);
	if (trivy_json_peek(j) != TRIVY_JSON_STRING)
		return trivy_json_expected(j, "SARIF '%s' is not a string", what);
	if (trivy_json_string(j, &s, &len) < 0)
		return -1;
	*dst = trivy_report_strdup(r, s, len, max);
	return *dst ? 0 : trivy_json_oom(j);
}

/* Walk the keys of an object, calling fn for each; fn must read the value. */
typedef int (*key_fn)(trivy_json *j, trivy_report *r, void *ctx, const char *key, size_t klen);

static int each_key(trivy_json *j, trivy_report *r, const char *what, key_fn fn, void *ctx)
{
	const char *key;
	size_t klen;
	int first = 1, rc;

	if (trivy_json_peek(j) != TRIVY_JSON_OBJECT)
		return trivy_json_expected(j, "SARIF '%s' is not an object", what);
	while ((rc = trivy_json_object_next(j, &first, &key, &klen)) > 0)
		if (fn(j, r, ctx, key, klen) < 0)
			return -1;
	return rc;
}

/* Walk the items of an array; fn reads each. */
typedef int (*item_fn)(trivy_json *j, trivy_report *r, void *ctx);

static int each_item(trivy_json *j, trivy_report *r, const char *what, item_fn fn, void *ctx)
{
	int first = 1, more;

	if (trivy_json_peek(j) == TRIVY_JSON_NULL)
		return trivy_json_skip(j);
	if (trivy_json_peek(j) != TRIVY_JSON_ARRAY)
		return trivy_json_expected(j, "SARIF '%s' is not an array", what);
	while ((more = trivy_json_array_next(j, &first)) > 0)
		if (fn(j, r, ctx) < 0)
			return -1;
	return more;
}

/* ---- rules ---- */

static int rule_tag(trivy_json *j, trivy_report *r, void *ctx)
{
	sarif_rule *rule = ctx;
	const char *s;
	size_t len;
	int sev;

	(void)r;
	if (trivy_json_peek(j) != TRIVY_JSON_STRING)
		return trivy_json_skip(j);
	if (trivy_json_string(j, &s, &len) < 0)
		return -1;
	sev = trivy_severity_lookup(s, len);
	if (sev >= 0 && len > 0 && s[0] >= 'A' && s[0] <= 'Z')
		rule->severity = sev;
	else if (trivy_json_key_is(s, len, "vulnerability"))
		rule->kind = RULE_VULNERABILITY;
	else if (rule->kind != RULE_VULNERABILITY &&
		 (trivy_json_key_is(s, len, "misconfiguration") || trivy_json_key_is(s, len, "secret") ||
		  trivy_json_key_is(s, len, "license")))
		rule->kind = RULE_OTHER;
	return 0;
}

static int rule_properties_key(trivy_json *j, trivy_report *r, void *ctx, const char *key, size_t klen)
{
	if (trivy_json_key_is(key, klen, "tags"))
		return each_item(j, r, "tags", rule_tag, ctx);
	return trivy_json_skip(j);
}

static int rule_key(trivy_json *j, trivy_report *r, void *ctx, const char *key, size_t klen)
{
	sarif_rule *rule = ctx;

	if (trivy_json_key_is(key, klen, "id"))
		return copy_string(j, r, "rules[].id", &rule->id, TRIVY_ID_MAX + 1);
	if (trivy_json_key_is(key, klen, "helpUri"))
		return copy_string(j, r, "rules[].helpUri", &rule->url, TRIVY_TEXT_MAX);
	if (trivy_json_key_is(key, klen, "properties") && trivy_json_peek(j) == TRIVY_JSON_OBJECT)
		return each_key(j, r, "properties", rule_properties_key, rule);
	return trivy_json_skip(j);
}

static int read_rule(trivy_json *j, trivy_report *r, void *ctx)
{
	sarif_run *run = ctx;
	sarif_rule *rule;
	void *nv = grow(run->rules, &run->cap_rules, run->n_rules, sizeof(*run->rules));

	if (!nv)
		return trivy_json_oom(j);
	run->rules = nv;
	rule = &run->rules[run->n_rules++];
	rule->id = rule->url = "";
	rule->severity = -1;
	rule->kind = RULE_UNTAGGED;
	return each_key(j, r, "rules[]", rule_key, rule);
}

static int driver_key(trivy_json *j, trivy_report *r, void *ctx, const char *key, size_t klen)
{
	sarif_run *run = ctx;

	if (trivy_json_key_is(key, klen, "name"))
		return copy_string(j, r, "driver.name", &run->tool_name, 64);
	if (trivy_json_key_is(key, klen, "version"))
		return copy_string(j, r, "driver.version", &run->tool_version, 64);
	if (trivy_json_key_is(key, klen, "rules"))
		return each_item(j, r, "rules", read_rule, run);
	return trivy_json_skip(j);
}

static int tool_key(trivy_json *j, trivy_report *r, void *ctx, const char *key, size_t klen)
{
	if (trivy_json_key_is(key, klen, "driver"))
		return each_key(j, r, "driver", driver_key, ctx);
	return trivy_json_skip(j);
}

/* ---- results ---- */

/* The value after "Name: " on a line of the message, or NULL. */
static const char *line_value(const char *line, size_t len, const char *name, size_t *vlen)
{
	size_t n = strlen(name);

	if (len < n || memcmp(line, name, n) != 0)
		return NULL;
	*vlen = len - n;
	return line + n;
}

static int read_message_text(trivy_json *j, trivy_report *r, sarif_result *res)
{
	const char *text, *line, *v;
	size_t len, vlen;

	if (trivy_json_peek(j) != TRIVY_JSON_STRING)
		return trivy_json_skip(j);
	if (trivy_json_string(j, &text, &len) < 0)
		return -1;
	for (line = text; line < text + len;) {
		const char *eol = memchr(line, '\n', (size_t)(text + len - line));
		size_t ll = eol ? (size_t)(eol - line) : (size_t)(text + len - line);
		const char **dst = NULL;

		if ((v = line_value(line, ll, "Package: ", &vlen)))
			dst = &res->pkg;
		else if ((v = line_value(line, ll, "Installed Version: ", &vlen)))
			dst = &res->installed;
		else if ((v = line_value(line, ll, "Fixed Version: ", &vlen)))
			dst = &res->fixed;
		else if ((v = line_value(line, ll, "Severity: ", &vlen)))
			res->message_severity = trivy_severity_lookup(v, vlen);
		else if (line_value(line, ll, "Vulnerability ", &vlen))
			res->looks_like_vulnerability = 1;
		if (dst) {
			*dst = trivy_report_strdup(r, v, vlen, TRIVY_TEXT_MAX);
			if (!*dst)
				return trivy_json_oom(j);
		}
		line += ll + 1;
	}
	return 0;
}

static int message_key(trivy_json *j, trivy_report *r, void *ctx, const char *key, size_t klen)
{
	if (trivy_json_key_is(key, klen, "text"))
		return read_message_text(j, r, ctx);
	return trivy_json_skip(j);
}

static int artifact_location_key(trivy_json *j, trivy_report *r, void *ctx, const char *key,
				 size_t klen)
{
	sarif_result *res = ctx;

	if (trivy_json_key_is(key, klen, "uri") && !*res->target)
		return copy_string(j, r, "artifactLocation.uri", &res->target, TRIVY_TEXT_MAX);
	return trivy_json_skip(j);
}

static int physical_location_key(trivy_json *j, trivy_report *r, void *ctx, const char *key,
				 size_t klen)
{
	if (trivy_json_key_is(key, klen, "artifactLocation") && trivy_json_peek(j) == TRIVY_JSON_OBJECT)
		return each_key(j, r, "artifactLocation", artifact_location_key, ctx);
	return trivy_json_skip(j);
}

static int location_key(trivy_json *j, trivy_report *r, void *ctx, const char *key, size_t klen)
{
	if (trivy_json_key_is(key, klen, "physicalLocation") && trivy_json_peek(j) == TRIVY_JSON_OBJECT)
		return each_key(j, r, "physicalLocation", physical_location_key, ctx);
	return trivy_json_skip(j);
}

static int read_location(trivy_json *j, trivy_report *r, void *ctx)
{
	if (trivy_json_peek(j) != TRIVY_JSON_OBJECT)
		return trivy_json_skip(j);
	return each_key(j, r, "locations[]", location_key, ctx);
}

static int result_key(trivy_json *j, trivy_report *r, void *ctx, const char *key, size_t klen)
{
	sarif_result *res = ctx;

	if (trivy_json_key_is(key, klen, "ruleId"))
		return copy_string(j, r, "results[].ruleId", &res->rule_id, TRIVY_ID_MAX + 1);
	if (trivy_json_key_is(key, klen, "ruleIndex") && trivy_json_peek(j) == TRIVY_JSON_NUMBER)
		return trivy_json_int(j, &res->rule_index);
	if (trivy_json_key_is(key, klen, "message") && trivy_json_peek(j) == TRIVY_JSON_OBJECT)
		return each_key(j, r, "message", message_key, res);
	if (trivy_json_key_is(key, klen, "locations"))
		return each_item(j, r, "locations", read_location, res);
	return trivy_json_skip(j);
}

static int read_result(trivy_json *j, trivy_report *r, void *ctx)
{
	sarif_run *run = ctx;
	sarif_result *res;
	void *nv;

	if (run->n_results >= TRIVY_FINDINGS_MAX)
		return trivy_json_fail(j, "the report lists more than %d results", TRIVY_FINDINGS_MAX);
	nv = grow(run->results, &run->cap_results, run->n_results, sizeof(*run->results));
	if (!nv)
		return trivy_json_oom(j);
	run->results = nv;
	res = &run->results[run->n_results++];
	memset(res, 0, sizeof(*res));
	res->rule_index = -1;
	res->rule_id = res->target = res->pkg = res->installed = res->fixed = "";
	res->message_severity = -1;
	return each_key(j, r, "results[]", result_key, res);
}

/* ---- runs ---- */

static int run_properties_key(trivy_json *j, trivy_report *r, void *ctx, const char *key, size_t klen)
{
	(void)ctx;
	if (trivy_json_key_is(key, klen, "repoDigests"))
		return trivy_read_repo_digests(j, r, "repoDigests");
	if (trivy_json_key_is(key, klen, "imageID"))
		return copy_string(j, r, "imageID", &r->image_id, 200);
	if (trivy_json_key_is(key, klen, "imageName") && !r->artifact_name)
		return copy_string(j, r, "imageName", &r->artifact_name, TRIVY_TEXT_MAX);
	return trivy_json_skip(j);
}

static int run_key(trivy_json *j, trivy_report *r, void *ctx, const char *key, size_t klen)
{
	if (trivy_json_key_is(key, klen, "tool"))
		return each_key(j, r, "tool", tool_key, ctx);
	if (trivy_json_key_is(key, klen, "results"))
		return each_item(j, r, "results", read_result, ctx);
	if (trivy_json_key_is(key, klen, "properties") && trivy_json_peek(j) == TRIVY_JSON_OBJECT)
		return each_key(j, r, "properties", run_properties_key, ctx);
	return trivy_json_skip(j);
}

static const sarif_rule *rule_of(const sarif_run *run, const sarif_result *res)
{
	if (res->rule_index >= 0 && (uint64_t)res->rule_index < run->n_rules) {
		const sarif_rule *rule = &run->rules[res->rule_index];
		if (!*res->rule_id || strcmp(rule->id, res->rule_id) == 0)
			return rule;
	}
	for (size_t i = 0; *res->rule_id && i < run->n_rules; i++)
		if (strcmp(run->rules[i].id, res->rule_id) == 0)
			return &run->rules[i];
	return NULL;
}

/* The run's results as findings, now that its rules are known. */
static int finish_run(trivy_json *j, trivy_report *r, const sarif_run *run)
{
	if (!run->tool_name || strcasecmp(run->tool_name, "Trivy") != 0)
		return trivy_json_fail(j, "SARIF from '%s' is not a Trivy report",
				       run->tool_name ? run->tool_name : "an unnamed tool");
	if (run->tool_version && !r->scanner_version)
		r->scanner_version = run->tool_version;
	r->scanner = "Trivy";
	for (size_t i = 0; i < run->n_results; i++) {
		const sarif_result *res = &run->results[i];
		const sarif_rule *rule = rule_of(run, res);
		trivy_finding *f;
		int kind = rule ? rule->kind : RULE_UNTAGGED;

		if (kind == RULE_OTHER ||
		    (kind == RULE_UNTAGGED && !res->looks_like_vulnerability))
			continue;
		f = trivy_report_add_finding(r, j);
		if (!f)
			return -1;
		f->id = *res->rule_id ? res->rule_id : rule ? rule->id : "";
		if (!*f->id)
			return trivy_json_fail(j, "SARIF result #%zu names no rule", i);
		f->pkg_name = res->pkg;
		f->installed = res->installed;
		f->fixed = res->fixed;
		f->target = res->target;
		f->url = rule ? rule->url : "";
		if (rule && rule->severity >= 0)
			f->severity = rule->severity;
		else if (res->message_severity >= 0)
			f->severity = res->message_severity;
	}
	return 0;
}

static int read_run(trivy_json *j, trivy_report *r, void *ctx)
{
	sarif_run run;
	int rc;

	(void)ctx;
	memset(&run, 0, sizeof(run));
	rc = each_key(j, r, "runs[]", run_key, &run);
	if (rc == 0)
		rc = finish_run(j, r, &run);
	free(run.rules);
	free(run.results);
	return rc;
}

int trivy_sarif_read_runs(trivy_json *j, trivy_report *r)
{
	return each_item(j, r, "runs", read_run, NULL);
}

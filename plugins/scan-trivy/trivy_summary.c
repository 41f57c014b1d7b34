/*
 * trivy_summary.c - build findings.json, gate.json and summary.json, and
 * count findings (see trivy_summary.h for the rules).
 */
#include "trivy_summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void trivy_format_time(int64_t ms, char *out, size_t cap)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	if (!gmtime_r(&secs, &tm) || (n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(out, cap, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(out + n, cap - n, ".%03dZ", (int)(ms % 1000));
}

/* ------------------------------------------------------------------------ */
/* findings.json                                                            */
/* ------------------------------------------------------------------------ */

static int finding_order(const void *a, const void *b)
{
	const trivy_finding *x = a, *y = b;
	int c;

	if (x->severity != y->severity)
		return y->severity - x->severity;
	if ((c = strcmp(x->id, y->id)) || (c = strcmp(x->pkg_name, y->pkg_name)) ||
	    (c = strcmp(x->target, y->target)) || (c = strcmp(x->installed, y->installed)))
		return c;
	return strcmp(x->pkg_path, y->pkg_path);
}

/* Set key to the string v unless v is empty; 0 or -1. */
static int put_text(json_t *o, const char *key, const char *v)
{
	if (!v || !*v)
		return 0;
	return json_object_set_new(o, key, json_string(v));
}

static json_t *finding_json(const trivy_finding *f)
{
	json_t *o = json_object();
	int bad = !o;

	bad = bad || json_object_set_new(o, "id", json_string(f->id));
	bad = bad || json_object_set_new(o, "severity",
					 json_string(trivy_severity_name(f->severity)));
	bad = bad || json_object_set_new(o, "fixable", json_boolean(trivy_finding_fixable(f)));
	bad = bad || put_text(o, "package", f->pkg_name);
	bad = bad || put_text(o, "package_id", f->pkg_id);
	bad = bad || put_text(o, "package_path", f->pkg_path);
	bad = bad || put_text(o, "purl", f->purl);
	bad = bad || put_text(o, "installed_version", f->installed);
	bad = bad || put_text(o, "fixed_version", f->fixed);
	bad = bad || put_text(o, "status", f->status);
	bad = bad || put_text(o, "title", f->title);
	bad = bad || put_text(o, "url", f->url);
	bad = bad || put_text(o, "severity_source", f->severity_source);
	bad = bad || put_text(o, "target", f->target);
	bad = bad || put_text(o, "class", f->result_class);
	bad = bad || put_text(o, "type", f->result_type);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *trivy_findings_json(trivy_report *r)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	if (r->n_findings > 1)
		qsort(r->findings, r->n_findings, sizeof(*r->findings), finding_order);
	for (size_t i = 0; i < r->n_findings; i++) {
		if (json_array_append_new(arr, finding_json(&r->findings[i])) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static const char *field(const json_t *f, const char *key)
{
	const char *s = json_string_value(json_object_get(f, key));

	return s ? s : "";
}

int trivy_finding_json_severity(const json_t *f)
{
	const char *s = field(f, "severity");

	return trivy_severity_parse(s, strlen(s));
}

int trivy_finding_json_fixable(const json_t *f)
{
	return json_is_true(json_object_get(f, "fixable"));
}

static int json_finding_order(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	int sx = trivy_finding_json_severity(x), sy = trivy_finding_json_severity(y), c;

	if (sx != sy)
		return sy - sx;
	if ((c = strcmp(field(x, "id"), field(y, "id"))) ||
	    (c = strcmp(field(x, "package"), field(y, "package"))))
		return c;
	return strcmp(field(x, "target"), field(y, "target"));
}

void trivy_findings_sort(json_t *findings)
{
	size_t n = json_array_size(findings);
	json_t **v;

	if (n < 2)
		return;
	v = malloc(n * sizeof(*v));
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(findings, i));
	qsort(v, n, sizeof(*v), json_finding_order);
	for (size_t i = 0; i < n; i++)
		json_array_set_new(findings, i, v[i]);
	free(v);
}

/* ------------------------------------------------------------------------ */
/* Counting and merging                                                     */
/* ------------------------------------------------------------------------ */

void trivy_findings_count(const json_t *findings, trivy_counts *c)
{
	json_t *ids = json_object();
	const char *id;
	json_t *mask;
	size_t i;
	const json_t *f;

	memset(c, 0, sizeof(*c));
	json_array_foreach(findings, i, f) {
		int sev = trivy_finding_json_severity(f);
		json_t *m;

		c->all[sev]++;
		c->total++;
		if (trivy_finding_json_fixable(f)) {
			c->fixable[sev]++;
			c->fixable_total++;
		}
		if (!ids)
			continue;
		/* Distinct IDs: one entry per ID, a bit per severity it was seen with. */
		m = json_object_get(ids, field(f, "id"));
		if (m)
			json_integer_set(m, json_integer_value(m) | (1 << sev));
		else
			json_object_set_new(ids, field(f, "id"), json_integer(1 << sev));
	}
	json_object_foreach(ids, id, mask) {
		json_int_t bits = json_integer_value(mask);
		c->unique_total++;
		for (int s = 0; s < TRIVY_SEV_COUNT; s++)
			if (bits & (1 << s))
				c->unique[s]++;
	}
	json_decref(ids);
}

/* The identity of a finding, as in the report parser: target, package, path, ID. */
static int finding_key(const json_t *f, char *out, size_t cap)
{
	const char *pkg_id = field(f, "package_id");
	int n;

	if (*pkg_id)
		n = snprintf(out, cap, "%s\x1f%s\x1f\x1f%s\x1f%s", field(f, "target"), pkg_id,
			     field(f, "package_path"), field(f, "id"));
	else
		n = snprintf(out, cap, "%s\x1f%s\x1f%s\x1f%s\x1f%s", field(f, "target"),
			     field(f, "package"), field(f, "installed_version"),
			     field(f, "package_path"), field(f, "id"));
	return n >= 0 && (size_t)n < cap ? 0 : -1;
}

int trivy_findings_merge(json_t *dst, const json_t *src, json_t *seen)
{
	/* Every field of a finding is at most TRIVY_TEXT_MAX bytes. */
	char key[6 * TRIVY_TEXT_MAX + 8];
	size_t i;
	json_t *f;

	json_array_foreach(src, i, f) {
		if (!json_is_object(f) || finding_key(f, key, sizeof(key)) < 0)
			continue;
		if (json_object_get(seen, key))
			continue;
		if (json_object_set_new(seen, key, json_true()) < 0 ||
		    json_array_append(dst, f) < 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* gate.json                                                                */
/* ------------------------------------------------------------------------ */

typedef struct gate_row {
	const char *id;
	int severity;
	int fixable;
} gate_row;

static int gate_row_order(const void *a, const void *b)
{
	const gate_row *x = a, *y = b;
	int c;

	if (x->severity != y->severity)
		return y->severity - x->severity;
	if ((c = strcmp(x->id, y->id)))
		return c;
	return y->fixable - x->fixable;
}

json_t *trivy_gate_json(const json_t *findings)
{
	size_t n = json_array_size(findings), i;
	gate_row *rows = malloc((n ? n : 1) * sizeof(*rows));
	json_t *doc = NULL, *entries = json_array();
	const json_t *f;

	if (!rows || !entries)
		goto out;
	json_array_foreach(findings, i, f) {
		rows[i].id = field(f, "id");
		rows[i].severity = trivy_finding_json_severity(f);
		rows[i].fixable = trivy_finding_json_fixable(f);
	}
	qsort(rows, n, sizeof(*rows), gate_row_order);
	for (i = 0; i < n; i++) {
		if (i > 0 && gate_row_order(&rows[i - 1], &rows[i]) == 0)
			continue;
		if (json_array_append_new(entries, json_pack("[sib]", rows[i].id, rows[i].severity,
							     rows[i].fixable)) < 0)
			goto out;
	}
	doc = json_pack("{s:i,s:O}", "v", 1, "entries", entries);
out:
	json_decref(entries);
	free(rows);
	return doc;
}

/* ------------------------------------------------------------------------ */
/* summary.json                                                             */
/* ------------------------------------------------------------------------ */

json_t *trivy_counts_json(const size_t *by_severity, size_t total)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (json_object_set_new(o, "total", json_integer((json_int_t)total)) < 0)
		goto bad;
	for (int s = TRIVY_SEV_CRITICAL; s >= TRIVY_SEV_UNKNOWN; s--)
		if (json_object_set_new(o, trivy_severity_name(s),
					json_integer((json_int_t)by_severity[s])) < 0)
			goto bad;
	return o;
bad:
	json_decref(o);
	return NULL;
}

int trivy_counts_put(json_t *obj, const trivy_counts *c)
{
	if (json_object_set_new(obj, "counts", trivy_counts_json(c->all, c->total)) < 0 ||
	    json_object_set_new(obj, "fixable", trivy_counts_json(c->fixable, c->fixable_total)) < 0 ||
	    json_object_set_new(obj, "unique", trivy_counts_json(c->unique, c->unique_total)) < 0)
		return -1;
	return 0;
}

static json_t *string_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

json_t *trivy_summary_json(const trivy_report *r, const trivy_counts *c, const trivy_origin *o)
{
	char imported[40];
	json_t *doc, *digests = json_array();

	trivy_format_time(o->imported_at_ms, imported, sizeof(imported));
	for (size_t i = 0; digests && i < r->n_repo_digests; i++)
		json_array_append_new(digests, json_string(r->repo_digests[i]));
	doc = json_pack("{s:s, s:{s:s,s:o}, s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:s, s:o,"
			" s:{s:I,s:s}, s:I, s:[]}",
			"digest", o->digest,
			"scanner", "name", r->scanner ? r->scanner : "Trivy",
			"version", string_or_null(r->scanner_version),
			"format", trivy_format_name(r->format),
			"artifact_name", string_or_null(r->artifact_name),
			"artifact_type", string_or_null(r->artifact_type),
			"image_id", string_or_null(r->image_id),
			"repo_digests", digests ? digests : json_array(),
			"created_at", string_or_null(r->created_at),
			"imported_at", imported,
			"imported_via", o->via,
			"imported_to", o->repository,
			"referrer", string_or_null(o->referrer),
			"raw", "size", (json_int_t)o->report_size, "digest", o->report_digest,
			"duplicates_dropped", (json_int_t)r->duplicates,
			"warnings");
	if (!doc)
		return NULL;
	if (trivy_counts_put(doc, c) < 0 ||
	    (o->warning && json_array_append_new(json_object_get(doc, "warnings"),
						 json_string(o->warning)) < 0)) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

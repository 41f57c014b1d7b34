/*
 * trivy_view.c - a manifest's reports as the API and report() show them.
 *
 * An image shows its own report. An index (multi-arch tag) shows the
 * union of its own report, if one was imported for the index digest (what
 * Trivy names when scanning a multi-arch tag), and its image children's,
 * with identical findings counted once. It counts as scanned when it has
 * a report of its own or every image child has one: the same rule the pull
 * gate applies.
 */
#include <stdlib.h>
#include <string.h>

#include "trivy_plugin.h"

typedef struct gathered {
	json_t *own;               /* the digest's own summary, or NULL */
	json_t *findings;          /* own findings, or the union */
	json_t *children;          /* index: [{digest, platform, scanned, counts...}] */
	int scanned;
	int any;                   /* some report was found */
} gathered;

static void gathered_free(gathered *g)
{
	json_decref(g->own);
	json_decref(g->findings);
	json_decref(g->children);
	memset(g, 0, sizeof(*g));
}

/* One digest's summary and findings; both NULL when it has no report. */
static int load_one(struct scan_trivy *st, const char *digest, json_t **summary,
		    json_t **findings, berth_error *err)
{
	int rc = trivy_store_read_json(st, digest, TRIVY_FILE_SUMMARY, summary, err);

	*findings = NULL;
	if (rc == BERTH_E_NOT_FOUND) {
		*summary = NULL;
		return 0;
	}
	if (rc)
		return rc;
	rc = trivy_store_read_json(st, digest, TRIVY_FILE_FINDINGS, findings, err);
	if (rc == 0 && !json_is_array(*findings))
		rc = trivy_fail(err, BERTH_E_IO, "stored findings of %s are not a list", digest);
	if (rc) {
		json_decref(*summary);
		json_decref(*findings);
		*summary = *findings = NULL;
	}
	return rc;
}

static int child_entry(const trivy_descriptor *d, json_t *summary, json_t *findings,
		       json_t *children)
{
	json_t *e = json_pack("{s:s,s:s?,s:b}", "digest", d->digest, "platform", d->platform,
			      "scanned", summary != NULL);
	trivy_counts c;

	if (!e)
		return -1;
	if (summary) {
		trivy_findings_count(findings, &c);
		if (trivy_counts_put(e, &c) < 0 ||
		    json_object_set(e, "scanner", json_object_get(summary, "scanner")) < 0 ||
		    json_object_set(e, "imported_at", json_object_get(summary, "imported_at")) < 0) {
			json_decref(e);
			return -1;
		}
	}
	return json_array_append_new(children, e);
}

static int gather(struct scan_trivy *st, const trivy_manifest *m, gathered *g, berth_error *err)
{
	json_t *own_findings = NULL, *seen = NULL;
	size_t scanned_children = 0;
	int rc;

	memset(g, 0, sizeof(*g));
	rc = load_one(st, m->digest, &g->own, &own_findings, err);
	if (rc)
		return rc;
	if (m->kind != TRIVY_MANIFEST_INDEX) {
		g->findings = own_findings;
		g->scanned = g->any = g->own != NULL;
		return 0;
	}
	g->findings = json_array();
	g->children = json_array();
	seen = json_object();
	if (!g->findings || !g->children || !seen)
		goto nomem;
	if (own_findings && trivy_findings_merge(g->findings, own_findings, seen) < 0)
		goto nomem;
	for (size_t i = 0; i < m->n_layers; i++) {
		json_t *summary = NULL, *findings = NULL;

		rc = load_one(st, m->layers[i].digest, &summary, &findings, err);
		if (rc)
			goto out;
		if (summary) {
			scanned_children++;
			rc = trivy_findings_merge(g->findings, findings, seen);
		}
		if (rc == 0)
			rc = child_entry(&m->layers[i], summary, findings, g->children);
		json_decref(summary);
		json_decref(findings);
		if (rc)
			goto nomem;
	}
	trivy_findings_sort(g->findings);
	g->any = g->own || scanned_children > 0;
	g->scanned = g->own || (m->n_layers > 0 && scanned_children == m->n_layers);
	rc = 0;
	goto out;
nomem:
	rc = trivy_fail(err, BERTH_E_NOMEM, "out of memory");
out:
	json_decref(own_findings);
	json_decref(seen);
	if (rc)
		gathered_free(g);
	return rc;
}

/* repository, tag, digest, media_type: what every answer starts with. */
static json_t *head_of(const char *repository, const char *tag, const trivy_manifest *m)
{
	return json_pack("{s:s,s:s?,s:s,s:s?}", "repository", repository, "tag", tag, "digest",
			 m->digest, "media_type", m->media_type);
}

int trivy_view_summary(struct scan_trivy *st, const char *repository, const char *tag,
		       const trivy_manifest *m, json_t **out, berth_error *err)
{
	gathered g;
	json_t *doc;
	trivy_counts c;
	int rc = gather(st, m, &g, err);

	if (rc)
		return rc;
	doc = head_of(repository, tag, m);
	if (!doc)
		goto nomem;
	if (m->kind != TRIVY_MANIFEST_INDEX) {
		/* The stored summary, under what this request asked for. */
		if (g.own && json_object_update_missing(doc, g.own) < 0)
			goto nomem;
		if (json_object_set_new(doc, "scanned", json_boolean(g.scanned)) < 0)
			goto nomem;
	} else {
		if (json_object_set_new(doc, "scanned", json_boolean(g.scanned)) < 0 ||
		    json_object_set_new(doc, "union", json_true()) < 0 ||
		    json_object_set(doc, "index_report", g.own ? g.own : json_null()) < 0 ||
		    json_object_set(doc, "manifests", g.children) < 0)
			goto nomem;
		trivy_findings_count(g.findings, &c);
		if (g.any && trivy_counts_put(doc, &c) < 0)
			goto nomem;
	}
	gathered_free(&g);
	*out = doc;
	return 0;
nomem:
	json_decref(doc);
	gathered_free(&g);
	return trivy_fail(err, BERTH_E_NOMEM, "out of memory");
}

static int passes(const json_t *f, const trivy_filter *flt)
{
	if (flt->severities && !(flt->severities & (1u << trivy_finding_json_severity(f))))
		return 0;
	if (flt->fixable >= 0 && trivy_finding_json_fixable(f) != flt->fixable)
		return 0;
	return 1;
}

static json_t *filters_json(const trivy_filter *flt)
{
	json_t *sev = json_null();

	if (flt->severities) {
		sev = json_array();
		for (int s = TRIVY_SEV_CRITICAL; sev && s >= TRIVY_SEV_UNKNOWN; s--)
			if (flt->severities & (1u << s))
				json_array_append_new(sev, json_string(trivy_severity_name(s)));
	}
	return json_pack("{s:o,s:o}", "severity", sev, "fixable",
			 flt->fixable < 0 ? json_null() : json_boolean(flt->fixable));
}

int trivy_view_vulnerabilities(struct scan_trivy *st, const char *repository, const char *tag,
			       const trivy_manifest *m, const trivy_filter *flt, json_t **out,
			       berth_error *err)
{
	gathered g;
	json_t *doc = NULL, *list, *f;
	size_t i;
	int rc = gather(st, m, &g, err);

	if (rc)
		return rc;
	if (!g.any) {
		gathered_free(&g);
		return trivy_fail(err, BERTH_E_NOT_FOUND, "no vulnerability report for %s@%s",
				  repository, m->digest);
	}
	list = json_array();
	doc = head_of(repository, tag, m);
	if (!list || !doc)
		goto nomem;
	json_array_foreach(g.findings, i, f)
		if (passes(f, flt) && json_array_append(list, f) < 0)
			goto nomem;
	if (json_object_set_new(doc, "scanned", json_boolean(g.scanned)) < 0 ||
	    json_object_set_new(doc, "filters", filters_json(flt)) < 0 ||
	    json_object_set_new(doc, "count", json_integer((json_int_t)json_array_size(list))) < 0 ||
	    json_object_set(doc, "vulnerabilities", list) < 0)
		goto nomem;
	json_decref(list);
	gathered_free(&g);
	*out = doc;
	return 0;
nomem:
	json_decref(list);
	json_decref(doc);
	gathered_free(&g);
	return trivy_fail(err, BERTH_E_NOMEM, "out of memory");
}

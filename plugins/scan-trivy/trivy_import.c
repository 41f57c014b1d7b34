/*
 * trivy_import.c - take a report in, from the API or a pushed referrer:
 * check that its manifest exists and that the report is about it, parse
 * it, write its four files, make the gate forget what it knew about the
 * digest, count it and announce it (scan.completed).
 *
 * The body is parsed where it lies (the request's buffer, or the blob
 * read for a referrer) and stored from there; what the parse keeps is a
 * fraction of it, so an import holds one copy of a report.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trivy_plugin.h"
#include "trivy_report.h"

static void sha256_of(const void *data, size_t len, char out[72])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32) {
		snprintf(out, 72, "unknown");
		return;
	}
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* Findings, gate index and summary of a parsed report, as text to store. */
typedef struct import_docs {
	char *findings, *gate, *summary;
	json_t *summary_json;
	trivy_counts counts;
} import_docs;

static void import_docs_free(import_docs *d)
{
	free(d->findings);
	free(d->gate);
	free(d->summary);
	json_decref(d->summary_json);
	memset(d, 0, sizeof(*d));
}

static int build_docs(trivy_report *r, const trivy_origin *o, import_docs *d, berth_error *err)
{
	json_t *findings = trivy_findings_json(r), *gate = NULL;
	int rc = 0;

	if (findings) {
		trivy_findings_count(findings, &d->counts);
		gate = trivy_gate_json(findings);
		d->summary_json = trivy_summary_json(r, &d->counts, o);
	}
	if (findings && gate && d->summary_json) {
		d->findings = json_dumps(findings, JSON_COMPACT);
		d->gate = json_dumps(gate, JSON_COMPACT);
		d->summary = json_dumps(d->summary_json, JSON_COMPACT | JSON_SORT_KEYS);
	}
	if (!d->findings || !d->gate || !d->summary)
		rc = trivy_fail(err, BERTH_E_NOMEM, "out of memory building the report's summary");
	json_decref(findings);
	json_decref(gate);
	return rc;
}

/* The four files of one digest; the summary last, as it marks the set complete. */
static int store_docs(struct scan_trivy *st, const trivy_import_request *in, const char *digest,
		      const import_docs *d, berth_error *err)
{
	int rc;

	pthread_mutex_lock(&st->import_lock);
	rc = trivy_store_write(st, digest, TRIVY_FILE_REPORT, in->body, in->len, err);
	if (rc == 0)
		rc = trivy_store_write(st, digest, TRIVY_FILE_FINDINGS, d->findings,
				       strlen(d->findings), err);
	if (rc == 0)
		rc = trivy_store_write(st, digest, TRIVY_FILE_GATE, d->gate, strlen(d->gate), err);
	if (rc == 0)
		rc = trivy_store_write(st, digest, TRIVY_FILE_SUMMARY, d->summary,
				       strlen(d->summary), err);
	/* Whatever was written, the gate must read it afresh. */
	trivy_cache_invalidate(st->cache, digest);
	pthread_mutex_unlock(&st->import_lock);
	return rc;
}

static void announce(struct scan_trivy *st, const trivy_import_request *in, const trivy_report *r,
		     const import_docs *d)
{
	const berth_host *host = st->host;
	const char *labels[] = {in->via, NULL};
	json_t *detail = json_pack("{s:s,s:s,s:s?,s:s,s:s?}", "format", trivy_format_name(r->format),
				   "scanner", r->scanner ? r->scanner : "Trivy", "scanner_version",
				   r->scanner_version, "via", in->via, "referrer", in->referrer);
	char *text = NULL;
	const trivy_counts *c = &d->counts;

	if (detail && trivy_counts_put(detail, c) == 0)
		text = json_dumps(detail, JSON_COMPACT);
	if (in->req && BERTH_HOST_HAS(host, emit_request_event))
		host->emit_request_event(st->self, in->req, NULL, "scan.completed", in->repository,
					 NULL, in->digest, text);
	else
		host->emit_event(st->self, "scan.completed", in->repository, NULL, in->digest, text);
	host->metric_add(st->imported, labels, 1);
	host->log(st->self, BERTH_LOG_INFO,
		  "imported %s report for %s@%s via %s: vulnerabilities %zu (CRITICAL %zu, HIGH %zu, "
		  "MEDIUM %zu, LOW %zu, UNKNOWN %zu), fixable %zu",
		  trivy_format_name(r->format), in->repository, in->digest, in->via, c->total,
		  c->all[TRIVY_SEV_CRITICAL], c->all[TRIVY_SEV_HIGH], c->all[TRIVY_SEV_MEDIUM],
		  c->all[TRIVY_SEV_LOW], c->all[TRIVY_SEV_UNKNOWN], c->fixable_total);
	free(text);
	json_decref(detail);
}

static void count_failure(struct scan_trivy *st, const trivy_import_request *in, const char *reason,
			  int rc, const berth_error *err)
{
	const char *labels[] = {in->via, reason, NULL};
	/* A client's bad report is routine for the API; elsewhere someone should look. */
	int level = rc == BERTH_E_IO || rc == BERTH_E_NOMEM || rc == BERTH_E_NOSPACE
			    ? BERTH_LOG_ERROR
		    : strcmp(in->via, "api") == 0 ? BERTH_LOG_INFO : BERTH_LOG_WARN;

	st->host->metric_add(st->failures, labels, 1);
	st->host->log(st->self, level, "report for %s@%s via %s refused (%s): %s", in->repository,
		      in->digest, in->via, reason, err->message);
}

int trivy_import(struct scan_trivy *st, const trivy_import_request *in, json_t **summary,
		 berth_error *err)
{
	trivy_manifest m;
	trivy_report r;
	import_docs docs;
	trivy_origin origin;
	char report_digest[72], warning[400];
	const char *reason = "invalid";
	int rc;

	memset(&m, 0, sizeof(m));
	memset(&r, 0, sizeof(r));
	memset(&docs, 0, sizeof(docs));
	*summary = NULL;
	if (in->len > st->max_report_size) {
		reason = "too_large";
		rc = trivy_fail(err, BERTH_E_TOO_LARGE,
				"the report is %zu bytes, over max_report_size (%llu bytes)", in->len,
				(unsigned long long)st->max_report_size);
		goto out;
	}
	rc = trivy_manifest_read(st, in->repository, in->digest, &m, err);
	if (rc) {
		reason = rc == BERTH_E_NOT_FOUND ? "unknown_manifest" : "storage";
		goto out;
	}
	rc = trivy_report_parse(in->body, in->len, &r, err);
	if (rc) {
		reason = rc == BERTH_E_NOMEM ? "internal" : "invalid";
		goto out;
	}
	rc = trivy_report_check_target(&r, m.digest,
				       m.kind == TRIVY_MANIFEST_IMAGE ? m.config_digest : NULL, err);
	if (rc) {
		reason = "wrong_target";
		goto out;
	}
	sha256_of(in->body, in->len, report_digest);
	memset(&origin, 0, sizeof(origin));
	origin.digest = m.digest;
	origin.repository = in->repository;
	origin.via = in->via;
	origin.referrer = in->referrer;
	origin.report_digest = report_digest;
	origin.report_size = in->len;
	origin.imported_at_ms = st->host->now_ms();
	/* Without RepoDigests the report cannot be matched, only doubted. */
	if (r.n_subject_digests == 0 && r.image_id && *r.image_id && m.kind == TRIVY_MANIFEST_IMAGE &&
	    m.config_digest && strcmp(r.image_id, m.config_digest) != 0 &&
	    strcmp(r.image_id, m.digest) != 0) {
		snprintf(warning, sizeof(warning),
			 "the report's ImageID %.80s is not this image's config %.80s: it may "
			 "describe another image", r.image_id, m.config_digest);
		origin.warning = warning;
	}
	rc = build_docs(&r, &origin, &docs, err);
	if (rc) {
		reason = "internal";
		goto out;
	}
	rc = store_docs(st, in, m.digest, &docs, err);
	if (rc) {
		reason = "storage";
		goto out;
	}
	announce(st, in, &r, &docs);
	*summary = docs.summary_json;
	docs.summary_json = NULL;
out:
	if (rc)
		count_failure(st, in, reason, rc, err);
	import_docs_free(&docs);
	trivy_report_free(&r);
	trivy_manifest_clear(&m);
	return rc;
}

/*
 * trivy_gate.c - the scan hooks: the pull gate, the import of reports
 * pushed as referrers, and report() for GET /berth/v1/reports/.
 *
 * The gate runs on every manifest GET and HEAD, so it never touches a
 * report: it matches the repository to a policy (most pulls stop there),
 * asks the cache for the digest's gate index (a few KiB read from storage
 * once per digest and TTL), and decides. An index is judged on the union
 * of its own report and its image children's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trivy_plugin.h"

/* The gate index of a digest: from the cache, else from storage (and cached). */
static int lookup(struct scan_trivy *st, const char *digest, trivy_gate_index **out,
		  berth_error *err)
{
	int64_t now = st->host->monotonic_ms();
	uint64_t gen = trivy_cache_generation(st->cache);
	trivy_gate_index *idx = trivy_cache_get(st->cache, digest, now);
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (idx) {
		*out = idx;
		return 0;
	}
	rc = trivy_store_read(st, digest, TRIVY_FILE_GATE, st->max_report_size, &text, &len, err);
	if (rc == BERTH_E_NOT_FOUND) {
		idx = trivy_gate_index_parse(NULL, 0);
	} else if (rc) {
		st->host->log(st->self, BERTH_LOG_ERROR, "cannot read the scan index of %s: %s",
			      digest, err->message);
		/* Fail closed, and let the client retry. */
		return trivy_fail(err, BERTH_E_AGAIN, "the scan report of %s cannot be read now",
				  digest);
	} else {
		idx = trivy_gate_index_parse(text, len);
		free(text);
		if (!idx) {
			st->host->log(st->self, BERTH_LOG_ERROR,
				      "the scan index of %s is damaged; import the report again",
				      digest);
			return trivy_fail(err, BERTH_E_IO, "the scan report of %s is damaged", digest);
		}
	}
	if (!idx)
		return trivy_fail(err, BERTH_E_NOMEM, "out of memory");
	trivy_cache_put(st->cache, digest, idx, gen, now);
	*out = idx;
	return 0;
}

/* Entries of several indexes in one sorted list, for an index's union. */
static int entry_order(const void *a, const void *b)
{
	const trivy_gate_entry *x = a, *y = b;
	int c;

	if (x->severity != y->severity)
		return y->severity - x->severity;
	if ((c = strcmp(x->id, y->id)))
		return c;
	return y->fixable - x->fixable;
}

typedef struct judged {
	trivy_gate_index **held;   /* references to release */
	size_t n_held;
	trivy_gate_entry *merged;  /* only for an index */
	const trivy_gate_entry *entries;
	size_t n;
	int scanned;
} judged;

static void judged_free(judged *j)
{
	for (size_t i = 0; i < j->n_held; i++)
		trivy_gate_index_release(j->held[i]);
	free(j->held);
	free(j->merged);
}

static int judge_index(struct scan_trivy *st, const berth_manifest *bm, judged *j,
		       berth_error *err)
{
	trivy_manifest m;
	size_t total = 0, scanned_children = 0, off = 0;
	int rc = trivy_manifest_parse(bm->body, bm->body_len, bm->media_type, bm->digest, &m);

	if (rc)
		return trivy_fail(err, BERTH_E_NOMEM, "out of memory");
	j->held = calloc(m.n_layers + 1, sizeof(*j->held));
	if (!j->held) {
		rc = trivy_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = lookup(st, bm->digest, &j->held[j->n_held++], err);
	for (size_t i = 0; rc == 0 && i < m.n_layers; i++) {
		rc = lookup(st, m.layers[i].digest, &j->held[j->n_held], err);
		if (rc == 0 && j->held[j->n_held++]->scanned)
			scanned_children++;
	}
	if (rc)
		goto out;
	j->scanned = j->held[0]->scanned || (m.n_layers > 0 && scanned_children == m.n_layers);
	for (size_t i = 0; i < j->n_held; i++)
		total += j->held[i]->n;
	j->merged = malloc((total ? total : 1) * sizeof(*j->merged));
	if (!j->merged) {
		rc = trivy_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < j->n_held; i++) {
		if (j->held[i]->n == 0)
			continue;
		memcpy(j->merged + off, j->held[i]->entries, j->held[i]->n * sizeof(*j->merged));
		off += j->held[i]->n;
	}
	qsort(j->merged, total, sizeof(*j->merged), entry_order);
	j->entries = j->merged;
	j->n = total;
out:
	trivy_manifest_clear(&m);
	return rc;
}

static int is_index_type(const char *mt)
{
	return mt && (strcmp(mt, "application/vnd.oci.image.index.v1+json") == 0 ||
		      strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json") == 0);
}

/* Referrers (signatures, SBOMs, reports) and non-image artifacts are never "unscanned". */
static int exempt_from_unscanned(const berth_manifest *bm)
{
	trivy_manifest m;
	int image;

	if (trivy_manifest_parse(bm->body, bm->body_len, bm->media_type, bm->digest, &m) != 0)
		return 0;
	image = trivy_manifest_is_image(&m);
	trivy_manifest_clear(&m);
	return !image;
}

static int trivy_gate(void *state, const berth_request *req, const berth_manifest *bm,
		      berth_error *err)
{
	struct scan_trivy *st = state;
	const berth_host *host = st->host;
	const trivy_policy *p = trivy_policy_match(&st->policies, bm->repository);
	const berth_identity *id;
	trivy_verdict v;
	judged j;
	int rc;

	if (!p || trivy_policy_inert(p))
		return BERTH_DECLINED;
	id = req ? host->request_identity(req) : NULL;
	if (id && trivy_policy_bypassed(p, id->name, id->groups)) {
		host->log(st->self, BERTH_LOG_INFO, "pull of %s@%s by '%s' bypasses scan policy '%s'",
			  bm->repository, bm->digest, id->name, p->name);
		return BERTH_DECLINED;
	}
	memset(&j, 0, sizeof(j));
	if (is_index_type(bm->media_type)) {
		rc = judge_index(st, bm, &j, err);
	} else {
		j.held = calloc(1, sizeof(*j.held));
		rc = j.held ? lookup(st, bm->digest, &j.held[0], err)
			    : trivy_fail(err, BERTH_E_NOMEM, "out of memory");
		if (rc == 0) {
			j.n_held = 1;
			j.scanned = j.held[0]->scanned;
			j.entries = j.held[0]->entries;
			j.n = j.held[0]->n;
		}
	}
	if (rc)
		goto out;
	if (!j.scanned && p->block_unscanned && exempt_from_unscanned(bm)) {
		rc = BERTH_DECLINED;
		goto out;
	}
	trivy_policy_decide(p, j.scanned, j.entries, j.n, host->now_ms(), &v);
	if (!v.blocked) {
		rc = BERTH_DECLINED;
		goto out;
	}
	err->code = BERTH_E_DENIED;
	trivy_verdict_message(p, &v, bm->repository, bm->digest, err->message,
			      sizeof(err->message));
	rc = BERTH_E_DENIED;
out:
	judged_free(&j);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Reports pushed as referrers                                              */
/* ------------------------------------------------------------------------ */

static int type_listed(const struct scan_trivy *st, const char *type)
{
	for (size_t i = 0; type && i < st->n_referrer_types; i++)
		if (strcmp(st->referrer_types[i], type) == 0)
			return 1;
	return 0;
}

/* The layer holding the report: one of a listed media type, else the first of a listed artifact. */
static const trivy_descriptor *report_layer(const struct scan_trivy *st, const trivy_manifest *m)
{
	for (size_t i = 0; i < m->n_layers; i++)
		if (type_listed(st, m->layers[i].media_type))
			return &m->layers[i];
	if (m->n_layers > 0 && type_listed(st, m->artifact_type))
		return &m->layers[0];
	return NULL;
}

typedef struct blob_buf {
	char *data;
	size_t len, cap;
	int failed;
} blob_buf;

static int blob_append(void *ctx, const void *data, size_t len)
{
	blob_buf *b = ctx;

	if (len == 0)
		return 0;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		char *nd;
		while (cap < b->len + len)
			cap *= 2;
		nd = realloc(b->data, cap);
		if (!nd) {
			b->failed = 1;
			return 1;
		}
		b->data = nd;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

static void trivy_on_push(void *state, const berth_manifest *bm)
{
	struct scan_trivy *st = state;
	const berth_host *host = st->host;
	const trivy_descriptor *layer;
	trivy_import_request in;
	trivy_manifest m;
	blob_buf b = {0};
	berth_error err = {0};
	json_t *summary = NULL;
	int rc;

	if (!st->import_referrers || !bm->subject)
		return;
	if (trivy_manifest_parse(bm->body, bm->body_len, bm->media_type, bm->digest, &m) != 0)
		return;
	layer = report_layer(st, &m);
	if (!layer)
		goto out;
	memset(&in, 0, sizeof(in));
	in.repository = bm->repository;
	in.digest = bm->subject;
	in.via = "referrer";
	in.referrer = bm->digest;
	/* The descriptor's size tells how much to expect: one allocation for the report. */
	if (layer->size > 0 && (uint64_t)layer->size <= st->max_report_size) {
		b.data = malloc((size_t)layer->size);
		b.cap = b.data ? (size_t)layer->size : 0;
	}
	rc = host->read_blob(bm->repository, layer->digest, st->max_report_size, blob_append, &b,
			     &err);
	if (rc == 0 && b.failed)
		rc = trivy_fail(&err, BERTH_E_NOMEM, "out of memory reading the report");
	if (rc) {
		const char *labels[] = {"referrer", rc == BERTH_E_TOO_LARGE ? "too_large" : "storage",
					NULL};
		host->metric_add(st->failures, labels, 1);
		host->log(st->self, BERTH_LOG_WARN, "report %s of %s@%s not imported: %s",
			  layer->digest, bm->repository, bm->subject, err.message);
		goto out;
	}
	in.body = b.data ? b.data : "";
	in.len = b.len;
	/* trivy_import counts and logs its own failures. */
	trivy_import(st, &in, &summary, &err);
	json_decref(summary);
out:
	free(b.data);
	trivy_manifest_clear(&m);
}

/* ------------------------------------------------------------------------ */
/* report(): GET /berth/v1/reports/<repository>@<digest>                    */
/* ------------------------------------------------------------------------ */

static int trivy_report_op(void *state, const char *repository, const char *digest, char *buf,
			   size_t cap, size_t *len, berth_error *err)
{
	struct scan_trivy *st = state;
	trivy_manifest m;
	trivy_filter all = {.severities = 0, .fixable = -1};
	json_t *summary = NULL, *vulns = NULL, *doc = NULL;
	char *text = NULL;
	int rc = trivy_manifest_read(st, repository, digest, &m, err);

	if (rc)
		return rc;
	rc = trivy_view_summary(st, repository, NULL, &m, &summary, err);
	if (rc == 0)
		rc = trivy_view_vulnerabilities(st, repository, NULL, &m, &all, &vulns, err);
	if (rc)
		goto out;
	doc = json_pack("{s:O,s:O}", "summary", summary, "vulnerabilities",
			json_object_get(vulns, "vulnerabilities"));
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (!text) {
		rc = trivy_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	*len = strlen(text);
	if (*len > cap)
		rc = trivy_fail(err, BERTH_E_RANGE, "the report needs %zu bytes", *len);
	else
		memcpy(buf, text, *len);
out:
	free(text);
	json_decref(doc);
	json_decref(summary);
	json_decref(vulns);
	trivy_manifest_clear(&m);
	return rc;
}

const berth_scan_ops trivy_scan_ops = {
	.size = sizeof(berth_scan_ops),
	.on_push = trivy_on_push,
	.gate = trivy_gate,
	.report = trivy_report_op,
};

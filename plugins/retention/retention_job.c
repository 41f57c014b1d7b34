/*
 * retention_job.c - the job `retention`: for every repository a policy
 * selects, read it, make the plan, print it as a table, and (unless this
 * is a dry run) delete through the host, which takes the registry's locks
 * and emits a `delete` event per tag or manifest with this instance as the
 * identity.
 *
 * The registry keeps serving during a run. Between the plan and the
 * deletes a client may move a tag or tag a manifest the plan condemned, so
 * the deletes are conditional (delete_tag_if, delete_manifest_if_untagged):
 * the host decides under the repository's lock, as a push does, and what
 * changed since the plan is skipped, reported and counted, with what it
 * holds.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retention.h"

#define REASON_MAX 200

struct totals {
	size_t selected, changed, tags, manifests, skipped, errors;
	uint64_t bytes;
};

struct run_ctx {
	struct retention_state *st;
	berth_job_run *run;
	int dry;
	int conditional;                /* the host has delete_tag_if and delete_manifest_if_untagged */
	struct totals t;
	berth_error first;              /* the first failure, reported as the run's error */
};

static void note_error(struct run_ctx *c, const char *repository, const berth_error *err)
{
	c->t.errors++;
	c->st->host->job_print(c->run, "%s: error: %s", repository, err->message);
	if (!c->first.code)
		retention_fail(&c->first, err->code ? err->code : BERTH_E_INTERNAL, "%s: %s",
			       repository, err->message);
}

/* ------------------------------------------------------------------------ */
/* The table                                                                */
/* ------------------------------------------------------------------------ */

static void print_plan(struct run_ctx *c, const struct retention_repo_in *in,
		       const struct retention_plan *plan)
{
	const berth_host *h = c->st->host;
	char why[REASON_MAX], size[32];
	int name_w = 4;
	size_t i;

	for (i = 0; i < in->n_tags; i++)
		if (plan->tags[i].verdict == RETENTION_TAG_DELETE ||
		    plan->tags[i].verdict == RETENTION_TAG_REFERRER_DELETE) {
			int w = (int)strlen(in->tags[i].name);

			if (w > name_w)
				name_w = w;
		}
	h->job_print(c->run, "  %-8s  %-*s  %-71s  %10s  %s", "KIND", name_w, "NAME", "DIGEST",
		     "SIZE", "REASON");
	for (i = 0; i < in->n_tags; i++) {
		const struct retention_tag_out *t = &plan->tags[i];

		if (t->verdict != RETENTION_TAG_DELETE && t->verdict != RETENTION_TAG_REFERRER_DELETE)
			continue;
		h->job_print(c->run, "  %-8s  %-*s  %-71s  %10s  %s", "tag", name_w, in->tags[i].name,
			     in->tags[i].digest, "-",
			     retention_tag_reason(&c->st->rules, t, why, sizeof(why)));
	}
	for (i = 0; i < plan->n_order; i++) {
		size_t m = plan->order[i];
		const struct retention_manifest_out *out = &plan->manifests[m];

		h->job_print(c->run, "  %-8s  %-*s  %-71s  %10s  %s", "manifest", name_w, "-",
			     in->manifests[m].digest,
			     retention_format_bytes(in->manifests[m].size, size, sizeof(size)),
			     retention_manifest_reason_text(out->reason));
	}
}

static void print_counts(struct run_ctx *c, const char *what, size_t tags, size_t manifests,
			 uint64_t bytes)
{
	char size[32];

	c->st->host->job_print(c->run, "%s %zu tag%s and %zu manifest%s, %s (%" PRIu64 " bytes)",
			       what, tags, tags == 1 ? "" : "s", manifests,
			       manifests == 1 ? "" : "s",
			       retention_format_bytes(bytes, size, sizeof(size)), bytes);
}

/* ------------------------------------------------------------------------ */
/* Deleting                                                                 */
/* ------------------------------------------------------------------------ */

/* A delete the host refused: stop the run when deletes are off, else go on. */
static int delete_failed(struct run_ctx *c, const char *repository, int rc, berth_error *err)
{
	note_error(c, repository, err);
	return rc == BERTH_E_UNSUPPORTED ? rc : 0;
}

/*
 * The tag, unless a push moved it since the plan was made: the host
 * compares and deletes under the repository's lock, as pushes take it.
 */
static int delete_tag(struct run_ctx *c, const char *repository,
		      const struct retention_tag_in *t, berth_error *err)
{
	const berth_host *h = c->st->host;

	if (c->conditional)
		return h->delete_tag_if(c->st->self, repository, t->name, t->digest, err);
	return h->delete_tag(c->st->self, repository, t->name, err);
}

static int delete_tags(struct run_ctx *c, const struct retention_repo_in *in,
		       const struct retention_plan *plan, size_t *done, size_t *skipped)
{
	const berth_host *h = c->st->host;

	for (size_t i = 0; i < in->n_tags; i++) {
		const struct retention_tag_in *t = &in->tags[i];
		berth_error err = {0};
		int rc;

		if (plan->tags[i].verdict != RETENTION_TAG_DELETE &&
		    plan->tags[i].verdict != RETENTION_TAG_REFERRER_DELETE)
			continue;
		rc = delete_tag(c, in->repository, t, &err);
		if (rc == BERTH_E_NOT_FOUND)
			continue;
		if (rc == BERTH_E_EXISTS) {
			h->job_print(c->run, "%s: skipped tag %s: it changed since the plan (%s)",
				     in->repository, t->name, err.message);
			(*skipped)++;
			continue;
		}
		if (rc < 0) {
			rc = delete_failed(c, in->repository, rc, &err);
			if (rc < 0)
				return rc;
			continue;
		}
		(*done)++;
	}
	return 0;
}

/*
 * 1 when manifest m of the plan is held by one the run spared: a child of
 * a spared index, or a referrer of a spared manifest. The plan's order
 * puts an index before its children, so these are still there to spare;
 * a referrer goes before its subject (no referrer is ever left dangling),
 * so it is only caught here when the order did not already delete it.
 */
static int held_by_spared(const struct retention_repo_in *in, const struct retention_plan *plan,
			  const unsigned char *spared, size_t m)
{
	const struct retention_manifest_in *x = &in->manifests[m];

	for (size_t k = 0; k < plan->n_order; k++) {
		const struct retention_manifest_in *holder = &in->manifests[plan->order[k]];

		if (!spared[plan->order[k]])
			continue;
		if (x->subject && strcmp(x->subject, holder->digest) == 0)
			return 1;
		for (size_t ch = 0; ch < holder->n_children; ch++)
			if (strcmp(holder->children[ch], x->digest) == 0)
				return 1;
	}
	return 0;
}

/*
 * The plan's manifests, in its order. A manifest a push tagged since the
 * plan was made is refused by the host (BERTH_E_EXISTS) and spared, with
 * what it holds that is still there (an index's children).
 */
static int delete_manifests(struct run_ctx *c, const struct retention_repo_in *in,
			    const struct retention_plan *plan, unsigned char *deleted, size_t *done,
			    size_t *skipped)
{
	const berth_host *h = c->st->host;
	unsigned char *spared = calloc(in->n_manifests ? in->n_manifests : 1, 1);
	int rc = 0;

	if (!spared) {
		berth_error err = {0};

		retention_fail(&err, BERTH_E_NOMEM, "out of memory");
		note_error(c, in->repository, &err);
		return BERTH_E_NOMEM;
	}
	for (size_t k = 0; k < plan->n_order; k++) {
		size_t m = plan->order[k];
		const char *digest = in->manifests[m].digest;
		berth_error err = {0};

		if (held_by_spared(in, plan, spared, m)) {
			h->job_print(c->run, "%s: skipped manifest %s: what holds it was tagged since "
				     "the plan", in->repository, digest);
			spared[m] = 1;
			(*skipped)++;
			continue;
		}
		if (c->conditional)
			rc = h->delete_manifest_if_untagged(c->st->self, in->repository, digest, &err);
		else
			rc = h->delete_manifest(c->st->self, in->repository, digest, &err);
		if (rc == BERTH_E_NOT_FOUND) {
			rc = 0;
			continue;
		}
		if (rc == BERTH_E_EXISTS) {
			h->job_print(c->run, "%s: skipped manifest %s: it was tagged since the plan",
				     in->repository, digest);
			spared[m] = 1;
			(*skipped)++;
			rc = 0;
			continue;
		}
		if (rc < 0) {
			rc = delete_failed(c, in->repository, rc, &err);
			if (rc < 0)
				goto out;
			continue;
		}
		deleted[m] = 1;
		(*done)++;
	}
out:
	free(spared);
	return rc;
}

/* ------------------------------------------------------------------------ */

/* What one repository's deletes did. */
struct repo_done {
	size_t tags, manifests;
	size_t skipped_tags, skipped_manifests;   /* changed since the plan */
	uint64_t bytes;
};

static void count_metrics(struct run_ctx *c, const struct repo_done *d)
{
	const berth_host *h = c->st->host;
	const char *tag_label[] = { "tag" }, *manifest_label[] = { "manifest" };

	h->metric_add(c->st->metrics[RETENTION_METRIC_DELETED], tag_label, (double)d->tags);
	h->metric_add(c->st->metrics[RETENTION_METRIC_DELETED], manifest_label,
		      (double)d->manifests);
	h->metric_add(c->st->metrics[RETENTION_METRIC_BYTES], NULL, (double)d->bytes);
	h->metric_add(c->st->metrics[RETENTION_METRIC_SKIPPED], tag_label, (double)d->skipped_tags);
	h->metric_add(c->st->metrics[RETENTION_METRIC_SKIPPED], manifest_label,
		      (double)d->skipped_manifests);
}

/* One repository: read, plan, print, delete. A negative return stops the run. */
static int run_repository(struct run_ctx *c, const char *repository)
{
	struct retention_state *st = c->st;
	struct retention_repo_in in;
	struct retention_plan plan;
	berth_error err = {0};
	unsigned char *deleted = NULL;
	struct repo_done d = {0};
	int rc;

	rc = retention_collect(st->host, repository, &in, &err);
	if (rc == BERTH_E_NOT_FOUND)
		return 0;
	if (rc < 0) {
		note_error(c, repository, &err);
		return rc == BERTH_E_NOMEM ? rc : 0;
	}
	rc = retention_plan_make(&st->rules, &in, &plan);
	if (rc < 0) {
		retention_fail(&err, rc, "out of memory");
		note_error(c, repository, &err);
		retention_repo_in_free(&in);
		return rc;
	}
	c->t.selected++;
	if (plan.n_tags_deleted == 0 && plan.n_order == 0)
		goto out;
	c->t.changed++;
	st->host->job_print(c->run, "%s: %zu tag%s, %zu manifest%s", repository, in.n_tags,
			    in.n_tags == 1 ? "" : "s", in.n_manifests,
			    in.n_manifests == 1 ? "" : "s");
	print_plan(c, &in, &plan);
	if (c->dry) {
		print_counts(c, "  would delete", plan.n_tags_deleted, plan.n_order, plan.bytes);
		c->t.tags += plan.n_tags_deleted;
		c->t.manifests += plan.n_order;
		c->t.bytes += plan.bytes;
		goto out;
	}
	deleted = calloc(in.n_manifests ? in.n_manifests : 1, 1);
	if (!deleted) {
		rc = retention_fail(&err, BERTH_E_NOMEM, "out of memory");
		note_error(c, repository, &err);
		goto out;
	}
	rc = delete_tags(c, &in, &plan, &d.tags, &d.skipped_tags);
	if (rc == 0)
		rc = delete_manifests(c, &in, &plan, deleted, &d.manifests, &d.skipped_manifests);
	d.bytes = retention_bytes_freed(&in, deleted);
	print_counts(c, "  deleted", d.tags, d.manifests, d.bytes);
	if (d.skipped_tags + d.skipped_manifests > 0)
		st->host->job_print(c->run, "  skipped %zu tag%s and %zu manifest%s: changed since "
				    "the plan", d.skipped_tags, d.skipped_tags == 1 ? "" : "s",
				    d.skipped_manifests, d.skipped_manifests == 1 ? "" : "s");
	count_metrics(c, &d);
	c->t.tags += d.tags;
	c->t.manifests += d.manifests;
	c->t.skipped += d.skipped_tags + d.skipped_manifests;
	c->t.bytes += d.bytes;
out:
	free(deleted);
	retention_plan_free(&plan);
	retention_repo_in_free(&in);
	return rc;
}

static void finish(struct run_ctx *c, int rc)
{
	struct retention_state *st = c->st;
	const berth_host *h = st->host;
	const char *result[1];
	char detail[256], size[32], skipped[64] = "";

	if (c->t.skipped)
		snprintf(skipped, sizeof(skipped), ", %zu skipped (changed since the plan)",
			 c->t.skipped);
	h->job_print(c->run, "%s %zu tag%s and %zu manifest%s, %s (%" PRIu64 " bytes), in %zu of %zu "
		     "selected repositor%s%s%s",
		     c->dry ? "total: would delete" : "total: deleted", c->t.tags,
		     c->t.tags == 1 ? "" : "s", c->t.manifests, c->t.manifests == 1 ? "" : "s",
		     retention_format_bytes(c->t.bytes, size, sizeof(size)), c->t.bytes, c->t.changed,
		     c->t.selected, c->t.selected == 1 ? "y" : "ies", skipped,
		     c->t.errors ? " (with errors)" : "");
	result[0] = rc < 0 || c->t.errors ? "failed" : c->dry ? "dry_run" : "ok";
	h->metric_add(st->metrics[RETENTION_METRIC_RUNS], result, 1);
	if (c->dry)
		return;
	snprintf(detail, sizeof(detail),
		 "{\"repositories\":%zu,\"tags\":%zu,\"manifests\":%zu,\"bytes\":%" PRIu64
		 ",\"skipped\":%zu,\"errors\":%zu}",
		 c->t.changed, c->t.tags, c->t.manifests, c->t.bytes, c->t.skipped, c->t.errors);
	if (h->emit_event(st->self, "retention.run", NULL, NULL, NULL, detail) < 0)
		h->log(st->self, BERTH_LOG_WARN, "the retention.run event was not queued");
}

int retention_job_run(void *state, berth_job_run *run, berth_error *err)
{
	struct retention_state *st = state;
	const berth_host *h = st->host;
	struct run_ctx c = {.st = st, .run = run};
	struct retention_names repos = {0};
	int rc;

	c.dry = h->job_dry_run(run) || !st->enforce;
	c.conditional = BERTH_HOST_HAS(h, delete_manifest_if_untagged) && h->delete_tag_if &&
			h->delete_manifest_if_untagged;
	if (c.dry)
		h->job_print(run, "dry run%s: nothing is deleted",
			     st->enforce ? "" : " (enforce: false)");
	if (st->rules.n_policies == 0)
		h->job_print(run, "no policies: nothing to do");
	rc = st->rules.n_policies ? h->list_repositories(retention_names_add, &repos, err) : 0;
	if (rc == 0 && repos.failed)
		rc = retention_fail(err, BERTH_E_NOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < repos.n; i++) {
		if (!retention_repository_selected(&st->rules, repos.v[i]))
			continue;
		rc = run_repository(&c, repos.v[i]);
	}
	retention_names_free(&repos);
	finish(&c, rc);
	if (rc < 0 && !c.first.code)
		return rc;              /* the listing failed: err says why */
	if (rc < 0 || c.t.errors) {
		*err = c.first;
		rc = c.first.code < 0 ? c.first.code : BERTH_E_INTERNAL;
	}
	return rc;
}

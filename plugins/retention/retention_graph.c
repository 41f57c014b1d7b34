/*
 * retention_graph.c - steps 2 and 3 of a plan (see retention_plan.c):
 * manifests sorted into classes, what dies, what is saved through index
 * children and referrers, and the order of the deletes.
 */
#include <stdlib.h>
#include <string.h>

#include "retention_engine.h"

/* ------------------------------------------------------------------------ */
/* Step 2: manifest classes                                                 */
/* ------------------------------------------------------------------------ */

/* The untagged rule of the policies selecting the repository: the longest keep wins. */
static void untagged_rule(const struct engine *e, int *any, int64_t *keep_ms)
{
	*any = 0;
	*keep_ms = -1;
	for (size_t i = 0; i < e->rules->n_policies; i++) {
		const struct retention_policy *p = &e->rules->policies[i];

		if (p->untagged == RETENTION_UNTAGGED_NONE ||
		    !retention_policy_selects(p, e->in->repository))
			continue;
		*any = 1;
		if (p->untagged == RETENTION_UNTAGGED_KEEP && p->untagged_keep_ms > *keep_ms)
			*keep_ms = p->untagged_keep_ms;
	}
}

static void classify(struct engine *e)
{
	const struct retention_repo_in *in = e->in;
	unsigned char *had_tag = e->had_tag, *has_reftag = e->has_reftag;
	int64_t keep_ms, now = in->now_ms;
	int any;
	size_t i;

	for (i = 0; i < in->n_tags; i++) {
		long m = e->tag_manifest[i];
		int v = e->plan->tags[i].verdict;

		if (m < 0)
			continue;
		if (e->tag_subject[i] >= 0)
			has_reftag[m] = 1;
		else if (v == RETENTION_TAG_DELETE)
			had_tag[m] = 1;
		else
			e->class[m] = CLASS_STRONG;
	}
	untagged_rule(e, &any, &keep_ms);
	for (i = 0; i < in->n_manifests; i++) {
		struct retention_manifest_out *out = &e->plan->manifests[i];
		int64_t pushed = retention_effective_time(in->manifests[i].pushed_ms, now);
		int young = keep_ms >= 0 && pushed >= now - keep_ms;

		if (e->class[i] == CLASS_STRONG || has_reftag[i])
			continue;
		if (had_tag[i]) {
			e->class[i] = young ? CLASS_WEAK : CLASS_CANDIDATE;
			out->reason = RETENTION_M_LAST_TAG_DELETED;
		} else if (any) {
			e->class[i] = young ? CLASS_WEAK : CLASS_CANDIDATE;
			out->reason = keep_ms >= 0 ? RETENTION_M_UNTAGGED_EXPIRED
						   : RETENTION_M_UNTAGGED_DELETE;
		}
	}
	for (i = 0; i < in->n_manifests; i++)
		if (e->class[i] != CLASS_CANDIDATE)
			e->plan->manifests[i].reason = RETENTION_M_KEPT;
}

/* ------------------------------------------------------------------------ */
/* Step 3: what dies, what is saved                                         */
/* ------------------------------------------------------------------------ */

static void graph_free(struct graph *g)
{
	free(g->start);
	free(g->v);
	g->start = NULL;
	g->v = NULL;
}

/* Edge callbacks: each calls add(from, to) for every edge of its kind. */
typedef void (*edge_fn)(struct engine *e, struct graph *g, size_t *fill, int count_only);

static void put_edge(struct graph *g, size_t *fill, int count_only, size_t from, size_t to)
{
	if (count_only)
		g->start[from + 1]++;
	else
		g->v[fill[from]++] = to;
}

static void down_edges(struct engine *e, struct graph *g, size_t *fill, int count_only)
{
	for (size_t i = 0; i < e->in->n_manifests; i++) {
		const struct retention_manifest_in *m = &e->in->manifests[i];

		for (size_t k = 0; k < m->n_children; k++) {
			long c = retention_manifest_find(e->in, e->sorted, m->children[k]);

			if (c >= 0 && (size_t)c != i)
				put_edge(g, fill, count_only, i, (size_t)c);
		}
	}
}

/* subject -> referrer; reversed (referrer -> subject) when building `up`. */
static void referrer_edges_dir(struct engine *e, struct graph *g, size_t *fill, int count_only,
			       int reversed)
{
	size_t i;

	for (i = 0; i < e->in->n_manifests; i++) {
		long s = retention_manifest_find(e->in, e->sorted, e->in->manifests[i].subject);

		if (s >= 0 && (size_t)s != i)
			put_edge(g, fill, count_only, reversed ? i : (size_t)s,
				 reversed ? (size_t)s : i);
	}
	for (i = 0; i < e->in->n_tags; i++)
		if (e->tag_subject[i] >= 0)
			put_edge(g, fill, count_only,
				 reversed ? (size_t)e->tag_manifest[i] : (size_t)e->tag_subject[i],
				 reversed ? (size_t)e->tag_subject[i] : (size_t)e->tag_manifest[i]);
}

static void referrer_edges(struct engine *e, struct graph *g, size_t *fill, int count_only)
{
	referrer_edges_dir(e, g, fill, count_only, 0);
}

static void up_edges(struct engine *e, struct graph *g, size_t *fill, int count_only)
{
	/* What a manifest names: its children (down, reversed below) and its subject. */
	for (size_t i = 0; i < e->in->n_manifests; i++)
		for (size_t k = e->down.start[i]; k < e->down.start[i + 1]; k++)
			put_edge(g, fill, count_only, i, e->down.v[k]);
	referrer_edges_dir(e, g, fill, count_only, 1);
}

static int graph_build(struct engine *e, struct graph *g, edge_fn edges)
{
	size_t n = e->in->n_manifests, i, *fill;

	g->start = calloc(n + 1, sizeof(*g->start));
	if (!g->start)
		return BERTH_E_NOMEM;
	edges(e, g, NULL, 1);
	for (i = 0; i < n; i++)
		g->start[i + 1] += g->start[i];
	g->v = malloc((g->start[n] ? g->start[n] : 1) * sizeof(*g->v));
	fill = malloc((n ? n : 1) * sizeof(*fill));
	if (!g->v || !fill) {
		free(fill);
		return BERTH_E_NOMEM;
	}
	memcpy(fill, g->start, n * sizeof(*fill));
	edges(e, g, fill, 0);
	free(fill);
	return 0;
}

static void condemn(struct engine *e)
{
	const struct retention_repo_in *in = e->in;
	size_t head = 0, tail = 0, i, k;

	for (i = 0; i < in->n_manifests; i++)
		if (e->class[i] == CLASS_CANDIDATE) {
			e->dead[i] = 1;
			e->queue[tail++] = i;
		}
	while (head < tail) {
		size_t d = e->queue[head++];

		for (k = e->down.start[d]; k < e->down.start[d + 1]; k++) {
			size_t c = e->down.v[k];

			if (e->dead[c] || e->class[c] != CLASS_NEUTRAL)
				continue;
			e->dead[c] = 1;
			e->plan->manifests[c].reason = RETENTION_M_CHILD_OF_DELETED;
			e->plan->manifests[c].related = d;
			e->queue[tail++] = c;
		}
		if (!e->rules->delete_referrers)
			continue;
		for (k = e->referrers.start[d]; k < e->referrers.start[d + 1]; k++) {
			size_t r = e->referrers.v[k];

			if (e->dead[r] || (e->class[r] != CLASS_NEUTRAL && e->class[r] != CLASS_WEAK))
				continue;
			e->dead[r] = 1;
			e->plan->manifests[r].reason = RETENTION_M_REFERRER_OF_DELETED;
			e->plan->manifests[r].related = d;
			e->queue[tail++] = r;
		}
	}
}

static void save_reachable(struct engine *e)
{
	const struct retention_repo_in *in = e->in;
	size_t head = 0, tail = 0, i, k;

	for (i = 0; i < in->n_manifests; i++)
		if (!e->dead[i]) {
			e->alive[i] = 1;
			e->queue[tail++] = i;
		}
	while (head < tail) {
		size_t a = e->queue[head++];
		const struct graph *gs[2] = { &e->down, &e->referrers };

		for (size_t g = 0; g < 2; g++)
			for (k = gs[g]->start[a]; k < gs[g]->start[a + 1]; k++) {
				size_t x = gs[g]->v[k];

				if (!e->alive[x]) {
					e->alive[x] = 1;
					e->queue[tail++] = x;
				}
			}
	}
	for (i = 0; i < in->n_manifests; i++) {
		struct retention_manifest_out *out = &e->plan->manifests[i];

		out->deleted = e->dead[i] && !e->alive[i];
		if (!out->deleted) {
			out->reason = RETENTION_M_KEPT;
			out->related = 0;
		}
	}
}

/*
 * The deletion order: a manifest before what it names or refers to, so an
 * interrupted run never leaves an index without its children or a kept
 * referrer without its subject. Ties in digest order.
 */
static int order_deletions(struct engine *e)
{
	const struct retention_repo_in *in = e->in;
	struct retention_plan *plan = e->plan;
	size_t *indeg = calloc(in->n_manifests ? in->n_manifests : 1, sizeof(*indeg));
	size_t i, k, n_dead = 0, head = 0, tail = 0;
	int rc = graph_build(e, &e->up, up_edges);

	if (!indeg || rc < 0) {
		free(indeg);
		return BERTH_E_NOMEM;
	}
	for (i = 0; i < in->n_manifests; i++) {
		if (!plan->manifests[i].deleted)
			continue;
		n_dead++;
		for (k = e->up.start[i]; k < e->up.start[i + 1]; k++)
			if (plan->manifests[e->up.v[k]].deleted)
				indeg[e->up.v[k]]++;
	}
	plan->order = malloc((n_dead ? n_dead : 1) * sizeof(*plan->order));
	if (!plan->order) {
		free(indeg);
		return BERTH_E_NOMEM;
	}
	for (i = 0; i < in->n_manifests; i++) {
		size_t m = e->sorted[i];

		if (plan->manifests[m].deleted && indeg[m] == 0)
			e->queue[tail++] = m;
	}
	while (head < tail) {
		size_t m = e->queue[head++];

		plan->order[plan->n_order++] = m;
		for (k = e->up.start[m]; k < e->up.start[m + 1]; k++) {
			size_t x = e->up.v[k];

			if (plan->manifests[x].deleted && --indeg[x] == 0)
				e->queue[tail++] = x;
		}
	}
	/* Content addressing rules out cycles; should one appear, nothing is lost. */
	for (i = 0; i < in->n_manifests && plan->n_order < n_dead; i++) {
		size_t m = e->sorted[i];

		if (plan->manifests[m].deleted && indeg[m] > 0) {
			indeg[m] = 0;
			plan->order[plan->n_order++] = m;
		}
	}
	free(indeg);
	return 0;
}

static void finish_tags(struct engine *e)
{
	const struct retention_repo_in *in = e->in;
	struct retention_plan *plan = e->plan;

	for (size_t i = 0; i < in->n_tags; i++) {
		struct retention_tag_out *out = &plan->tags[i];

		if (e->tag_subject[i] >= 0)
			out->verdict = plan->manifests[e->tag_manifest[i]].deleted
					       ? RETENTION_TAG_REFERRER_DELETE
					       : RETENTION_TAG_REFERRER_KEPT;
		if (out->verdict == RETENTION_TAG_DELETE ||
		    out->verdict == RETENTION_TAG_REFERRER_DELETE)
			plan->n_tags_deleted++;
	}
}


void retention_graph_free(struct engine *e)
{
	graph_free(&e->down);
	graph_free(&e->referrers);
	graph_free(&e->up);
}

int retention_graph_plan(struct engine *e)
{
	classify(e);
	if (graph_build(e, &e->down, down_edges) < 0 ||
	    graph_build(e, &e->referrers, referrer_edges) < 0)
		return BERTH_E_NOMEM;
	condemn(e);
	save_reachable(e);
	finish_tags(e);
	return order_deletions(e);
}

/*
 * sig_graph.c - for each repository, which manifests refer to which:
 * referrers (a `subject`) and index children.
 *
 * The host has no referrers lookup for plugins, so the map is built by
 * reading every manifest of the repository once (list_manifests, then
 * read_manifest), kept for referrers_ttl, and dropped at once when this
 * node stores a manifest with a subject, an index or a `.sig` tag in the
 * repository (on_push). Pushes on other nodes sharing the storage are seen
 * after the TTL. Lookups are binary searches in two sorted arrays.
 */
#include <stdlib.h>
#include <string.h>

#include "sig.h"

typedef struct edge {
	char *to;      /* the subject, or the child */
	char *from;    /* the referrer, or the index */
} edge;

struct sig_graph {
	char *repository;
	int64_t built_ms;
	int refs;                  /* guarded by the graphs' lock */
	edge *referrers;           /* sorted by `to` */
	size_t n_referrers;
	edge *children;            /* sorted by `to` (the child) */
	size_t n_children;
	const char **scratch_r;    /* lookups' results, built once */
	const char **scratch_p;
};

struct sig_graphs {
	pthread_mutex_t lock;
	sig_graph **v;
	size_t n, max;
	int64_t ttl_ms;
	size_t max_manifests;
	uint64_t epoch;            /* bumped by every invalidation */
};

static void graph_free(sig_graph *gr)
{
	if (!gr)
		return;
	for (size_t i = 0; i < gr->n_referrers; i++) {
		free(gr->referrers[i].to);
		free(gr->referrers[i].from);
	}
	for (size_t i = 0; i < gr->n_children; i++) {
		free(gr->children[i].to);
		free(gr->children[i].from);
	}
	free(gr->referrers);
	free(gr->children);
	free(gr->scratch_r);
	free(gr->scratch_p);
	free(gr->repository);
	free(gr);
}

sig_graphs *sig_graphs_new(size_t max_repositories, int64_t ttl_ms, size_t max_manifests)
{
	sig_graphs *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->v = calloc(max_repositories, sizeof(*g->v));
	if (!g->v || pthread_mutex_init(&g->lock, NULL) != 0) {
		free(g->v);
		free(g);
		return NULL;
	}
	g->max = max_repositories;
	g->ttl_ms = ttl_ms;
	g->max_manifests = max_manifests;
	return g;
}

void sig_graphs_free(sig_graphs *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		graph_free(g->v[i]);
	pthread_mutex_destroy(&g->lock);
	free(g->v);
	free(g);
}

/* Drop slot i's reference (under the lock). */
static void drop_slot(sig_graphs *g, size_t i)
{
	sig_graph *gr = g->v[i];

	g->v[i] = g->v[--g->n];
	if (--gr->refs == 0)
		graph_free(gr);
}

void sig_graphs_invalidate(sig_graphs *g, const char *repository)
{
	pthread_mutex_lock(&g->lock);
	g->epoch++;
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->v[i]->repository, repository) == 0) {
			drop_slot(g, i);
			break;
		}
	pthread_mutex_unlock(&g->lock);
}

typedef struct builder {
	sig_graph *gr;
	char **digests;
	size_t n, cap, max;
	int truncated, failed;     /* truncated: over max_manifests, the rest unseen */
	const char *current;
} builder;

static int collect(void *ctx, const char *digest)
{
	builder *b = ctx;

	if (b->n >= b->max) {
		b->truncated = 1;
		return 1;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		char **nd = realloc(b->digests, cap * sizeof(*nd));
		if (!nd) {
			b->failed = 1;
			return 1;
		}
		b->digests = nd;
		b->cap = cap;
	}
	if (!(b->digests[b->n] = strdup(digest))) {
		b->failed = 1;
		return 1;
	}
	b->n++;
	return 0;
}

static int add_edge(edge **v, size_t *n, const char *to, const char *from)
{
	edge *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -1;
	*v = nv;
	nv[*n].to = strdup(to);
	nv[*n].from = strdup(from);
	if (!nv[*n].to || !nv[*n].from) {
		free(nv[*n].to);
		free(nv[*n].from);
		return -1;
	}
	(*n)++;
	return 0;
}

static int note_manifest(void *ctx, const berth_manifest *m)
{
	builder *b = ctx;
	sig_manifest sm;

	if (m->subject && sig_digest_valid(m->subject) &&
	    add_edge(&b->gr->referrers, &b->gr->n_referrers, m->subject, b->current) < 0)
		b->failed = 1;
	if (sig_manifest_parse(m->body, m->body_len, m->media_type, &sm) != 0)
		return 0;
	for (size_t i = 0; sm.is_index && !b->failed && i < sm.n_items; i++)
		if (sig_digest_valid(sm.items[i].digest) && !sm.items[i].attestation &&
		    add_edge(&b->gr->children, &b->gr->n_children, sm.items[i].digest,
			     b->current) < 0)
			b->failed = 1;
	sig_manifest_clear(&sm);
	return 0;
}

static int edge_order(const void *a, const void *b)
{
	const edge *x = a, *y = b;
	int c = strcmp(x->to, y->to);

	return c ? c : strcmp(x->from, y->from);
}

static int build(sig_graphs *g, const berth_host *host, const char *repository,
		 sig_graph **out, berth_error *err)
{
	builder b = { .max = g->max_manifests };
	int rc;

	b.gr = calloc(1, sizeof(*b.gr));
	if (!b.gr || !(b.gr->repository = strdup(repository))) {
		rc = sig_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = host->list_manifests(repository, collect, &b, err);
	if (rc == BERTH_E_NOT_FOUND)
		rc = 0;
	if (rc)
		goto out;
	for (size_t i = 0; !b.failed && i < b.n; i++) {
		b.current = b.digests[i];
		rc = host->read_manifest(repository, b.digests[i], note_manifest, &b, err);
		/* Deleted since it was listed. */
		if (rc == BERTH_E_NOT_FOUND)
			rc = 0;
		if (rc)
			goto out;
	}
	if (b.failed) {
		rc = sig_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	if (b.gr->n_referrers)
		qsort(b.gr->referrers, b.gr->n_referrers, sizeof(edge), edge_order);
	if (b.gr->n_children)
		qsort(b.gr->children, b.gr->n_children, sizeof(edge), edge_order);
	b.gr->scratch_r = calloc(b.gr->n_referrers + 1, sizeof(char *));
	b.gr->scratch_p = calloc(b.gr->n_children + 1, sizeof(char *));
	if (!b.gr->scratch_r || !b.gr->scratch_p) {
		rc = sig_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < b.gr->n_referrers; i++)
		b.gr->scratch_r[i] = b.gr->referrers[i].from;
	for (size_t i = 0; i < b.gr->n_children; i++)
		b.gr->scratch_p[i] = b.gr->children[i].from;
	b.gr->built_ms = host->monotonic_ms();
	*out = b.gr;
	b.gr = NULL;
out:
	for (size_t i = 0; i < b.n; i++)
		free(b.digests[i]);
	free(b.digests);
	graph_free(b.gr);
	return rc;
}

int sig_graphs_get(sig_graphs *g, const berth_host *host, const char *repository,
		   sig_graph **out, berth_error *err)
{
	int64_t now = host->monotonic_ms();
	sig_graph *gr = NULL;
	uint64_t epoch;
	int rc;

	pthread_mutex_lock(&g->lock);
	for (size_t i = 0; i < g->n; i++) {
		if (strcmp(g->v[i]->repository, repository) != 0)
			continue;
		if (now - g->v[i]->built_ms <= g->ttl_ms) {
			gr = g->v[i];
			gr->refs++;
		} else {
			drop_slot(g, i);
		}
		break;
	}
	epoch = g->epoch;
	pthread_mutex_unlock(&g->lock);
	if (gr) {
		*out = gr;
		return 0;
	}
	rc = build(g, host, repository, &gr, err);
	if (rc)
		return rc;
	gr->refs = 1;
	pthread_mutex_lock(&g->lock);
	/* Not kept when the repository changed while it was read. */
	if (g->epoch == epoch) {
		for (size_t i = 0; i < g->n; i++)
			if (strcmp(g->v[i]->repository, repository) == 0) {
				drop_slot(g, i);
				break;
			}
		if (g->n == g->max)
			drop_slot(g, 0);
		g->v[g->n++] = gr;
		gr->refs++;
	}
	pthread_mutex_unlock(&g->lock);
	*out = gr;
	return 0;
}

void sig_graphs_release(sig_graphs *g, sig_graph *gr)
{
	int last;

	if (!gr)
		return;
	pthread_mutex_lock(&g->lock);
	last = --gr->refs == 0;
	pthread_mutex_unlock(&g->lock);
	if (last)
		graph_free(gr);
}

/* The run of edges whose `to` is digest. */
static size_t range(const edge *v, size_t n, const char *digest, size_t *first)
{
	size_t lo = 0, hi = n, end;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(v[mid].to, digest) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < n && strcmp(v[end].to, digest) == 0; end++)
		;
	*first = lo;
	return end - lo;
}

size_t sig_graph_referrers(const sig_graph *gr, const char *digest, const char ***out)
{
	size_t first, n = range(gr->referrers, gr->n_referrers, digest, &first);

	*out = gr->scratch_r + first;
	return n;
}

size_t sig_graph_parents(const sig_graph *gr, const char *digest, const char ***out)
{
	size_t first, n = range(gr->children, gr->n_children, digest, &first);

	*out = gr->scratch_p + first;
	return n;
}

uint64_t sig_graph_stamp(const sig_graph *gr, const char *digest)
{
	const char **list;
	uint64_t h = 1469598103934665603ULL;
	size_t n;

	n = sig_graph_referrers(gr, digest, &list);
	for (size_t i = 0; i < n; i++)
		for (const char *s = list[i]; *s; s++)
			h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	h = (h ^ '|') * 1099511628211ULL;
	n = sig_graph_parents(gr, digest, &list);
	for (size_t i = 0; i < n; i++)
		for (const char *s = list[i]; *s; s++)
			h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h | 1;
}

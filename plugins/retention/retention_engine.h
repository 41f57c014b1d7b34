/*
 * retention_engine.h - the state of one plan while it is made, shared by
 * retention_plan.c (tags, and the whole run) and retention_graph.c
 * (manifests). Private to those two files.
 */
#ifndef RETENTION_ENGINE_H
#define RETENTION_ENGINE_H

#include "retention.h"

enum manifest_class {
	CLASS_NEUTRAL = 0,
	CLASS_STRONG,
	CLASS_WEAK,
	CLASS_CANDIDATE
};

/* Adjacency lists, compressed: the edges of node i are v[start[i] .. start[i + 1]). */
struct graph {
	size_t *start;
	size_t *v;
};

struct engine {
	const struct retention_rules *rules;
	const struct retention_repo_in *in;
	struct retention_plan *plan;
	size_t *sorted;                 /* manifest indices by digest */
	long *tag_manifest;             /* the manifest a tag names, or -1 */
	long *tag_subject;              /* a referrer tag's subject manifest, or -1 */
	unsigned char *judged, *kept, *policy_keeps;
	int *deleting_policy;
	size_t *scratch;                /* tag indices, reused per policy */
	unsigned char *class, *dead, *alive;
	unsigned char *had_tag;         /* named by a tag the plan deletes */
	unsigned char *has_reftag;      /* named by a referrer tag */
	struct graph down;              /* index -> the manifests it names */
	struct graph referrers;         /* manifest -> the manifests referring to it */
	struct graph up;                /* manifest -> what it names or refers to */
	size_t *queue;
};

/* A time the registry does not know counts as now: nothing goes for lack of one. */
static inline int64_t retention_effective_time(int64_t t, int64_t now)
{
	return t > 0 ? t : now;
}

/* retention_graph.c: steps 2 and 3, then the deletion order. 0 or BERTH_E_NOMEM. */
int retention_graph_plan(struct engine *e);
void retention_graph_free(struct engine *e);

#endif

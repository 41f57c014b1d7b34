/*
 * retention_plan.c - what a run deletes in one repository: a pure function
 * of the rules and of the repository's content (tags with their times,
 * manifests with their references), so a table of cases can test it.
 *
 * 1. Tags. Every policy that selects the repository judges the tags it
 *    matches; a judged tag is kept when a rule of a policy judging it keeps
 *    it, deleted otherwise; a tag no policy judges is left alone. Immutable
 *    tags are always kept, and cosign-style referrer tags (sha256-<hex>,
 *    sha256-<hex>.sig ...) follow the manifest they name (step 3).
 *
 * 2. (retention_graph.c) Manifests are sorted into classes:
 *      strong     named by a tag that stays: never deleted;
 *      weak       untagged (or left without tags by step 1) and younger
 *                 than the untagged rule's keep_days;
 *      candidate  left without tags by step 1, or untagged and condemned by
 *                 the untagged rule;
 *      neutral    untagged with no untagged rule, or named only by referrer
 *                 tags: stays unless something it belongs to goes.
 *
 * 3. (retention_graph.c) Candidates die, and pull in the neutral
 *    manifests only they hold: the children of a dying index, and
 *    (delete_referrers) the referrers of a dying manifest, weak ones
 *    included. Then everything reachable from a
 *    manifest that stays, through index children and referrers, is saved:
 *    a kept index keeps its children, a kept manifest its referrers. What
 *    is still dying is the plan.
 *
 * Deleting a manifest by digest removes every tag naming it, so a manifest
 * named by a kept tag must never be in the plan: strong manifests are
 * never candidates, and are never pulled in.
 */
#include <stdlib.h>
#include <string.h>

#include "retention_engine.h"

/* ------------------------------------------------------------------------ */
/* Lookups                                                                  */
/* ------------------------------------------------------------------------ */

long retention_manifest_find(const struct retention_repo_in *in, const size_t *sorted,
			     const char *digest)
{
	size_t lo = 0, hi = in->n_manifests;

	if (!digest)
		return -1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(in->manifests[sorted[mid]].digest, digest);

		if (c == 0)
			return (long)sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Digests sorted without a global: qsort_r is not C11, so a small merge sort. */
static void sort_by_digest(const struct retention_repo_in *in, size_t *v, size_t *tmp, size_t n)
{
	size_t mid, i, j, k;

	if (n < 2)
		return;
	mid = n / 2;
	sort_by_digest(in, v, tmp, mid);
	sort_by_digest(in, v + mid, tmp, n - mid);
	for (i = 0, j = mid, k = 0; i < mid || j < n;) {
		if (j >= n || (i < mid && strcmp(in->manifests[v[i]].digest,
						 in->manifests[v[j]].digest) <= 0))
			tmp[k++] = v[i++];
		else
			tmp[k++] = v[j++];
	}
	memcpy(v, tmp, n * sizeof(*v));
}

/*
 * "sha256-<hex>" or "sha256-<hex>.<suffix>": the tags cosign (.sig, .att,
 * .sbom) and the OCI referrers tag schema use for what refers to
 * sha256:<hex>. The digest, rebuilt, goes into out.
 */
static int referrer_tag_subject(const char *tag, char *out, size_t cap)
{
	const char *dash = strchr(tag, '-'), *end;
	size_t alg_len, hex_len, want;

	if (!dash)
		return 0;
	alg_len = (size_t)(dash - tag);
	if (alg_len == 6 && strncmp(tag, "sha256", 6) == 0)
		want = 64;
	else if (alg_len == 6 && strncmp(tag, "sha512", 6) == 0)
		want = 128;
	else
		return 0;
	for (end = dash + 1; (*end >= '0' && *end <= '9') || (*end >= 'a' && *end <= 'f'); end++)
		;
	hex_len = (size_t)(end - dash - 1);
	if (hex_len != want || (*end && (*end != '.' || !end[1])) || alg_len + 1 + hex_len >= cap)
		return 0;
	memcpy(out, tag, alg_len);
	out[alg_len] = ':';
	memcpy(out + alg_len + 1, dash + 1, hex_len);
	out[alg_len + 1 + hex_len] = '\0';
	return 1;
}

/* ------------------------------------------------------------------------ */
/* Step 1: tags                                                             */
/* ------------------------------------------------------------------------ */

/* A tag with the time a rule ranks it by. */
struct ranked {
	size_t tag;
	int64_t time;
	const char *name;
};

/* Most recent first; ties by name, so a plan never depends on listing order. */
static int by_recent(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->time != y->time)
		return x->time > y->time ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * keep_last_pushed / keep_last_pulled: the `count` most recent of the
 * judged tags. Only tags that were ever pulled rank for pulls: a tag never
 * pulled is not "recently pulled".
 */
static int keep_most_recent(struct engine *e, const size_t *l, size_t n, int64_t count,
			    int by_pull)
{
	struct ranked *r = malloc((n ? n : 1) * sizeof(*r));
	size_t k = 0, i;

	if (!r)
		return BERTH_E_NOMEM;
	for (i = 0; i < n; i++) {
		const struct retention_tag_in *t = &e->in->tags[l[i]];

		if (by_pull && t->pulled_ms <= 0)
			continue;
		r[k].tag = l[i];
		r[k].name = t->name;
		r[k].time = by_pull ? t->pulled_ms : retention_effective_time(t->pushed_ms, e->in->now_ms);
		k++;
	}
	qsort(r, k, sizeof(*r), by_recent);
	for (i = 0; i < k && (int64_t)i < count; i++)
		e->policy_keeps[r[i].tag] = 1;
	free(r);
	return 0;
}

struct versioned {
	size_t tag;
	struct retention_semver v;
	const char *name;
};

static int by_version(const void *a, const void *b)
{
	const struct versioned *x = a, *y = b;
	int c = retention_semver_compare(&x->v, &y->v);

	return c ? -c : strcmp(x->name, y->name);
}

static int semver_domain(const struct retention_policy *p, const char *tag,
			 struct retention_semver *v)
{
	if (retention_semver_parse(tag, v) < 0)
		return 0;
	return p->prereleases || !v->pre;
}

/*
 * keep_minors / keep_majors: walk the versions from the highest; each new
 * minor (or major) opens a group, and within the first N groups the tags
 * equal to the group's highest version are kept.
 */
static void keep_semver_groups(struct engine *e, const struct versioned *vs, size_t n,
			       int64_t groups, int by_minor)
{
	const struct versioned *head = NULL;
	int64_t seen = 0;

	for (size_t i = 0; i < n && groups > 0; i++) {
		const struct versioned *x = &vs[i];

		if (!head || x->v.major != head->v.major ||
		    (by_minor && x->v.minor != head->v.minor)) {
			if (++seen > groups)
				break;
			head = x;
		}
		if (retention_semver_compare(&x->v, &head->v) == 0)
			e->policy_keeps[x->tag] = 1;
	}
}

static int apply_semver(struct engine *e, const struct retention_policy *p, const size_t *l,
			size_t n)
{
	struct versioned *vs = malloc((n ? n : 1) * sizeof(*vs));
	size_t k = 0;

	if (!vs)
		return BERTH_E_NOMEM;
	for (size_t i = 0; i < n; i++) {
		struct versioned x = {.tag = l[i], .name = e->in->tags[l[i]].name};

		if (semver_domain(p, x.name, &x.v))
			vs[k++] = x;
	}
	qsort(vs, k, sizeof(*vs), by_version);
	if (p->keep_minors > 0)
		keep_semver_groups(e, vs, k, p->keep_minors, 1);
	if (p->keep_majors > 0)
		keep_semver_groups(e, vs, k, p->keep_majors, 0);
	free(vs);
	return 0;
}

/* Does policy p judge tag t? (Its filters match, and one of its rules applies.) */
static int policy_judges(const struct engine *e, const struct retention_policy *p, size_t t)
{
	const char *name = e->in->tags[t].name;
	struct retention_semver v;

	if (p->tags.n && !retention_patterns_match(&p->tags, name))
		return 0;
	if (retention_patterns_match(&p->exclude_tags, name))
		return 0;
	if (p->keep_last_pushed >= 0 || p->keep_last_pulled >= 0 || p->keep_pushed_within_ms >= 0 ||
	    p->keep_pulled_within_ms >= 0)
		return 1;
	if (p->has_semver && semver_domain(p, name, &v))
		return 1;
	return retention_patterns_match(&p->always_keep, name) != NULL;
}

static int judge_policy(struct engine *e, size_t pi)
{
	const struct retention_policy *p = &e->rules->policies[pi];
	const struct retention_repo_in *in = e->in;
	int64_t now = in->now_ms;
	size_t *l = e->scratch, n = 0, i;
	int rc;

	for (i = 0; i < in->n_tags; i++) {
		e->policy_keeps[i] = 0;
		if (e->plan->tags[i].verdict == RETENTION_TAG_IMMUTABLE || e->tag_subject[i] >= 0)
			continue;
		if (policy_judges(e, p, i))
			l[n++] = i;
	}
	for (i = 0; i < n; i++) {
		const struct retention_tag_in *t = &in->tags[l[i]];

		if (retention_patterns_match(&p->always_keep, t->name))
			e->policy_keeps[l[i]] = 1;
		if (p->keep_pushed_within_ms >= 0 &&
		    retention_effective_time(t->pushed_ms, now) >= now - p->keep_pushed_within_ms)
			e->policy_keeps[l[i]] = 1;
		if (p->keep_pulled_within_ms >= 0 && t->pulled_ms > 0 &&
		    t->pulled_ms >= now - p->keep_pulled_within_ms)
			e->policy_keeps[l[i]] = 1;
	}
	if (p->has_semver) {
		rc = apply_semver(e, p, l, n);
		if (rc < 0)
			return rc;
	}
	if (p->keep_last_pushed > 0 && (rc = keep_most_recent(e, l, n, p->keep_last_pushed, 0)) < 0)
		return rc;
	if (p->keep_last_pulled > 0 && (rc = keep_most_recent(e, l, n, p->keep_last_pulled, 1)) < 0)
		return rc;
	for (i = 0; i < n; i++) {
		size_t t = l[i];

		e->judged[t] = 1;
		if (e->policy_keeps[t])
			e->kept[t] = 1;
		else if (e->deleting_policy[t] < 0)
			e->deleting_policy[t] = (int)pi;
	}
	return 0;
}

static int judge_tags(struct engine *e)
{
	const struct retention_repo_in *in = e->in;
	char subject[160];
	size_t i;
	int rc;

	for (i = 0; i < in->n_tags; i++) {
		struct retention_tag_out *out = &e->plan->tags[i];
		long s;

		out->policy = -1;
		e->deleting_policy[i] = -1;
		e->tag_manifest[i] = retention_manifest_find(in, e->sorted, in->tags[i].digest);
		e->tag_subject[i] = -1;
		out->immutable = retention_immutable_match(e->rules, in->repository, in->tags[i].name);
		if (out->immutable) {
			out->verdict = RETENTION_TAG_IMMUTABLE;
			continue;
		}
		if (e->tag_manifest[i] >= 0 &&
		    referrer_tag_subject(in->tags[i].name, subject, sizeof(subject)) &&
		    (s = retention_manifest_find(in, e->sorted, subject)) >= 0 &&
		    s != e->tag_manifest[i])
			e->tag_subject[i] = s;
	}
	for (i = 0; i < e->rules->n_policies; i++) {
		if (!retention_policy_selects(&e->rules->policies[i], in->repository))
			continue;
		rc = judge_policy(e, i);
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < in->n_tags; i++) {
		struct retention_tag_out *out = &e->plan->tags[i];

		if (out->verdict == RETENTION_TAG_IMMUTABLE || e->tag_subject[i] >= 0)
			continue;
		if (!e->judged[i])
			out->verdict = RETENTION_TAG_UNTOUCHED;
		else if (e->kept[i])
			out->verdict = RETENTION_TAG_KEPT;
		else {
			out->verdict = RETENTION_TAG_DELETE;
			out->policy = e->deleting_policy[i];
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------ */

static void engine_free(struct engine *e)
{
	free(e->sorted);
	free(e->tag_manifest);
	free(e->tag_subject);
	free(e->judged);
	free(e->kept);
	free(e->policy_keeps);
	free(e->deleting_policy);
	free(e->scratch);
	free(e->class);
	free(e->dead);
	free(e->alive);
	free(e->had_tag);
	free(e->has_reftag);
	free(e->queue);
	retention_graph_free(e);
}

void retention_plan_free(struct retention_plan *plan)
{
	free(plan->tags);
	free(plan->manifests);
	free(plan->order);
	memset(plan, 0, sizeof(*plan));
}

int retention_plan_make(const struct retention_rules *rules, const struct retention_repo_in *in,
			struct retention_plan *plan)
{
	struct engine e = {.rules = rules, .in = in, .plan = plan};
	size_t nt = in->n_tags ? in->n_tags : 1, nm = in->n_manifests ? in->n_manifests : 1;
	size_t i, *tmp;
	unsigned char *deleted;
	int rc = BERTH_E_NOMEM;

	memset(plan, 0, sizeof(*plan));
	plan->tags = calloc(nt, sizeof(*plan->tags));
	plan->manifests = calloc(nm, sizeof(*plan->manifests));
	e.sorted = malloc(nm * sizeof(*e.sorted));
	tmp = malloc(nm * sizeof(*tmp));
	e.tag_manifest = malloc(nt * sizeof(*e.tag_manifest));
	e.tag_subject = malloc(nt * sizeof(*e.tag_subject));
	e.judged = calloc(nt, 1);
	e.kept = calloc(nt, 1);
	e.policy_keeps = calloc(nt, 1);
	e.deleting_policy = malloc(nt * sizeof(*e.deleting_policy));
	e.scratch = malloc(nt * sizeof(*e.scratch));
	e.class = calloc(nm, 1);
	e.dead = calloc(nm, 1);
	e.alive = calloc(nm, 1);
	e.had_tag = calloc(nm, 1);
	e.has_reftag = calloc(nm, 1);
	e.queue = malloc(nm * sizeof(*e.queue));
	if (!plan->tags || !plan->manifests || !e.sorted || !tmp || !e.tag_manifest ||
	    !e.tag_subject || !e.judged || !e.kept || !e.policy_keeps || !e.deleting_policy ||
	    !e.scratch || !e.class || !e.dead || !e.alive || !e.had_tag || !e.has_reftag || !e.queue) {
		free(tmp);
		goto out;
	}
	for (i = 0; i < in->n_manifests; i++)
		e.sorted[i] = i;
	sort_by_digest(in, e.sorted, tmp, in->n_manifests);
	free(tmp);

	rc = judge_tags(&e);
	if (rc < 0)
		goto out;
	rc = retention_graph_plan(&e);
	if (rc < 0)
		goto out;
	deleted = e.dead;
	for (i = 0; i < in->n_manifests; i++)
		deleted[i] = (unsigned char)plan->manifests[i].deleted;
	plan->bytes = retention_bytes_freed(in, deleted);
out:
	engine_free(&e);
	if (rc < 0)
		retention_plan_free(plan);
	return rc;
}

/*
 * fuzz_retention_plan.c - random repositories through the plan engine,
 * checking what must hold whatever the policies say:
 *   - a manifest named by a tag that stays is never deleted;
 *   - a manifest that stays keeps its index children and its referrers;
 *   - every deleted manifest is in the deletion order exactly once.
 * (Random references may form cycles, which content addressing rules out
 * in a registry; the engine must still terminate and keep the rules above.)
 * Any violation aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retention.h"

#define MAX_MANIFESTS 16
#define MAX_TAGS 16
#define NOW 1700000000000LL

static const char *const tag_names[] = {
	"ci-1", "ci-2", "ci-3", "1.0.0", "1.1.0", "v1.1.1", "1.2.0-rc.1", "2.0.0", "latest",
	"release-1", "dev", "pr-7",
};

struct input {
	const uint8_t *p;
	size_t n;
};

static unsigned byte(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static char *digest_for(unsigned i)
{
	char *d = malloc(72);

	snprintf(d, 72, "sha256:%064x", i + 1);
	return d;
}

static void rules_from(struct input *in, struct retention_rules *r, struct retention_policy *p)
{
	unsigned f = byte(in), g = byte(in);
	berth_error err;

	memset(p, 0, sizeof(*p));
	p->name = strdup("fuzz");
	retention_patterns_add(&p->repositories, "**", &err);
	if (f & 1)
		retention_patterns_add(&p->tags, "ci-*", &err);
	if (f & 2)
		retention_patterns_add(&p->always_keep, "latest", &err);
	p->keep_last_pushed = f & 4 ? (int64_t)(g % 4) : -1;
	p->keep_last_pulled = f & 8 ? (int64_t)(g / 4 % 4) : -1;
	p->keep_pushed_within_ms = f & 16 ? (int64_t)(g % 5) * RETENTION_DAY_MS : -1;
	p->keep_pulled_within_ms = -1;
	p->has_semver = (f & 32) != 0;
	p->keep_minors = g / 16 % 3;
	p->keep_majors = -1;
	p->prereleases = (g & 128) != 0;
	p->untagged = (f >> 6) % 3;
	p->untagged_keep_ms = (int64_t)(g % 3) * RETENTION_DAY_MS;
	if (p->keep_last_pushed < 0 && p->keep_last_pulled < 0 && p->keep_pushed_within_ms < 0 &&
	    !p->has_semver && !p->always_keep.n && !p->untagged)
		p->keep_last_pushed = 1;
	r->policies = p;
	r->n_policies = 1;
	r->delete_referrers = (g & 64) != 0;
	retention_patterns_add(&r->immutable_repositories, "**", &err);
	retention_patterns_add(&r->immutable_tags, "release-*", &err);
}

static void repo_from(struct input *in, struct retention_repo_in *repo)
{
	unsigned nm = byte(in) % MAX_MANIFESTS + 1, nt = byte(in) % (MAX_TAGS + 1), i, k;
	unsigned used = 0;

	repo->repository = strdup("team/app");
	repo->now_ms = NOW;
	repo->manifests = calloc(nm, sizeof(*repo->manifests));
	repo->tags = calloc(nt ? nt : 1, sizeof(*repo->tags));
	for (i = 0; i < nm; i++) {
		struct retention_manifest_in *m = &repo->manifests[repo->n_manifests++];
		unsigned kids = byte(in) | byte(in) << 8, subject = byte(in), blobs = byte(in);

		m->digest = digest_for(i);
		m->size = 100 + i;
		m->pushed_ms = NOW - (int64_t)(byte(in) % 8) * RETENTION_DAY_MS;
		m->children = calloc(MAX_MANIFESTS, sizeof(char *));
		for (k = 0; k < nm; k++)
			if (kids & (1u << k))
				m->children[m->n_children++] = digest_for(k);
		if (subject < nm)
			m->subject = digest_for(subject);
		m->blobs = calloc(3, sizeof(*m->blobs));
		for (k = 0; k < blobs % 4; k++) {
			m->blobs[m->n_blobs].digest = digest_for(1000 + byte(in) % 8);
			m->blobs[m->n_blobs++].size = 1000;
		}
	}
	for (i = 0; i < nt; i++) {
		unsigned which = byte(in), target = byte(in) % nm;
		struct retention_tag_in *t;
		char name[80];

		if (which % 16 < sizeof(tag_names) / sizeof(tag_names[0])) {
			if (used & (1u << (which % 16)))
				continue;
			used |= 1u << (which % 16);
			snprintf(name, sizeof(name), "%s", tag_names[which % 16]);
		} else {
			/* a cosign-style tag naming another manifest */
			char *d = digest_for(which % nm);

			snprintf(name, sizeof(name), "sha256-%s.sig", d + 7);
			free(d);
			for (k = 0; k < repo->n_tags; k++)
				if (strcmp(repo->tags[k].name, name) == 0)
					break;
			if (k < repo->n_tags)
				continue;
		}
		t = &repo->tags[repo->n_tags++];
		t->name = strdup(name);
		t->digest = digest_for(target);
		t->pushed_ms = NOW - (int64_t)(byte(in) % 8) * RETENTION_DAY_MS;
		t->pulled_ms = byte(in) & 1 ? NOW - (int64_t)(byte(in) % 8) * RETENTION_DAY_MS : 0;
	}
}

static long find(const struct retention_repo_in *r, const char *d)
{
	for (size_t i = 0; i < r->n_manifests; i++)
		if (strcmp(r->manifests[i].digest, d) == 0)
			return (long)i;
	return -1;
}

static void check(const struct retention_repo_in *r, const struct retention_plan *plan)
{
	size_t i, k, deleted = 0, pos[MAX_MANIFESTS];

	for (i = 0; i < r->n_tags; i++) {
		int v = plan->tags[i].verdict;
		long m = find(r, r->tags[i].digest);

		if (v != RETENTION_TAG_DELETE && v != RETENTION_TAG_REFERRER_DELETE && m >= 0 &&
		    plan->manifests[m].deleted)
			abort();
	}
	for (i = 0; i < r->n_manifests; i++) {
		pos[i] = (size_t)-1;
		deleted += plan->manifests[i].deleted != 0;
		if (plan->manifests[i].deleted)
			continue;
		for (k = 0; k < r->manifests[i].n_children; k++) {
			long c = find(r, r->manifests[i].children[k]);

			if (c >= 0 && plan->manifests[c].deleted)
				abort();
		}
		for (k = 0; k < r->n_manifests; k++)
			if (r->manifests[k].subject &&
			    strcmp(r->manifests[k].subject, r->manifests[i].digest) == 0 &&
			    plan->manifests[k].deleted)
				abort();
	}
	if (deleted != plan->n_order)
		abort();
	for (i = 0; i < plan->n_order; i++) {
		if (!plan->manifests[plan->order[i]].deleted || pos[plan->order[i]] != (size_t)-1)
			abort();
		pos[plan->order[i]] = i;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	struct retention_rules rules = {0};
	struct retention_policy policy;
	struct retention_repo_in repo = {0};
	struct retention_plan plan;

	rules_from(&in, &rules, &policy);
	repo_from(&in, &repo);
	if (retention_plan_make(&rules, &repo, &plan) == 0) {
		check(&repo, &plan);
		retention_plan_free(&plan);
	}
	retention_repo_in_free(&repo);
	retention_policy_free(&policy);
	rules.policies = NULL;
	rules.n_policies = 0;
	retention_rules_free(&rules);
	return 0;
}

/*
 * retention_collect.c - one repository as the plan needs it, read through
 * the host: every tag with the manifest it names and its push and pull
 * times, every manifest (tagged or not) with its references and times.
 *
 * The registry keeps serving meanwhile, so a tag or manifest listed a
 * moment ago may be gone when it is read: such an item is skipped, not an
 * error. Names are copied into our own lists before the next host call,
 * never used from inside the host's callbacks.
 */
#include <stdlib.h>
#include <string.h>

#include "retention.h"

/* read_manifest() callbacks */

struct read_ctx {
	struct retention_manifest_in *m;    /* NULL: only the digest is wanted */
	char *digest;
	int rc;
};

static int got_manifest(void *ctx, const berth_manifest *bm)
{
	struct read_ctx *r = ctx;

	r->digest = strdup(bm->digest ? bm->digest : "");
	if (!r->digest) {
		r->rc = BERTH_E_NOMEM;
		return 1;
	}
	if (!r->m)
		return 0;
	r->m->size = bm->body_len;
	r->rc = retention_manifest_parse(bm->body, bm->body_len, r->m);
	/* The core parsed the subject too; trust it when our reading found none. */
	if (r->rc == 0 && !r->m->subject && bm->subject && retention_digest_valid(bm->subject)) {
		r->m->subject = strdup(bm->subject);
		if (!r->m->subject)
			r->rc = BERTH_E_NOMEM;
	}
	return 0;
}

void retention_repo_in_free(struct retention_repo_in *in)
{
	size_t i;

	for (i = 0; i < in->n_tags; i++) {
		free(in->tags[i].name);
		free(in->tags[i].digest);
	}
	free(in->tags);
	for (i = 0; i < in->n_manifests; i++)
		retention_manifest_in_clear(&in->manifests[i]);
	free(in->manifests);
	free(in->repository);
	memset(in, 0, sizeof(*in));
}

static int collect_tags(const berth_host *host, struct retention_repo_in *in,
			const struct retention_names *tags, berth_error *err)
{
	in->tags = calloc(tags->n ? tags->n : 1, sizeof(*in->tags));
	if (!in->tags)
		return retention_fail(err, BERTH_E_NOMEM, "out of memory");
	for (size_t i = 0; i < tags->n; i++) {
		struct retention_tag_in *t = &in->tags[in->n_tags];
		struct read_ctx r = {0};
		int rc = host->read_manifest(in->repository, tags->v[i], got_manifest, &r, err);

		if (rc == 0)
			rc = r.rc;
		if (rc == 0)
			rc = host->manifest_times(in->repository, tags->v[i], &t->pushed_ms,
						  &t->pulled_ms, err);
		if (rc == BERTH_E_NOT_FOUND) {
			free(r.digest);
			continue;
		}
		if (rc < 0) {
			free(r.digest);
			if (rc == BERTH_E_NOMEM)
				retention_fail(err, rc, "out of memory");
			return rc;
		}
		t->digest = r.digest;
		t->name = strdup(tags->v[i]);
		in->n_tags++;
		if (!t->name)
			return retention_fail(err, BERTH_E_NOMEM, "out of memory");
	}
	return 0;
}

static int collect_manifests(const berth_host *host, struct retention_repo_in *in,
			     const struct retention_names *digests, berth_error *err)
{
	in->manifests = calloc(digests->n ? digests->n : 1, sizeof(*in->manifests));
	if (!in->manifests)
		return retention_fail(err, BERTH_E_NOMEM, "out of memory");
	for (size_t i = 0; i < digests->n; i++) {
		struct retention_manifest_in *m = &in->manifests[in->n_manifests];
		struct read_ctx r = {.m = m};
		int rc;

		if (!retention_digest_valid(digests->v[i]))
			continue;
		rc = host->read_manifest(in->repository, digests->v[i], got_manifest, &r, err);
		if (rc == 0)
			rc = r.rc;
		if (rc == 0)
			rc = host->manifest_times(in->repository, digests->v[i], &m->pushed_ms,
						  &m->pulled_ms, err);
		free(r.digest);
		if (rc == 0) {
			m->digest = strdup(digests->v[i]);
			rc = m->digest ? 0 : BERTH_E_NOMEM;
		}
		if (rc == BERTH_E_NOT_FOUND) {
			retention_manifest_in_clear(m);
			continue;
		}
		if (rc < 0) {
			retention_manifest_in_clear(m);
			if (rc == BERTH_E_NOMEM)
				retention_fail(err, rc, "out of memory");
			return rc;
		}
		in->n_manifests++;
	}
	return 0;
}

int retention_collect(const berth_host *host, const char *repository, struct retention_repo_in *in,
		      berth_error *err)
{
	struct retention_names tags = {0}, digests = {0};
	int rc;

	memset(in, 0, sizeof(*in));
	in->repository = strdup(repository);
	if (!in->repository)
		return retention_fail(err, BERTH_E_NOMEM, "out of memory");
	in->now_ms = host->now_ms();
	rc = host->list_tags(repository, retention_names_add, &tags, err);
	/* A repository whose last tag went may still hold untagged manifests. */
	if (rc == BERTH_E_NOT_FOUND)
		rc = 0;
	if (rc == 0 && tags.failed)
		rc = retention_fail(err, BERTH_E_NOMEM, "out of memory");
	if (rc == 0)
		rc = host->list_manifests(repository, retention_names_add, &digests, err);
	if (rc == 0 && digests.failed)
		rc = retention_fail(err, BERTH_E_NOMEM, "out of memory");
	if (rc == 0)
		rc = collect_tags(host, in, &tags, err);
	if (rc == 0)
		rc = collect_manifests(host, in, &digests, err);
	retention_names_free(&tags);
	retention_names_free(&digests);
	if (rc < 0)
		retention_repo_in_free(in);
	return rc;
}

/*
 * retention_immutable.c - the request hook that makes tags matching
 * immutable_tags permanent:
 *
 *   PUT    /v2/NAME/manifests/TAG     refused when TAG exists (no overwrite)
 *   DELETE /v2/NAME/manifests/TAG     refused when TAG exists
 *   DELETE /v2/NAME/manifests/DIGEST  refused when an immutable tag names
 *                                     DIGEST, or names an index listing it
 *
 * before() runs before the request body is read, so a PUT cannot be told
 * apart from a re-push of the very same manifest: that is refused too.
 * Creating a tag that does not exist yet is allowed.
 *
 * A caller who may not push (or delete) in the repository is left to the
 * core, which refuses it with 401/403 as usual: the hook never tells an
 * outsider whether a tag exists.
 */
#include <stdlib.h>
#include <string.h>

#include "retention.h"

/* What an immutable tag names, read through the host. */
struct tagged {
	char *digest;
	struct retention_manifest_in refs;   /* its children, when it is an index */
	int rc;
};

static int got_manifest(void *ctx, const berth_manifest *m)
{
	struct tagged *t = ctx;

	t->digest = strdup(m->digest ? m->digest : "");
	if (!t->digest) {
		t->rc = BERTH_E_NOMEM;
		return 1;
	}
	t->rc = retention_manifest_parse(m->body, m->body_len, &t->refs);
	return 0;
}

static int read_tag(const berth_host *h, const char *repository, const char *tag,
		    struct tagged *t, berth_error *err)
{
	int rc;

	memset(t, 0, sizeof(*t));
	rc = h->read_manifest(repository, tag, got_manifest, t, err);
	if (rc == 0 && t->rc < 0)
		rc = retention_fail(err, t->rc, "out of memory");
	return rc;
}

static void tagged_clear(struct tagged *t)
{
	free(t->digest);
	retention_manifest_in_clear(&t->refs);
}

static int may(const berth_host *h, const berth_request *req, const char *repository,
	       const char *action)
{
	berth_access a = {.type = "repository", .name = repository, .action = action};

	return !BERTH_HOST_HAS(h, allowed) || !h->allowed || h->allowed(req, &a);
}

/* DELETE by digest: is the manifest, or an index holding it, immutably tagged? */
static int check_digest(struct retention_state *st, const char *repository, const char *digest,
			berth_error *err)
{
	const berth_host *h = st->host;
	struct retention_names tags = {0};
	berth_error rerr = {0};
	size_t i, k;
	int rc;

	rc = h->list_tags(repository, retention_names_add, &tags, &rerr);
	if (rc == 0 && tags.failed)
		rc = retention_fail(err, BERTH_E_NOMEM, "out of memory");
	if (rc == BERTH_E_NOT_FOUND || rc == BERTH_E_NAME || rc == BERTH_E_INVALID)
		rc = BERTH_DECLINED;
	else if (rc < 0 && !tags.failed)
		rc = retention_fail(err, rc, "cannot check immutable tags of '%s': %s", repository,
				    rerr.message);
	for (i = 0; rc == 0 && i < tags.n; i++) {
		const struct retention_pattern *p =
			retention_immutable_match(&st->rules, repository, tags.v[i]);
		struct tagged t;
		int held = 0;

		if (!p)
			continue;
		rc = read_tag(h, repository, tags.v[i], &t, &rerr);
		if (rc == BERTH_E_NOT_FOUND) {
			rc = 0;
			tagged_clear(&t);
			continue;
		}
		if (rc < 0) {
			rc = retention_fail(err, rc, "cannot check immutable tag '%s': %s", tags.v[i],
					    rerr.message);
			tagged_clear(&t);
			break;
		}
		if (strcmp(t.digest, digest) == 0)
			rc = retention_fail(err, BERTH_E_DENIED,
					    "manifest %s of repository '%s' is tagged '%s', which is "
					    "immutable (pattern '%s')", digest, repository, tags.v[i],
					    p->text);
		for (k = 0; rc == 0 && k < t.refs.n_children; k++)
			held = held || strcmp(t.refs.children[k], digest) == 0;
		if (rc == 0 && held)
			rc = retention_fail(err, BERTH_E_DENIED,
					    "manifest %s of repository '%s' belongs to the index tagged "
					    "'%s', which is immutable (pattern '%s')", digest, repository,
					    tags.v[i], p->text);
		tagged_clear(&t);
	}
	retention_names_free(&tags);
	return rc == 0 ? BERTH_DECLINED : rc;
}

int retention_immutable_before(void *state, berth_request *req, berth_error *err)
{
	struct retention_state *st = state;
	const berth_host *h = st->host;
	const char *method, *repository, *reference;
	const struct retention_pattern *p;
	struct tagged t;
	berth_error rerr = {0};
	int is_delete, rc;

	if (st->rules.immutable_tags.n == 0 || h->request_route(req) != BERTH_ROUTE_MANIFEST)
		return BERTH_DECLINED;
	method = h->request_method(req);
	repository = h->request_repository(req);
	reference = h->request_reference(req);
	if (!method || !repository || !reference || !*repository || !*reference)
		return BERTH_DECLINED;
	is_delete = strcmp(method, "DELETE") == 0;
	if (!is_delete && strcmp(method, "PUT") != 0)
		return BERTH_DECLINED;
	if (!retention_patterns_match(&st->rules.immutable_repositories, repository) ||
	    !may(h, req, repository, is_delete ? "delete" : "push"))
		return BERTH_DECLINED;
	if (strchr(reference, ':'))
		return is_delete ? check_digest(st, repository, reference, err) : BERTH_DECLINED;
	p = retention_patterns_match(&st->rules.immutable_tags, reference);
	if (!p)
		return BERTH_DECLINED;
	rc = read_tag(h, repository, reference, &t, &rerr);
	tagged_clear(&t);
	/* A new tag, or a name the core will refuse with its own error. */
	if (rc == BERTH_E_NOT_FOUND || rc == BERTH_E_NAME || rc == BERTH_E_INVALID)
		return BERTH_DECLINED;
	if (rc < 0)
		return retention_fail(err, rc, "cannot check immutable tag '%s': %s", reference,
				      rerr.message);
	return retention_fail(err, BERTH_E_DENIED,
			      "tag '%s' of repository '%s' is immutable (pattern '%s'): it cannot "
			      "be %s", reference, repository, p->text,
			      is_delete ? "deleted" : "overwritten");
}

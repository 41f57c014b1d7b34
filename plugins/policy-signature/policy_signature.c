/*
 * policy_signature.c - the policy-signature plugin: manifests of matching
 * repositories are served only when they carry a valid cosign signature
 * from a configured key.
 *
 * gate() runs on every manifest GET and HEAD. Repositories no policy
 * matches cost a pattern match. Signatures themselves (the `.sig` tags and
 * other attachments with no filesystem layer) are always served, so
 * clients can verify too. Everything else gets a verdict (sig_verify.c,
 * cached in sig_cache.c) and, by the policy's mode, is served, served with
 * a warning, or refused with 403 DENIED and the reason.
 *
 * on_push() runs for every stored manifest: a new referrer or index drops
 * the repository's referrers map, so its signatures count at once.
 */
#include <stdlib.h>
#include <string.h>

#include "sig.h"

static const char *const verification_labels[] = {"policy", "result", NULL};
static const char *const cache_labels[] = {"result", NULL};

static void sig_destroy(void *state)
{
	policy_signature *ps = state;

	if (!ps)
		return;
	sig_config_free(ps);
	free(ps);
}

static int sig_create(const berth_host *host, const berth_instance *self,
		      const berth_config *config, void **state, berth_error *err)
{
	policy_signature *ps;
	int rc;

	if (!BERTH_HOST_HAS(host, config_where))
		return sig_fail(err, BERTH_E_UNSUPPORTED,
				"policy-signature: this Berth has no structured config or "
				"list_manifests; upgrade Berth");
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return sig_fail(err, BERTH_E_NOMEM, "policy-signature: out of memory");
	ps->host = host;
	ps->self = self;
	rc = sig_config_load(ps, config, err);
	if (rc) {
		sig_destroy(ps);
		return rc;
	}
	ps->verifications = host->metric_register(
		self, "berth_signature_verifications_total",
		"Manifest pulls judged by signature policy, by policy and result "
		"(valid, invalid, missing, warn, bypass).",
		BERTH_METRIC_COUNTER, verification_labels);
	ps->cache_lookups = host->metric_register(
		self, "berth_signature_cache_lookups_total",
		"Signature verdict cache lookups, by result (hit, miss).", BERTH_METRIC_COUNTER,
		cache_labels);
	for (size_t i = 0; i < ps->n_policies; i++) {
		const sig_policy *p = &ps->policies[i];
		static const char *const modes[] = {"enforce", "warn", "off"};
		static const char *const ids[] = {"off", "repository", "exact"};

		host->log(self, BERTH_LOG_INFO,
			  "policy '%s' on %s%s: %s, %zu key%s, identity %s, index %s, referrers %s",
			  p->name, p->repositories[0], p->n_repositories > 1 ? " and more" : "",
			  modes[p->mode], p->n_keys, p->n_keys == 1 ? "" : "s", ids[p->identity],
			  p->index_mode == SIG_INDEX_CHILDREN ? "children" : "index",
			  p->referrers ? "on" : "off");
		for (size_t k = 0; k < p->n_keys; k++)
			host->log(self, BERTH_LOG_INFO, "policy '%s' trusts %s key %s", p->name,
				  sig_key_kind_name(p->keys[k].kind), p->keys[k].path);
	}
	*state = ps;
	return 0;
}

static void count(policy_signature *ps, const sig_policy *p, const char *result)
{
	const char *values[] = {p->name, result, NULL};

	ps->host->metric_add(ps->verifications, values, 1);
}

static int sig_gate(void *state, const berth_request *req, const berth_manifest *bm,
		    berth_error *err)
{
	policy_signature *ps = state;
	const berth_host *host = ps->host;
	const sig_policy *p = sig_policy_match(ps->policies, ps->n_policies, bm->repository);
	const berth_identity *id;
	const char *tag;
	sig_manifest m;
	sig_verdict v;
	int rc = BERTH_DECLINED;

	if (!p || p->mode == SIG_MODE_OFF || sig_is_sig_tag(bm->reference))
		return BERTH_DECLINED;
	if (sig_manifest_parse(bm->body, bm->body_len, bm->media_type, &m) != 0)
		memset(&m, 0, sizeof(m));
	/* Signatures, attestations, SBOMs are served unsigned, or nobody could verify anything. */
	if (sig_manifest_is_attachment(&m))
		goto out;
	id = req ? host->request_identity(req) : NULL;
	if (id && sig_policy_bypassed(p, id->name, id->groups)) {
		host->log(ps->self, BERTH_LOG_INFO,
			  "pull of %s@%s by '%s' bypasses signature policy '%s'", bm->repository,
			  bm->digest, id->name, p->name);
		count(ps, p, "bypass");
		goto out;
	}
	tag = bm->reference && !strchr(bm->reference, ':') ? bm->reference : NULL;
	rc = sig_verify_manifest(ps, p, bm->repository, tag, bm->digest, &m, &v, err);
	if (rc) {
		host->log(ps->self, BERTH_LOG_ERROR, "cannot verify %s@%s: %s", bm->repository,
			  bm->digest, err->message);
		goto out;
	}
	rc = BERTH_DECLINED;
	if (v.result == SIG_VALID) {
		count(ps, p, "valid");
	} else if (p->mode == SIG_MODE_WARN) {
		host->log(ps->self, BERTH_LOG_WARN, "served despite signature policy '%s' (warn): %s",
			  p->name, v.message);
		count(ps, p, "warn");
	} else {
		count(ps, p, v.result == SIG_MISSING ? "missing" : "invalid");
		rc = sig_fail(err, BERTH_E_DENIED, "%s", v.message);
	}
out:
	sig_manifest_clear(&m);
	return rc;
}

static void sig_on_push(void *state, const berth_manifest *bm)
{
	policy_signature *ps = state;
	const char *mt = bm->media_type ? bm->media_type : "";

	if (!sig_policy_match(ps->policies, ps->n_policies, bm->repository))
		return;
	if (bm->subject || strstr(mt, "index") || strstr(mt, "manifest.list")) {
		ps->host->log(ps->self, BERTH_LOG_DEBUG,
			      "%s@%s refers to other manifests: referrers of %s are read again",
			      bm->repository, bm->digest, bm->repository);
		sig_graphs_invalidate(ps->graphs, bm->repository);
	}
}

static const berth_scan_ops sig_scan_ops = {
	.size = sizeof(berth_scan_ops),
	.on_push = sig_on_push,
	.gate = sig_gate,
};

static const berth_plugin sig_plugin = {
	BERTH_PLUGIN_HEADER,
	.name = "policy-signature",
	.version = "0.1.0",
	.description = "serves manifests only when they carry a valid cosign signature",
	.config_schema = sig_config_schema,
	.create = sig_create,
	.destroy = sig_destroy,
	.scan = &sig_scan_ops,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &sig_plugin;
}

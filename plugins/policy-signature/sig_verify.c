/*
 * sig_verify.c - the verdict on one manifest: find its signatures where
 * clients put them, check each, and say in words why a pull is refused.
 *
 * Signatures come from the cosign tag (`sha256-<hex>.sig` in the same
 * repository: one simplesigning layer per signature) and from referrers
 * (manifests whose subject is the image: simplesigning layers as cosign
 * writes them in OCI 1.1 mode, or Sigstore bundles). A manifest passes when
 * one signature verifies with a configured key over the exact payload
 * bytes, names this digest, has the cosign payload type and, when the
 * policy asks, names this repository (and tag).
 *
 * What a verdict was computed from (the digest the `.sig` tag names, the
 * referrers) is its cache key's state: the next pull re-reads only the
 * `.sig` tag (one small read) and the in-memory referrers map.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sig.h"

typedef struct read_sig {
	char digest[SIG_DIGEST_MAX];
	char *body;                /* copied: parsed only when the cache misses */
	size_t body_len;
	char *media_type;
	int failed;
} read_sig;

static int on_manifest(void *ctx, const berth_manifest *bm)
{
	read_sig *r = ctx;

	snprintf(r->digest, sizeof(r->digest), "%s", bm->digest ? bm->digest : "");
	r->body = malloc(bm->body_len ? bm->body_len : 1);
	r->media_type = bm->media_type ? strdup(bm->media_type) : NULL;
	if (!r->body || (bm->media_type && !r->media_type)) {
		r->failed = 1;
		return 1;
	}
	memcpy(r->body, bm->body, bm->body_len);
	r->body_len = bm->body_len;
	return 0;
}

static void read_sig_clear(read_sig *r)
{
	free(r->body);
	free(r->media_type);
	memset(r, 0, sizeof(*r));
}

/* The signature manifest's layers; 0 when it parses (and, for a referrer, names the subject). */
static int read_sig_parse(const read_sig *r, const char *want_subject, sig_manifest *m)
{
	if (!r->body || sig_manifest_parse(r->body, r->body_len, r->media_type, m) != 0)
		return -1;
	if (want_subject && strcmp(m->subject, want_subject) != 0) {
		sig_manifest_clear(m);
		return -1;
	}
	return 0;
}

typedef struct blob {
	unsigned char *data;
	size_t len, cap;
	int failed;
} blob;

static int on_bytes(void *ctx, const void *data, size_t len)
{
	blob *b = ctx;

	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		unsigned char *nd;
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

static int sha256_is(const unsigned char *data, size_t len, const char *digest)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char hex[65];

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return 0;
	for (int i = 0; i < 32; i++)
		snprintf(hex + i * 2, 3, "%02x", md[i]);
	return strncmp(digest, "sha256:", 7) == 0 && strcmp(digest + 7, hex) == 0;
}

/* What a set of candidates came to: the best result and its detail. */
typedef struct tally {
	int best;                     /* enum sig_result; SIG_MISSING when none seen */
	size_t seen;                  /* signatures examined */
	char other[SIG_DIGEST_MAX];   /* the digest a trusted payload named instead */
	char reference[200];          /* the identity it named instead */
	char why[160];                /* why the best untrusted one failed */
	int storage_failed;
} tally;

static int rank(int result)
{
	switch (result) {
	case SIG_VALID: return 6;
	case SIG_WRONG_DIGEST: return 5;
	case SIG_WRONG_IDENTITY: return 4;
	case SIG_WRONG_TYPE: return 3;
	case SIG_UNTRUSTED: return 2;
	default: return 1;
	}
}

static void note(tally *t, int result, const char *other, const char *ref, const char *why)
{
	t->seen++;
	if (rank(result) <= rank(t->best) && t->best != SIG_MISSING)
		return;
	t->best = result;
	snprintf(t->other, sizeof(t->other), "%s", other ? other : "");
	snprintf(t->reference, sizeof(t->reference), "%s", ref ? ref : "");
	snprintf(t->why, sizeof(t->why), "%s", why ? why : "");
}

typedef struct subject_ctx {
	policy_signature *ps;
	const sig_policy *p;
	const char *repository;
	const char *tag;
	const char *digest;
} subject_ctx;

static int any_key(const sig_policy *p, const void *msg, size_t len, const char *sig)
{
	for (size_t i = 0; i < p->n_keys; i++)
		if (sig_key_verify(&p->keys[i], msg, len, sig))
			return 1;
	return 0;
}

/* Read a signature blob whole, at most max_payload_size; 0, or a result code. */
static int read_payload(const subject_ctx *s, const sig_descriptor *d, blob *b, tally *t)
{
	berth_error err = {0};
	int rc;

	if (d->size > s->ps->max_payload_size) {
		note(t, SIG_UNTRUSTED, NULL, NULL, "a payload is larger than max_payload_size");
		return -1;
	}
	rc = s->ps->host->read_blob(s->repository, d->digest, s->ps->max_payload_size, on_bytes,
				    b, &err);
	if (rc == BERTH_E_NOT_FOUND || rc == BERTH_E_TOO_LARGE || rc == BERTH_E_RANGE ||
	    rc == BERTH_E_INVALID || rc == BERTH_E_NAME) {
		note(t, SIG_UNTRUSTED, NULL, NULL, "a payload blob is missing or too large");
		return -1;
	}
	if (rc || b->failed) {
		t->storage_failed = 1;
		s->ps->host->log(s->ps->self, BERTH_LOG_ERROR, "cannot read signature blob %s of %s: %s",
				 d->digest, s->repository, rc ? err.message : "out of memory");
		return -1;
	}
	if (!sha256_is(b->data, b->len, d->digest)) {
		note(t, SIG_UNTRUSTED, NULL, NULL, "a payload does not match its digest");
		return -1;
	}
	return 0;
}

static void check_simplesigning(const subject_ctx *s, const sig_descriptor *d, tally *t)
{
	blob b = {0};
	sig_payload pl = {0};
	char why[160];

	if (!d->signature) {
		note(t, SIG_UNTRUSTED, NULL, NULL, "a layer has no signature annotation");
		return;
	}
	if (read_payload(s, d, &b, t) != 0)
		goto out;
	if (!any_key(s->p, b.data, b.len, d->signature)) {
		note(t, SIG_UNTRUSTED, NULL, NULL, "");
		goto out;
	}
	if (sig_payload_parse(b.data, b.len, &pl, why, sizeof(why)) != 0) {
		note(t, SIG_WRONG_TYPE, NULL, NULL, why);
		goto out;
	}
	if (strcmp(pl.digest, s->digest) != 0) {
		note(t, SIG_WRONG_DIGEST, pl.digest, NULL, NULL);
		goto out;
	}
	if (!sig_identity_match(s->p->identity, pl.reference, s->repository, s->tag,
				s->p->identity_hosts, s->p->n_identity_hosts)) {
		note(t, SIG_WRONG_IDENTITY, NULL, pl.reference ? pl.reference : "(none)", NULL);
		goto out;
	}
	note(t, SIG_VALID, NULL, NULL, NULL);
out:
	sig_payload_clear(&pl);
	free(b.data);
}

static void check_bundle(const subject_ctx *s, const sig_descriptor *d, tally *t)
{
	blob b = {0};
	sig_dsse env = {0};
	char why[160];
	int trusted = 0, named = 0;

	if (read_payload(s, d, &b, t) != 0)
		goto out;
	if (sig_dsse_parse(b.data, b.len, &env, why, sizeof(why)) != 0) {
		note(t, SIG_UNTRUSTED, NULL, NULL, why);
		goto out;
	}
	for (size_t i = 0; !trusted && i < env.n_sigs; i++)
		trusted = any_key(s->p, env.pae, env.pae_len, env.sigs[i]);
	if (!trusted) {
		note(t, SIG_UNTRUSTED, NULL, NULL, "");
		goto out;
	}
	for (size_t i = 0; i < env.n_subjects; i++)
		named |= strcmp(env.subjects[i], s->digest) == 0;
	if (!named)
		note(t, SIG_WRONG_DIGEST, env.subjects[0], NULL, NULL);
	else if (s->p->identity != SIG_IDENTITY_OFF)
		note(t, SIG_WRONG_IDENTITY, NULL, "(a bundle carries no docker-reference)", NULL);
	else
		note(t, SIG_VALID, NULL, NULL, NULL);
out:
	sig_dsse_clear(&env);
	free(b.data);
}

/* Every signature a signature manifest (or a referrer) carries. */
static void check_layers(const subject_ctx *s, const sig_manifest *m, tally *t)
{
	for (size_t i = 0; i < m->n_items && t->best != SIG_VALID; i++) {
		const sig_descriptor *d = &m->items[i];
		const char *mt = d->media_type ? d->media_type : "";

		if (t->seen >= s->ps->max_signatures)
			return;
		if (strcmp(mt, SIG_SIMPLESIGNING_TYPE) == 0)
			check_simplesigning(s, d, t);
		else if (strncmp(mt, SIG_BUNDLE_PREFIX, strlen(SIG_BUNDLE_PREFIX)) == 0)
			check_bundle(s, d, t);
	}
}

static void verdict_text(const subject_ctx *s, const tally *t, sig_verdict *v)
{
	const char *repo = s->repository, *dig = s->digest, *pol = s->p->name;

	v->result = t->best;
	switch (t->best) {
	case SIG_VALID:
		snprintf(v->message, sizeof(v->message), "%.200s@%s: valid signature", repo, dig);
		break;
	case SIG_MISSING:
		snprintf(v->message, sizeof(v->message),
			 "%.200s@%s has no signature; policy '%.40s' requires a cosign signature "
			 "from a trusted key", repo, dig, pol);
		break;
	case SIG_WRONG_DIGEST:
		snprintf(v->message, sizeof(v->message),
			 "the signature found for %.200s@%s is for another digest (%s); "
			 "policy '%.40s' refuses it", repo, dig, t->other, pol);
		break;
	case SIG_WRONG_IDENTITY:
		snprintf(v->message, sizeof(v->message),
			 "the signature of %.200s@%s names '%.120s', not what is pulled; "
			 "policy '%.40s' refuses it", repo, dig, t->reference, pol);
		break;
	case SIG_WRONG_TYPE:
		snprintf(v->message, sizeof(v->message),
			 "the signed payload for %.200s@%s is not a cosign image signature (%.100s); "
			 "policy '%.40s' refuses it", repo, dig, t->why, pol);
		break;
	default:
		snprintf(v->message, sizeof(v->message),
			 "%.200s@%s has %zu signature%s, none valid from a key trusted by "
			 "policy '%.40s'%s%.100s", repo, dig, t->seen, t->seen == 1 ? "" : "s", pol,
			 t->why[0] ? ": " : "", t->why);
		break;
	}
}

/* The verdict on the manifest's own signatures, through the cache. */
static int own_verdict(policy_signature *ps, const sig_policy *p, const char *repository,
		       const char *tag, const char *digest, sig_verdict *v, berth_error *err)
{
	const berth_host *host = ps->host;
	subject_ctx s = { ps, p, repository, tag, digest };
	sig_cache_key_state st = {0};
	read_sig sig = {0};
	sig_manifest m;
	sig_graph *gr = NULL;
	tally t = { .best = SIG_MISSING };
	char sig_tag[SIG_TAG_MAX], key[700];
	int rc;

	if (p->identity != SIG_IDENTITY_EXACT)
		s.tag = tag = NULL;
	if (sig_tag_for(digest, sig_tag, sizeof(sig_tag)) != 0) {
		snprintf(v->message, sizeof(v->message),
			 "%.200s@%.80s: only sha256 manifests can carry cosign signatures",
			 repository, digest);
		v->result = SIG_MISSING;
		return 0;
	}
	rc = host->read_manifest(repository, sig_tag, on_manifest, &sig, err);
	if (rc && rc != BERTH_E_NOT_FOUND)
		goto out;
	if (sig.failed) {
		rc = sig_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = 0;
	snprintf(st.sig_manifest, sizeof(st.sig_manifest), "%s", sig.digest);
	if (p->referrers) {
		rc = sig_graphs_get(ps->graphs, host, repository, &gr, err);
		if (rc)
			goto out;
		st.used_graph = 1;
		st.graph_stamp = sig_graph_stamp(gr, digest);
	}
	snprintf(key, sizeof(key), "%s\n%s\n%s\n%s", p->name, repository, digest, tag ? tag : "");
	if (sig_cache_get(ps->cache, key, &st, v)) {
		host->metric_add(ps->cache_lookups, (const char *const[]){"hit", NULL}, 1);
		goto out;
	}
	host->metric_add(ps->cache_lookups, (const char *const[]){"miss", NULL}, 1);
	if (read_sig_parse(&sig, NULL, &m) == 0) {
		check_layers(&s, &m, &t);
		sig_manifest_clear(&m);
	}
	if (gr && t.best != SIG_VALID) {
		const char **refs;
		size_t n = sig_graph_referrers(gr, digest, &refs);

		for (size_t i = 0; i < n && t.best != SIG_VALID && t.seen < ps->max_signatures;
		     i++) {
			read_sig r = {0};
			berth_error e2 = {0};
			int rrc = host->read_manifest(repository, refs[i], on_manifest, &r, &e2);

			if (rrc == 0 && read_sig_parse(&r, digest, &m) == 0) {
				check_layers(&s, &m, &t);
				sig_manifest_clear(&m);
			} else if ((rrc && rrc != BERTH_E_NOT_FOUND) || r.failed) {
				t.storage_failed = 1;
			}
			read_sig_clear(&r);
		}
	}
	if (t.best != SIG_VALID && t.storage_failed) {
		rc = sig_fail(err, BERTH_E_AGAIN, "the signatures of %.200s@%s cannot be read now",
			      repository, digest);
		goto out;
	}
	verdict_text(&s, &t, v);
	sig_cache_put(ps->cache, key, &st, v);
out:
	read_sig_clear(&sig);
	sig_graphs_release(ps->graphs, gr);
	return rc;
}

/* index: children -- every image of the index must be signed itself. */
static int children_verdict(policy_signature *ps, const sig_policy *p, const char *repository,
			    const char *digest, const sig_manifest *m, sig_verdict *v,
			    berth_error *err)
{
	size_t checked = 0;

	for (size_t i = 0; i < m->n_items; i++) {
		sig_verdict cv;
		int rc;

		if (m->items[i].attestation || !sig_digest_valid(m->items[i].digest))
			continue;
		rc = own_verdict(ps, p, repository, NULL, m->items[i].digest, &cv, err);
		if (rc)
			return rc;
		checked++;
		if (cv.result != SIG_VALID) {
			v->result = cv.result;
			snprintf(v->message, sizeof(v->message), "index %.80s: child %.300s",
				 digest, cv.message);
			return 0;
		}
	}
	v->result = checked ? SIG_VALID : SIG_MISSING;
	snprintf(v->message, sizeof(v->message),
		 checked ? "%.200s@%s: every child is signed"
			 : "%.200s@%s is an index without children to verify",
		 repository, digest);
	return 0;
}

/* index: index -- an image with no signature of its own passes through a signed index. */
static int parent_verdict(policy_signature *ps, const sig_policy *p, const char *repository,
			  const char *digest, sig_verdict *v, berth_error *err)
{
	sig_graph *gr = NULL;
	const char **parents;
	size_t n;
	int rc = sig_graphs_get(ps->graphs, ps->host, repository, &gr, err);

	if (rc)
		return rc;
	n = sig_graph_parents(gr, digest, &parents);
	for (size_t i = 0; i < n && i < ps->max_signatures; i++) {
		sig_verdict pv;

		rc = own_verdict(ps, p, repository, NULL, parents[i], &pv, err);
		if (rc)
			break;
		if (pv.result == SIG_VALID) {
			v->result = SIG_VALID;
			snprintf(v->message, sizeof(v->message),
				 "%.200s@%s: signed through index %s", repository, digest,
				 parents[i]);
			break;
		}
	}
	sig_graphs_release(ps->graphs, gr);
	return rc;
}

int sig_verify_manifest(policy_signature *ps, const sig_policy *p, const char *repository,
			const char *tag, const char *digest, const sig_manifest *m, sig_verdict *v,
			berth_error *err)
{
	int rc;

	if (m->is_index && p->index_mode == SIG_INDEX_CHILDREN)
		return children_verdict(ps, p, repository, digest, m, v, err);
	rc = own_verdict(ps, p, repository, tag, digest, v, err);
	if (rc || v->result == SIG_VALID || m->is_index || p->index_mode != SIG_INDEX_SELF)
		return rc;
	return parent_verdict(ps, p, repository, digest, v, err);
}

/*
 * sig.h - the policy-signature plugin's internal interfaces.
 *
 * Where things are:
 *   sig_payload.c    the simplesigning payload and the signature manifests
 *   sig_dsse.c       Sigstore bundles (DSSE envelopes of in-toto statements)
 *   sig_keys.c       public keys (PEM) and signature checks with OpenSSL
 *   sig_identity.c   docker-reference against the pulled repository and tag
 *   sig_glob.c       repository patterns
 *   sig_config.c     schema, policies, checks of every value in create()
 *   sig_policy.c     which policy applies, who bypasses it
 *   sig_graph.c      per-repository map of referrers and index children
 *   sig_cache.c      verdicts by digest and signature set (LRU)
 *   sig_verify.c     one manifest's verdict: collect signatures, check them
 *   policy_signature.c  descriptor, lifecycle, gate() and on_push()
 */
#ifndef POLICY_SIGNATURE_SIG_H
#define POLICY_SIGNATURE_SIG_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <berth/plugin.h>

#define SIG_SIMPLESIGNING_TYPE "application/vnd.dev.cosign.simplesigning.v1+json"
#define SIG_ANNOTATION "dev.cosignproject.cosign/signature"
#define SIG_PAYLOAD_TYPE "cosign container image signature"
#define SIG_BUNDLE_PREFIX "application/vnd.dev.sigstore.bundle"
#define SIG_DIGEST_MAX 80     /* "sha256:" + 64 hex, with room */
#define SIG_TAG_MAX 136

typedef struct sig_payload {
	char digest[SIG_DIGEST_MAX];  /* critical.image.docker-manifest-digest */
	char *reference;              /* critical.identity.docker-reference, or NULL */
} sig_payload;

/* Parse a simplesigning payload strictly (c/image's rules); 0 or a negative code + why. */
int sig_payload_parse(const void *data, size_t len, sig_payload *out, char *why, size_t cap);
void sig_payload_clear(sig_payload *p);

/* One layer of a signature manifest, or one child of an index. */
typedef struct sig_descriptor {
	char digest[SIG_DIGEST_MAX];
	char *media_type;
	char *signature;              /* the cosign signature annotation (base64), or NULL */
	uint64_t size;
	int attestation;              /* index child marked as a build attestation */
} sig_descriptor;

/* What the plugin needs to know of a manifest. */
typedef struct sig_manifest {
	int is_index;
	char subject[SIG_DIGEST_MAX];  /* "" when none */
	char *artifact_type;
	sig_descriptor *items;         /* layers, or an index's manifests */
	size_t n_items;
} sig_manifest;

int sig_manifest_parse(const void *body, size_t len, const char *media_type, sig_manifest *out);
void sig_manifest_clear(sig_manifest *m);
/* An attachment (signature, attestation, SBOM): no layer is a filesystem layer. */
int sig_manifest_is_attachment(const sig_manifest *m);
int sig_digest_valid(const char *d);
/* "sha256:<hex>" -> "sha256-<hex>.sig"; 0 or -1 when the digest is not sha256. */
int sig_tag_for(const char *digest, char *tag, size_t cap);
int sig_is_sig_tag(const char *ref);

/* A Sigstore bundle with a DSSE envelope: the signed bytes and what they claim. */
typedef struct sig_dsse {
	unsigned char *pae;        /* DSSEv1 pre-authentication encoding: what is signed */
	size_t pae_len;
	char **sigs;               /* base64 signatures */
	size_t n_sigs;
	char **subjects;           /* "sha256:<hex>" of each in-toto subject */
	size_t n_subjects;
} sig_dsse;

int sig_dsse_parse(const void *data, size_t len, sig_dsse *out, char *why, size_t cap);
void sig_dsse_clear(sig_dsse *d);

/* ---- keys ---- */

typedef struct sig_key {
	char *path;
	void *pkey;                /* EVP_PKEY */
	int kind;                  /* enum sig_key_kind */
} sig_key;

enum sig_key_kind { SIG_KEY_ECDSA_P256 = 1, SIG_KEY_ED25519, SIG_KEY_RSA };

int sig_key_load(const char *path, sig_key *out, char *why, size_t cap);
void sig_key_clear(sig_key *k);
const char *sig_key_kind_name(int kind);
/* Decode base64 text (whitespace ignored); malloc'd bytes or NULL. */
unsigned char *sig_base64_decode(const char *text, size_t *len);
/* 1 when sig (base64) is a valid signature of msg by key. */
int sig_key_verify(const sig_key *k, const void *msg, size_t msg_len, const char *sig_b64);

/* ---- identity ---- */

enum sig_identity_mode { SIG_IDENTITY_OFF = 0, SIG_IDENTITY_REPOSITORY, SIG_IDENTITY_EXACT };

/*
 * Does a signed docker-reference name what is pulled? hosts: registry names
 * the reference may carry (n_hosts 0: any). tag is the pulled tag, or NULL
 * when pulled by digest.
 */
int sig_identity_match(int mode, const char *reference, const char *repository,
		       const char *tag, char *const *hosts, size_t n_hosts);

/* ---- patterns ---- */

int sig_glob_match(const char *pattern, const char *name);
int sig_glob_check(const char *pattern, char *why, size_t cap);

/* ---- policies ---- */

enum sig_mode { SIG_MODE_ENFORCE = 0, SIG_MODE_WARN, SIG_MODE_OFF };
enum sig_index_mode { SIG_INDEX_SELF = 0, SIG_INDEX_CHILDREN };

typedef struct sig_policy {
	char *name;
	char **repositories;
	size_t n_repositories;
	int mode;
	sig_key *keys;
	size_t n_keys;
	int identity;
	char **identity_hosts;
	size_t n_identity_hosts;
	int index_mode;
	int referrers;
	char **bypass_identities;
	size_t n_bypass_identities;
	char **bypass_groups;
	size_t n_bypass_groups;
} sig_policy;

const sig_policy *sig_policy_match(const sig_policy *v, size_t n, const char *repository);
int sig_policy_bypassed(const sig_policy *p, const char *name, const char *groups);
void sig_policy_clear(sig_policy *p);

/* ---- graph of a repository: who refers to whom ---- */

typedef struct sig_graph sig_graph;
typedef struct sig_graphs sig_graphs;

sig_graphs *sig_graphs_new(size_t max_repositories, int64_t ttl_ms, size_t max_manifests);
void sig_graphs_free(sig_graphs *g);
/* The repository changed on this node: its graph is rebuilt on next use. */
void sig_graphs_invalidate(sig_graphs *g, const char *repository);
/* A reference to the repository's current graph (built if needed); release it. */
int sig_graphs_get(sig_graphs *g, const berth_host *host, const char *repository,
		   sig_graph **out, berth_error *err);
void sig_graphs_release(sig_graphs *g, sig_graph *gr);
/* Digests of manifests whose subject is `digest` (sorted); borrowed from gr. */
size_t sig_graph_referrers(const sig_graph *gr, const char *digest, const char ***out);
/* Digests of indexes that list `digest` as a child; borrowed from gr. */
size_t sig_graph_parents(const sig_graph *gr, const char *digest, const char ***out);
/* A stable summary of referrers (and parents) of digest, to notice a change. */
uint64_t sig_graph_stamp(const sig_graph *gr, const char *digest);

/* ---- verdicts ---- */

enum sig_result {
	SIG_VALID = 0,
	SIG_MISSING,          /* no signature at all */
	SIG_UNTRUSTED,        /* signatures, none by a configured key (or broken) */
	SIG_WRONG_DIGEST,     /* trusted signature naming another manifest */
	SIG_WRONG_IDENTITY,   /* trusted signature naming another repository or tag */
	SIG_WRONG_TYPE,       /* trusted signature of something else */
	SIG_ERROR             /* storage could not be read: retry */
};

typedef struct sig_verdict {
	int result;           /* enum sig_result */
	char message[BERTH_ERROR_MESSAGE_MAX];
} sig_verdict;

typedef struct sig_cache sig_cache;

typedef struct sig_cache_key_state {
	char sig_manifest[SIG_DIGEST_MAX];  /* digest the .sig tag named, "" when absent */
	uint64_t graph_stamp;               /* sig_graph_stamp, 0 when not used */
	int used_graph;
} sig_cache_key_state;

sig_cache *sig_cache_new(size_t capacity);
void sig_cache_free(sig_cache *c);
/* 1 and *v filled when key is cached with exactly this state. */
int sig_cache_get(sig_cache *c, const char *key, const sig_cache_key_state *st, sig_verdict *v);
void sig_cache_put(sig_cache *c, const char *key, const sig_cache_key_state *st,
		   const sig_verdict *v);
/* Cached lookups answered / missed so far. */
void sig_cache_counts(sig_cache *c, uint64_t *hits, uint64_t *misses);

/* ---- the plugin ---- */

typedef struct policy_signature {
	const berth_host *host;
	const berth_instance *self;
	sig_policy *policies;
	size_t n_policies;
	uint64_t max_payload_size;
	size_t max_signatures;
	sig_cache *cache;
	sig_graphs *graphs;
	berth_metric *verifications;
	berth_metric *cache_lookups;
} policy_signature;

int sig_fail(berth_error *err, int code, const char *fmt, ...) BERTH_PRINTF(3, 4);
int sig_config_load(policy_signature *ps, const berth_config *cfg, berth_error *err);
void sig_config_free(policy_signature *ps);
extern const berth_config_key sig_config_schema[];

/*
 * The verdict on a manifest (m: its parsed body, zeroed when it does not
 * parse) for a policy: its own signatures (the .sig tag and referrers), and
 * for an index what the policy's index mode asks. tag is the pulled tag, or
 * NULL when pulled by digest. Returns 0 with *v filled, or a negative code
 * when storage failed (BERTH_E_AGAIN: the client may retry).
 */
int sig_verify_manifest(policy_signature *ps, const sig_policy *p, const char *repository,
			const char *tag, const char *digest, const sig_manifest *m, sig_verdict *v,
			berth_error *err);

#endif

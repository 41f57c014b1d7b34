/*
 * auth_token.h - auth-token internals shared by the plugin's source files.
 *
 * The plugin is built with -fvisibility=hidden: nothing declared here
 * leaves the .so; only berth_plugin_entry does. Internal names start with
 * atok_.
 *
 * Who touches what, and from which thread:
 *   - the config, the keys and the policy are fixed after create();
 *   - the accounts (users and robots files) are an immutable, reference
 *     counted snapshot that atok_store swaps when a file changes; a hook
 *     holds its snapshot for the length of the call;
 *   - the token cache, the password cache and the brute-force table each
 *     have their own mutex, held only for lookups, never across a hash
 *     computation or a signature check.
 */
#ifndef AUTH_TOKEN_H
#define AUTH_TOKEN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "berth/plugin.h"

#define ATOK_PLUGIN_NAME "auth-token"
#define ATOK_PLUGIN_VERSION "0.1.0"

/* The token endpoint and the admin folder (fixed: routes are static). */
#define ATOK_TOKEN_PATH "/auth/token"
#define ATOK_ADMIN_PATH "/berth/v1/auth"

/* Bounds on what clients send. */
#define ATOK_TOKEN_MAX 16384          /* bytes of one JWT */
#define ATOK_SCOPES_MAX 64            /* resource scopes in one token request */
#define ATOK_ACCESS_MAX 256           /* entries of a token's access claim */
#define ATOK_NAME_MAX 256             /* a resource name (repositories: 255) */
#define ATOK_CREDENTIALS_MAX 1024     /* decoded "user:password" */
#define ATOK_FORM_MAX (64 * 1024)     /* a POST token request's body */

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* Fill err (when not NULL) and return code. */
int atok_fail(berth_error *err, int code, const char *fmt, ...) BERTH_PRINTF(3, 4);

/* ------------------------------------------------------------------------ */
/* Encodings (atok_encoding.c)                                              */
/* ------------------------------------------------------------------------ */

/*
 * base64 (RFC 4648 section 4, with padding) and base64url (section 5,
 * without padding, as JWS uses it). Decoders return the length written into
 * out (capacity cap; a NUL is added when room is left) or -1 for anything
 * malformed or too long. Encoders return the text length or -1 when cap is
 * too small (the text is NUL-terminated).
 */
long atok_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap);
long atok_b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap);
long atok_b64url_encode(const unsigned char *in, size_t len, char *out, size_t cap);
/* RFC 4648 base32 without padding. */
long atok_b32_encode(const unsigned char *in, size_t len, char *out, size_t cap);
/*
 * application/x-www-form-urlencoded: the idx-th value of `name` in a query
 * string or form body, percent-decoded into out ('+' is a space). 1 when
 * found, 0 when absent, -1 when malformed or longer than cap-1.
 */
int atok_form_value(const char *form, size_t len, const char *name, size_t idx, char *out,
		    size_t cap);
/* "2026-01-02T03:04:05Z" for Unix seconds t (out: at least 21 bytes). */
void atok_rfc3339(int64_t t, char *out, size_t cap);
/* RFC 3339 date-time ("...Z" or "...+hh:mm"; fractions ignored) to Unix seconds; -1 if malformed. */
int atok_rfc3339_parse(const char *text, int64_t *out);
/* Compare without stopping at the first difference. 1 when equal. */
int atok_same_bytes(const void *a, size_t a_len, const void *b, size_t b_len);

/* ------------------------------------------------------------------------ */
/* Actions, resources, access lists (atok_access.c)                         */
/* ------------------------------------------------------------------------ */

/* What may be done to a resource; ATOK_ALL is the "*" of scopes and rules. */
enum atok_action {
	ATOK_PULL = 1u << 0,
	ATOK_PUSH = 1u << 1,
	ATOK_DELETE = 1u << 2,
	ATOK_RUN = 1u << 3,        /* registry:jobs */
	ATOK_GET = 1u << 4,        /* route:<path> methods */
	ATOK_HEAD = 1u << 5,
	ATOK_POST = 1u << 6,
	ATOK_PUT = 1u << 7,
	ATOK_PATCH = 1u << 8,
	ATOK_HTTP_DELETE = 1u << 9,
	ATOK_ALL = 1u << 15
};

/* The bit of `action` for a resource of `type`, 0 when that type has no such action. */
unsigned atok_action_bit(const char *type, const char *action);
/* Does an allowed set cover the bit (ATOK_ALL covers everything)? */
int atok_actions_cover(unsigned allowed, unsigned bit);
/* The action's name for a bit of `type` ("pull", "DELETE", "*"). */
const char *atok_action_name(const char *type, unsigned bit);
/* Every action a type knows (what "*" stands for when granting). */
unsigned atok_type_actions(const char *type);

/* A repository name as the distribution spec allows it (at most 255 bytes). */
int atok_repository_name_valid(const char *name);

/* One entry of a token's access claim or of a token request. */
typedef struct atok_access {
	char *type;
	char *name;
	char **actions;
	size_t n_actions;
} atok_access;

typedef struct atok_access_list {
	atok_access *v;
	size_t n;
} atok_access_list;

void atok_access_list_free(atok_access_list *l);
/* Add an action to the entry for type:name (created when absent); duplicates are ignored. */
int atok_access_list_add(atok_access_list *l, const char *type, const char *name,
			 const char *action);
/* Does the list grant type:name:action (exact type and name, the action or "*")? */
int atok_access_list_allows(const atok_access_list *l, const char *type, const char *name,
			    const char *action);
/*
 * Parse a scope parameter: resource scopes separated by spaces, each
 * "type:name:action[,action...]", read from both ends (a name may hold a
 * host:port); "repository(plugin)" counts as "repository". Malformed
 * scopes are skipped and counted in *bad. BERTH_E_NOMEM or 0.
 */
int atok_scope_parse(const char *text, atok_access_list *out, size_t *bad);
/* "type:name:a,b type:name:c" for the list, into out. 0, or -1 when cap is too small. */
int atok_access_list_scope(const atok_access_list *l, char *out, size_t cap);

/* ------------------------------------------------------------------------ */
/* Rules: the policy and robots' grants (atok_policy.c)                     */
/* ------------------------------------------------------------------------ */

typedef struct atok_rule {
	char *type;        /* "repository", "registry" or "route" */
	char *pattern;     /* a glob for repositories, an exact name otherwise */
	size_t literal;    /* characters of the pattern that are not '*' */
	int deep;          /* the pattern holds "**" */
	char **subjects;   /* "user:x", "group:x", "anonymous", "authenticated" */
	size_t n_subjects;
	unsigned actions;
} atok_rule;

typedef struct atok_rules {
	atok_rule *v;
	size_t n;
} atok_rules;

/* Who asks: name "" is anonymous; groups comma-separated (or NULL). */
typedef struct atok_who {
	const char *name;
	const char *groups;
} atok_who;

/* '*' matches within a path segment, '**' across segments; both may match nothing. */
int atok_glob_match(const char *pattern, const char *name);
/* A policy rule: "<resource> <subject>[,<subject>...] <action>[,<action>...]". */
int atok_rules_add_policy(atok_rules *r, const char *text, char *why, size_t cap);
/* A robot's grant: "<resource>:<action>[,<action>...]". */
int atok_rules_add_grant(atok_rules *r, const char *text, char *why, size_t cap);
void atok_rules_free(atok_rules *r);
/*
 * The actions the policy gives `who` on type:name. Among the rules that
 * name `who` and whose pattern matches, the most specific pattern wins:
 * most literal characters, then a pattern without "**"; equally specific
 * rules add up. *matched (when not NULL) tells whether any rule, for
 * anybody, matches the resource.
 */
unsigned atok_policy_actions(const atok_rules *r, const atok_who *who, const char *type,
			     const char *name, int *matched);
/* A robot's grants: the union of every entry that matches type:name. */
unsigned atok_grants_actions(const atok_rules *r, const char *type, const char *name,
			     int *matched);

/* ------------------------------------------------------------------------ */
/* Accounts: users and robots files (atok_accounts.c, atok_store.c)         */
/* ------------------------------------------------------------------------ */

typedef struct atok_user {
	char *name;
	char *hash;        /* crypt(3) hash: $2b$, $2y$, $2a$ or $6$ */
	char *groups;      /* comma-separated, "" for none */
	size_t line;
} atok_user;

typedef struct atok_robot {
	char *name;
	char *hash;
	int64_t expires;   /* Unix seconds */
	atok_rules grants;
	size_t line;
} atok_robot;

typedef struct atok_accounts {
	atok_user *users;
	size_t n_users;
	atok_robot *robots;
	size_t n_robots;
} atok_accounts;

/* Called for each line that is skipped, with its number and why. */
typedef void (*atok_report_fn)(void *ctx, size_t line, const char *why);

int atok_account_name_valid(const char *name);
int atok_hash_supported(const char *hash);
/* Lines "name:hash[:group,group]"; '#' comments. 0 or BERTH_E_NOMEM. */
int atok_users_parse(const char *text, size_t len, atok_accounts *a, atok_report_fn report,
		     void *ctx);
/* Lines "name hash expires grant..." (whitespace-separated). 0 or BERTH_E_NOMEM. */
int atok_robots_parse(const char *text, size_t len, atok_accounts *a, atok_report_fn report,
		      void *ctx);
void atok_accounts_free(atok_accounts *a);
/* Sort for lookups; a name defined twice (or as user and robot) keeps its first definition. */
void atok_accounts_index(atok_accounts *a, atok_report_fn report, void *ctx);
const atok_user *atok_user_find(const atok_accounts *a, const char *name);
const atok_robot *atok_robot_find(const atok_accounts *a, const char *name);

/* One immutable snapshot of the accounts. */
typedef struct atok_db {
	atomic_int refs;
	atok_accounts acc;
} atok_db;

typedef struct atok_file_sig {
	int exists;
	uint64_t dev, ino, size;
	int64_t mtime_ns;
} atok_file_sig;

typedef struct atok_store {
	pthread_mutex_t lock;
	atok_db *current;
	const berth_host *host;
	const berth_instance *self;
	const char *users_path;    /* NULL when not configured */
	const char *robots_path;
	atok_file_sig users_sig, robots_sig;
	int64_t checked_ms;        /* monotonic time of the last stat */
	uint64_t generation;       /* bumped at each reload */
} atok_store;

/* Load the files (both must exist when configured). */
int atok_store_init(atok_store *s, const berth_host *host, const berth_instance *self,
		    const char *users_path, const char *robots_path, berth_error *err);
void atok_store_destroy(atok_store *s);
/* The current snapshot (reloaded first when a file changed, checked at most once a second). */
atok_db *atok_store_get(atok_store *s);
/* Reload now, whatever the clock says (after the plugin rewrote a file). */
void atok_store_reload(atok_store *s);
void atok_db_put(atok_db *db);

/* ------------------------------------------------------------------------ */
/* Passwords (atok_password.c)                                              */
/* ------------------------------------------------------------------------ */

/* 1 when password matches the crypt(3) hash, 0 when not, <0 on failure. */
int atok_password_matches(const char *hash, const char *password);
/* Spend the time a check costs, for an account that does not exist. */
void atok_password_burn(const char *password);

/*
 * Recently verified passwords, so that Basic on every request does not
 * cost a bcrypt each time. Entries are keyed by a salted SHA-256 of
 * account, stored hash and password: a changed password misses.
 */
#define ATOK_PWCACHE_SLOTS 256
typedef struct atok_pwcache {
	pthread_mutex_t lock;
	int64_t ttl_ms;
	unsigned char salt[32];
	struct {
		unsigned char key[32];
		int64_t expires_ms;
	} slot[ATOK_PWCACHE_SLOTS];
	unsigned next;
} atok_pwcache;

int atok_pwcache_init(atok_pwcache *c, int64_t ttl_ms);
void atok_pwcache_destroy(atok_pwcache *c);
int atok_pwcache_hit(atok_pwcache *c, const char *name, const char *hash, const char *password,
		     int64_t now_ms);
void atok_pwcache_add(atok_pwcache *c, const char *name, const char *hash,
		      const char *password, int64_t now_ms);

/* ------------------------------------------------------------------------ */
/* Keys (atok_keys.c)                                                       */
/* ------------------------------------------------------------------------ */

enum atok_alg {
	ATOK_RS256 = 1u << 0,
	ATOK_RS384 = 1u << 1,
	ATOK_RS512 = 1u << 2,
	ATOK_ES256 = 1u << 3,
	ATOK_ES384 = 1u << 4,
	ATOK_ES512 = 1u << 5
};
#define ATOK_ALGS_ALL (ATOK_RS256 | ATOK_RS384 | ATOK_RS512 | ATOK_ES256 | ATOK_ES384 | ATOK_ES512)

typedef struct atok_alg_info {
	const char *name;          /* "RS256" */
	unsigned bit;
	int ec;                    /* ECDSA (else RSA PKCS#1 v1.5) */
	const char *digest;        /* "SHA256" */
	const char *curve;         /* EC group name, NULL for RSA */
	size_t coord_len;          /* bytes of r and of s in a JWS ECDSA signature */
} atok_alg_info;

const atok_alg_info *atok_alg_by_name(const char *name);
/* The algorithm a key signs with (RS256 for RSA; ES256/384/512 by curve), or NULL. */
const atok_alg_info *atok_alg_for_key(EVP_PKEY *key);
/* Does a key suit an algorithm (type, curve, RSA of at least 2048 bits)? */
int atok_key_fits(EVP_PKEY *key, const atok_alg_info *alg);

typedef struct atok_trusted_key {
	char *kid;
	EVP_PKEY *key;
} atok_trusted_key;

typedef struct atok_keys {
	EVP_PKEY *signing;                 /* own private key, or NULL */
	const atok_alg_info *signing_alg;
	char signing_kid[64];
	atok_trusted_key *trusted;         /* looked up by kid */
	size_t n_trusted;
	X509_STORE *roots;                 /* rootcertbundle, for x5c chains; NULL when none */
	size_t n_roots;
} atok_keys;

void atok_keys_free(atok_keys *k);
/* Own signing key (PEM private key file); its kid is the RFC 7638 thumbprint. */
int atok_keys_load_signing(atok_keys *k, const char *path, berth_error *err);
/* Certificates: roots for x5c; their keys trusted by thumbprint and libtrust kid. */
int atok_keys_load_roots(atok_keys *k, const char *path, berth_error *err);
/* A JWKS file: each key trusted under its own kid. */
int atok_keys_load_jwks(atok_keys *k, const char *path, berth_error *err);
/* The same from text (also for tests and fuzzing). */
int atok_keys_add_jwks(atok_keys *k, const char *text, size_t len, berth_error *err);
/* Trust a public key under kid (the key is up-ref'd). */
int atok_keys_trust(atok_keys *k, const char *kid, EVP_PKEY *key);
EVP_PKEY *atok_keys_find(const atok_keys *k, const char *kid);
/*
 * RFC 7638 thumbprint (SHA-256, base64url). `trim` drops leading zero
 * bytes of EC coordinates, as Distribution computes it.
 */
int atok_key_thumbprint(EVP_PKEY *key, int trim, char *out, size_t cap);
/* The libtrust key id: "ABCD:EFGH:..." (12 groups of 4). */
int atok_key_libtrust_id(EVP_PKEY *key, char *out, size_t cap);
/* A public key from one JWK object (parsed JSON text of the object's members). */
struct json_t;
EVP_PKEY *atok_jwk_key(const struct json_t *jwk, char *why, size_t cap);
/* The leaf key of an x5c chain verified against the roots. */
EVP_PKEY *atok_x5c_key(const atok_keys *k, const struct json_t *x5c, int64_t now_s, char *why,
		       size_t cap);

/* ------------------------------------------------------------------------ */
/* JWT (atok_jwt.c)                                                         */
/* ------------------------------------------------------------------------ */

/* A verified token's claims; shared by the token cache, reference counted. */
typedef struct atok_claims {
	atomic_int refs;
	char *sub;                 /* "" for anonymous */
	int64_t exp, nbf, iat;     /* nbf, iat: INT64_MIN when absent */
	atok_access_list access;
	int own;                   /* signed with this instance's own key */
	int refresh;               /* a refresh token (never an access token) */
	char *fingerprint;         /* refresh tokens: the account's password fingerprint */
} atok_claims;

void atok_claims_put(atok_claims *c);

typedef struct atok_verify_opts {
	const atok_keys *keys;
	unsigned algs;             /* allowed ATOK_* algorithm bits */
	const char *issuer;
	const char *audience;
	int64_t leeway_s;
	int64_t now_s;
	int refresh;               /* expect a refresh token instead of an access token */
} atok_verify_opts;

/*
 * Check a compact JWS: structure, algorithm, key (x5c, then jwk, then kid),
 * signature, iss, aud, exp/nbf/iat. 0 and *out, or BERTH_E_UNAUTHORIZED
 * with a reason in why (never a piece of the token).
 */
int atok_jwt_verify(const char *token, size_t len, const atok_verify_opts *o,
		    atok_claims **out, char *why, size_t cap);
/* Sign claims (a JSON object) with the own key; *out is malloc'd. */
int atok_jwt_sign(const atok_keys *k, const struct json_t *claims, char **out);

/* ------------------------------------------------------------------------ */
/* Verified tokens (atok_tokens.c)                                          */
/* ------------------------------------------------------------------------ */

#define ATOK_TOKEN_CACHE_SLOTS 1024
typedef struct atok_token_cache {
	pthread_mutex_t lock;
	struct {
		unsigned char digest[32];
		atok_claims *claims;
	} slot[ATOK_TOKEN_CACHE_SLOTS];
} atok_token_cache;

int atok_token_cache_init(atok_token_cache *c);
void atok_token_cache_destroy(atok_token_cache *c);
/* A cached token's claims (a reference), or NULL. */
atok_claims *atok_token_cache_get(atok_token_cache *c, const unsigned char digest[32]);
void atok_token_cache_put(atok_token_cache *c, const unsigned char digest[32], atok_claims *cl);
void atok_token_cache_clear(atok_token_cache *c);

/* ------------------------------------------------------------------------ */
/* Brute force (atok_bruteforce.c)                                          */
/* ------------------------------------------------------------------------ */

#define ATOK_BF_SLOTS 4096
#define ATOK_BF_KEY_MAX 160

typedef struct atok_bf_entry {
	char key[ATOK_BF_KEY_MAX];     /* "c:<address>" or "a:<account>"; "" when free */
	int64_t window_start_ms;
	int64_t locked_until_ms;
	int64_t last_ms;
	unsigned failures;
} atok_bf_entry;

typedef struct atok_bruteforce {
	pthread_mutex_t lock;
	unsigned account_limit, client_limit;  /* 0: not counted */
	int64_t window_ms, lockout_ms;
	atok_bf_entry *slot;                    /* ATOK_BF_SLOTS */
} atok_bruteforce;

int atok_bf_init(atok_bruteforce *b, unsigned account_limit, unsigned client_limit,
		 int64_t window_ms, int64_t lockout_ms);
void atok_bf_destroy(atok_bruteforce *b);
/* Milliseconds until the client or the account may try again, 0 when not locked. */
int64_t atok_bf_locked(atok_bruteforce *b, const char *client, const char *account,
		       int64_t now_ms);
/* Count a failure; returns the lockouts it started (bit 0: client, bit 1: account). */
unsigned atok_bf_failure(atok_bruteforce *b, const char *client, const char *account,
			 int64_t now_ms);
/* A success clears the account's count (not the client's: see README). */
void atok_bf_success(atok_bruteforce *b, const char *account);

/* ------------------------------------------------------------------------ */
/* Configuration (atok_config.c)                                            */
/* ------------------------------------------------------------------------ */

enum atok_mode { ATOK_MODE_TOKEN = 0, ATOK_MODE_BASIC = 1 };

typedef struct atok_config {
	int mode;
	char *realm, *service, *issuer;
	char *rootcertbundle, *jwks, *signing_key;
	unsigned algs;
	int64_t token_lifetime_s, refresh_lifetime_s, leeway_s;
	char *users_file, *robots_file;
	int basic;                 /* Basic credentials accepted on registry requests */
	unsigned bf_account, bf_client;
	int64_t bf_window_ms, bf_lockout_ms;
	int64_t password_cache_ms;
} atok_config;

extern const berth_config_key atok_config_schema[];
int atok_config_load(const berth_host *host, const berth_config *config, atok_config *c,
		     atok_rules *policy, berth_error *err);
void atok_config_free(atok_config *c);

/* ------------------------------------------------------------------------ */
/* The instance                                                             */
/* ------------------------------------------------------------------------ */

typedef struct atok_state {
	const berth_host *host;
	const berth_instance *self;
	const char *name;          /* the instance's name (identity.provider) */
	atok_config cfg;
	atok_rules policy;
	atok_keys keys;
	atok_store store;
	atok_pwcache pwcache;
	atok_token_cache tokens;
	atok_bruteforce bf;
	berth_metric *lockouts;    /* berth_auth_lockouts_total{kind} */
	berth_metric *issued;      /* berth_auth_tokens_issued_total{grant} */
	pthread_mutex_t admin_lock;   /* one robots-file rewrite at a time */
	int ready;                 /* every lock above initialised */
} atok_state;

/*
 * Every live instance of the plugin in this process (auth_token.c). Routes
 * are per plugin, not per instance: the instance the host hands a route to
 * finds the one that serves tokens, and revocations reach every robots
 * file.
 */
#define ATOK_INSTANCES_MAX 16
atok_state *atok_token_server_instance(atok_state *st);
size_t atok_instances(atok_state **out, size_t max);

/* Who a login proved to be (atok_login.c). */
typedef struct atok_account {
	char name[BERTH_IDENTITY_NAME_MAX];
	char groups[BERTH_IDENTITY_GROUPS_MAX];
	int robot;
	char fingerprint[24];      /* of the stored hash: a new password ends refresh tokens */
	int cached;                /* the password cache answered (no hash was computed) */
} atok_account;

/*
 * Check a name and password against the accounts, with the brute-force
 * limits. 0 and *who; BERTH_E_UNAUTHORIZED; BERTH_E_TOO_MANY with
 * *retry_ms when locked out. *reason names the outcome for logs and events
 * ("unknown_account", "bad_password", "expired", "locked_out"); clients
 * are told less.
 */
int atok_login(atok_state *st, const char *client, const char *name, const char *password,
	       atok_account *who, int64_t *retry_ms, const char **reason);
/* The fingerprint of a stored hash (see atok_account). */
void atok_hash_fingerprint(const char *hash, char *out, size_t cap);
/*
 * Is the subject of an own token still an account in good standing (a
 * user, or a robot not expired; with fingerprint, still the same
 * password)? Fills groups when not NULL. 1 or 0.
 */
int atok_subject_alive(atok_state *st, const char *name, char *groups, size_t cap,
		       const char *fingerprint);
/* Emit a login or login.failed event with detail (a JSON object, consumed). */
void atok_emit_login(atok_state *st, const berth_request *req, const char *account, int ok,
		     struct json_t *detail);

/* Basic credentials of an Authorization header (atok_basic.c). 1 found, 0 none, -1 malformed. */
int atok_basic_parse(const char *header, char *user, size_t user_cap, char *password,
		     size_t password_cap);
/* The token of "Bearer <token>" (case-insensitive scheme), or NULL. */
const char *atok_bearer_token(const char *header, size_t *len);

/*
 * The verified claims of the request's bearer token (atok_bearer.c): 0 and
 * a reference in *out; BERTH_DECLINED when there is none;
 * BERTH_E_UNAUTHORIZED (why filled) when it does not verify.
 */
int atok_request_claims(atok_state *st, const berth_request *req, atok_claims **out, char *why,
			size_t cap);

/* The policy decision for an identity this instance knows (atok_decide.c). */
int atok_decide(atok_state *st, const berth_request *req, const berth_identity *id,
		const berth_access *access, berth_error *err);

/* WWW-Authenticate (atok_challenge.c). */
int atok_challenge(atok_state *st, const berth_request *req, const berth_access *accesses,
		   size_t n, char *out, size_t cap);

/* Routes (atok_server.c, atok_admin.c). */
int atok_token_route(void *state, berth_request *req, berth_error *err);
int atok_admin_route(void *state, berth_request *req, berth_error *err);

#endif

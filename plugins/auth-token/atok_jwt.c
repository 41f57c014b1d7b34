/*
 * atok_jwt.c - JSON Web Tokens as the registry token protocol uses them
 * (distribution's docs/spec/auth/jwt.md): compact JWS, RS256/384/512 or
 * ES256/384/512, checked against trusted keys only.
 *
 * What is refused, and why it matters:
 *   - "none", HS256 and every algorithm not in the allow-list: with only
 *     public keys configured, an HMAC "signed" with the public key is the
 *     classic forgery;
 *   - a key of the wrong kind for the algorithm (an EC key claimed for
 *     RS256, a P-384 key for ES256);
 *   - unknown "crit" header parameters (RFC 7515 section 4.1.11);
 *   - a kid no trusted key has, an x5c chain that does not end at a root;
 *   - iss other than the issuer, aud not naming the service, exp passed,
 *     nbf or iat in the future (each with the configured leeway);
 *   - a refresh token used as an access token, and the other way round.
 * Base64url must be canonical (no padding, zero trailing bits), so a token
 * has exactly one spelling.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>

#include "auth_token.h"

#define SEGMENT_JSON_MAX 12288
#define SIG_MAX 1024

void atok_claims_put(atok_claims *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	free(c->sub);
	free(c->fingerprint);
	atok_access_list_free(&c->access);
	free(c);
}

static int why_set(char *why, size_t cap, const char *text)
{
	if (why && cap)
		snprintf(why, cap, "%s", text);
	return BERTH_E_UNAUTHORIZED;
}

static json_t *segment_json(const char *seg, size_t len)
{
	unsigned char *buf;
	json_t *doc = NULL;
	long n;

	if (len == 0 || len > SEGMENT_JSON_MAX * 4 / 3 + 4)
		return NULL;
	buf = malloc(SEGMENT_JSON_MAX + 1);
	if (!buf)
		return NULL;
	n = atok_b64url_decode(seg, len, buf, SEGMENT_JSON_MAX);
	if (n > 0)
		doc = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
	free(buf);
	if (doc && !json_is_object(doc)) {
		json_decref(doc);
		doc = NULL;
	}
	return doc;
}

/* The JWS form of an ECDSA signature is r||s, each coord_len bytes; OpenSSL wants DER. */
static int ecdsa_raw_to_der(const unsigned char *raw, size_t coord_len, unsigned char **der,
			    int *der_len)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, (int)coord_len, NULL);
	BIGNUM *s = BN_bin2bn(raw + coord_len, (int)coord_len, NULL);

	*der = NULL;
	if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
		ECDSA_SIG_free(sig);
		BN_free(r);
		BN_free(s);
		return -1;
	}
	*der_len = i2d_ECDSA_SIG(sig, der);
	ECDSA_SIG_free(sig);
	return *der_len > 0 ? 0 : -1;
}

static int signature_ok(EVP_PKEY *key, const atok_alg_info *alg, const char *input,
			size_t input_len, const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	const EVP_MD *digest = EVP_get_digestbyname(alg->digest);
	unsigned char *der = NULL;
	int der_len = 0, ok = 0;

	if (!md || !digest)
		goto out;
	if (alg->ec) {
		if (sig_len != 2 * alg->coord_len ||
		    ecdsa_raw_to_der(sig, alg->coord_len, &der, &der_len) < 0)
			goto out;
		sig = der;
		sig_len = (size_t)der_len;
	}
	ok = EVP_DigestVerifyInit(md, NULL, digest, NULL, key) == 1 &&
	     EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)input, input_len) == 1;
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	return ok;
}

/* The key the header points at: x5c, then jwk, then kid (Distribution's order). */
static EVP_PKEY *header_key(const json_t *header, const atok_verify_opts *o, char *why,
			    size_t cap)
{
	const json_t *x5c = json_object_get(header, "x5c");
	const json_t *jwk = json_object_get(header, "jwk");
	const char *kid = NULL;
	EVP_PKEY *key;

	if (x5c)
		return atok_x5c_key(o->keys, x5c, o->now_s, why, cap);
	if (jwk) {
		if (!json_is_object(jwk)) {
			snprintf(why, cap, "malformed jwk header");
			return NULL;
		}
		if (json_object_get(jwk, "x5c"))
			return atok_x5c_key(o->keys, json_object_get(jwk, "x5c"), o->now_s, why, cap);
		/* An embedded key proves nothing: only its kid may name a trusted key. */
		kid = json_string_value(json_object_get(jwk, "kid"));
	} else {
		kid = json_string_value(json_object_get(header, "kid"));
	}
	if (!kid) {
		snprintf(why, cap, "no kid, jwk or x5c names the signing key");
		return NULL;
	}
	key = atok_keys_find(o->keys, kid);
	if (!key) {
		snprintf(why, cap, "signed by an untrusted key (unknown kid)");
		return NULL;
	}
	EVP_PKEY_up_ref(key);
	return key;
}

static int number_claim(const json_t *claims, const char *name, int64_t *out)
{
	const json_t *v = json_object_get(claims, name);
	double d;

	if (!v)
		return 0;
	/* Bounded, so that adding a leeway can never overflow. */
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < -9000000000000000LL || i > 9000000000000000LL)
			return -1;
		*out = (int64_t)i;
		return 1;
	}
	if (!json_is_real(v))
		return -1;
	d = json_real_value(v);
	if (!isfinite(d) || d < -9e15 || d > 9e15)
		return -1;
	*out = (int64_t)floor(d);
	return 1;
}

static int audience_ok(const json_t *aud, const char *audience)
{
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), audience) == 0;
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), audience) == 0)
			return 1;
	return 0;
}

static int access_claim(const json_t *access, atok_access_list *out)
{
	size_t i, k;
	json_t *e, *a;

	if (!access || json_is_null(access))
		return 0;
	if (!json_is_array(access) || json_array_size(access) > ATOK_ACCESS_MAX)
		return -1;
	json_array_foreach(access, i, e) {
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *name = json_string_value(json_object_get(e, "name"));
		const json_t *actions = json_object_get(e, "actions");
		char base[32];
		size_t len;

		if (!type || !name || strlen(name) > ATOK_NAME_MAX ||
		    (actions && !json_is_array(actions) && !json_is_null(actions)))
			return -1;
		/* "repository(plugin)" grants what "repository" does. */
		len = strcspn(type, "(");
		if (len == 0 || len >= sizeof(base))
			return -1;
		memcpy(base, type, len);
		base[len] = '\0';
		if (atok_access_list_add(out, base, name, NULL) < 0)
			return -1;
		json_array_foreach(actions, k, a) {
			if (!json_is_string(a) || json_string_length(a) > 32 ||
			    atok_access_list_add(out, base, name, json_string_value(a)) < 0)
				return -1;
		}
	}
	return 0;
}

static int check_claims(const json_t *claims, const atok_verify_opts *o, atok_claims *c,
			char *why, size_t cap)
{
	const char *iss = json_string_value(json_object_get(claims, "iss"));
	const json_t *sub = json_object_get(claims, "sub");
	const char *use = json_string_value(json_object_get(claims, "berth_use"));
	int is_refresh = use && strcmp(use, "refresh") == 0;

	if (!iss || strcmp(iss, o->issuer) != 0)
		return why_set(why, cap, "wrong issuer");
	if (!audience_ok(json_object_get(claims, "aud"), o->audience))
		return why_set(why, cap, "wrong audience");
	if (number_claim(claims, "exp", &c->exp) != 1)
		return why_set(why, cap, "no expiry (exp)");
	if (number_claim(claims, "nbf", &c->nbf) < 0 || number_claim(claims, "iat", &c->iat) < 0)
		return why_set(why, cap, "malformed nbf or iat");
	if (o->now_s > c->exp + o->leeway_s)
		return why_set(why, cap, "expired");
	if (c->nbf != INT64_MIN && c->nbf - o->leeway_s > o->now_s)
		return why_set(why, cap, "not valid yet (nbf)");
	if (c->iat != INT64_MIN && c->iat - o->leeway_s > o->now_s)
		return why_set(why, cap, "issued in the future (iat)");
	if (sub && !json_is_string(sub))
		return why_set(why, cap, "malformed subject");
	c->sub = strdup(sub ? json_string_value(sub) : "");
	if (!c->sub)
		return why_set(why, cap, "out of memory");
	if (strlen(c->sub) >= BERTH_IDENTITY_NAME_MAX)
		return why_set(why, cap, "subject too long");
	if (is_refresh != (o->refresh != 0))
		return why_set(why, cap, o->refresh ? "not a refresh token"
						    : "a refresh token is not an access token");
	if (is_refresh) {
		const char *fp = json_string_value(json_object_get(claims, "berth_pwd"));
		if (!c->own || !fp)
			return why_set(why, cap, "not a refresh token of this server");
		c->fingerprint = strdup(fp);
		if (!c->fingerprint)
			return why_set(why, cap, "out of memory");
	}
	if (access_claim(json_object_get(claims, "access"), &c->access) < 0)
		return why_set(why, cap, "malformed access claim");
	return 0;
}

int atok_jwt_verify(const char *token, size_t len, const atok_verify_opts *o,
		    atok_claims **out, char *why, size_t cap)
{
	const char *dot1, *dot2;
	const atok_alg_info *alg;
	json_t *header = NULL, *claims = NULL;
	unsigned char sig[SIG_MAX];
	EVP_PKEY *key = NULL;
	atok_claims *c = NULL;
	long sig_len;
	int rc = BERTH_E_UNAUTHORIZED;

	*out = NULL;
	if (len == 0 || len > ATOK_TOKEN_MAX || memchr(token, '\0', len))
		return why_set(why, cap, "malformed token");
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return why_set(why, cap, "malformed token: not three segments");
	header = segment_json(token, (size_t)(dot1 - token));
	if (!header) {
		why_set(why, cap, "malformed token header");
		goto out;
	}
	alg = atok_alg_by_name(json_string_value(json_object_get(header, "alg")));
	if (!alg || !(alg->bit & o->algs)) {
		why_set(why, cap, "algorithm not accepted");
		goto out;
	}
	if (json_object_get(header, "crit")) {
		why_set(why, cap, "unsupported critical header");
		goto out;
	}
	key = header_key(header, o, why, cap);
	if (!key)
		goto out;
	if (!atok_key_fits(key, alg)) {
		why_set(why, cap, "the key does not suit the algorithm");
		goto out;
	}
	sig_len = atok_b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), sig, sizeof(sig));
	if (sig_len <= 0 ||
	    !signature_ok(key, alg, token, (size_t)(dot2 - token), sig, (size_t)sig_len)) {
		why_set(why, cap, "bad signature");
		goto out;
	}
	claims = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (!claims) {
		why_set(why, cap, "malformed token claims");
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		why_set(why, cap, "out of memory");
		goto out;
	}
	atomic_init(&c->refs, 1);
	c->nbf = INT64_MIN;
	c->iat = INT64_MIN;
	c->own = o->keys->signing && EVP_PKEY_eq(key, o->keys->signing) == 1;
	if (check_claims(claims, o, c, why, cap) < 0)
		goto out;
	*out = c;
	c = NULL;
	rc = 0;
out:
	atok_claims_put(c);
	EVP_PKEY_free(key);
	json_decref(header);
	json_decref(claims);
	return rc;
}

static int b64url_json(const json_t *doc, char **out)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	size_t len, cap;
	int rc = BERTH_E_NOMEM;

	*out = NULL;
	if (!text)
		return rc;
	len = strlen(text);
	cap = len * 4 / 3 + 4;
	*out = malloc(cap);
	if (*out && atok_b64url_encode((const unsigned char *)text, len, *out, cap) >= 0)
		rc = 0;
	free(text);
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* Sign input; the JWS signature bytes into sig (raw r||s for ECDSA). */
static int sign_bytes(const atok_keys *k, const char *input, size_t len, unsigned char *sig,
		      size_t *sig_len)
{
	const atok_alg_info *alg = k->signing_alg;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[SIG_MAX];
	size_t der_len = sizeof(der);
	ECDSA_SIG *es = NULL;
	const unsigned char *p = der;
	int rc = BERTH_E_INTERNAL;

	if (!md ||
	    EVP_DigestSignInit(md, NULL, EVP_get_digestbyname(alg->digest), NULL, k->signing) != 1 ||
	    EVP_DigestSign(md, der, &der_len, (const unsigned char *)input, len) != 1)
		goto out;
	if (!alg->ec) {
		memcpy(sig, der, der_len);
		*sig_len = der_len;
		rc = 0;
		goto out;
	}
	es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (!es || BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, (int)alg->coord_len) < 0 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + alg->coord_len, (int)alg->coord_len) < 0)
		goto out;
	*sig_len = 2 * alg->coord_len;
	rc = 0;
out:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	return rc;
}

int atok_jwt_sign(const atok_keys *k, const json_t *claims, char **out)
{
	json_t *header = NULL;
	char *h64 = NULL, *c64 = NULL, *token = NULL;
	unsigned char sig[SIG_MAX];
	size_t sig_len = 0, n, cap;
	int rc = BERTH_E_NOMEM;

	*out = NULL;
	if (!k->signing)
		return BERTH_E_UNSUPPORTED;
	header = json_pack("{s:s, s:s, s:s}", "typ", "JWT", "alg", k->signing_alg->name, "kid",
			   k->signing_kid);
	if (!header || b64url_json(header, &h64) < 0 || b64url_json(claims, &c64) < 0)
		goto out;
	cap = strlen(h64) + strlen(c64) + 2 + SIG_MAX * 4 / 3 + 4;
	token = malloc(cap);
	if (!token)
		goto out;
	n = (size_t)snprintf(token, cap, "%s.%s", h64, c64);
	rc = sign_bytes(k, token, n, sig, &sig_len);
	if (rc < 0)
		goto out;
	token[n++] = '.';
	if (atok_b64url_encode(sig, sig_len, token + n, cap - n) < 0) {
		rc = BERTH_E_INTERNAL;
		goto out;
	}
	*out = token;
	token = NULL;
	rc = 0;
out:
	free(token);
	free(h64);
	free(c64);
	json_decref(header);
	return rc;
}

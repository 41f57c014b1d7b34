/*
 * test_jwt.c - the JWT verifier and signer, the key ids and the encodings
 * they rest on: every refusal the verifier owes (alg none, HS256 with the
 * public key, tampering, time window, issuer, audience, kid, key kind),
 * RFC 7638's own thumbprint example, and JWKS keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>

#include "auth_token.h"
#include "test.h"

#define NOW 1800000000

static const char *const issuer = "test-issuer";
static const char *const service = "test-service";

static atok_verify_opts opts(const atok_keys *k)
{
	atok_verify_opts o = {.keys = k, .algs = ATOK_ALGS_ALL, .issuer = issuer,
			      .audience = service, .leeway_s = 60, .now_s = NOW};
	return o;
}

static void use_signing_key(atok_keys *k, EVP_PKEY *key)
{
	k->signing = key;
	k->signing_alg = atok_alg_for_key(key);
	atok_key_thumbprint(key, 1, k->signing_kid, sizeof(k->signing_kid));
	atok_keys_trust(k, k->signing_kid, key);
}

static json_t *claims_at(int64_t exp, int64_t nbf, int64_t iat)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:[{s:s, s:s, s:[s, s]}]}", "iss",
			 issuer, "sub", "alice", "aud", service, "exp", (json_int_t)exp, "nbf",
			 (json_int_t)nbf, "iat", (json_int_t)iat, "access", "type", "repository",
			 "name", "team/app", "actions", "pull", "push");
}

static char *signed_token(const atok_keys *k, json_t *claims)
{
	char *token = NULL;

	CHECK_INT(atok_jwt_sign(k, claims, &token), 0);
	json_decref(claims);
	return token;
}

/* 0 when the token verifies; the reason goes to *why. */
static int verify(const atok_keys *k, const char *token, const atok_verify_opts *o, char *why)
{
	atok_claims *c = NULL;
	int rc = atok_jwt_verify(token, strlen(token), o, &c, why, 160);

	atok_claims_put(c);
	return rc;
}

static char *b64url_text(const char *text)
{
	static char out[4][2048];
	static int next;
	char *o = out[next++ % 4];

	atok_b64url_encode((const unsigned char *)text, strlen(text), o, 2048);
	return o;
}

static void test_round_trip(EVP_PKEY *key, const char *alg)
{
	atok_keys k = {0};
	atok_verify_opts o;
	atok_claims *c = NULL;
	char why[160] = "", *token;

	use_signing_key(&k, key);
	CHECK_STR(k.signing_alg->name, alg);
	o = opts(&k);
	token = signed_token(&k, claims_at(NOW + 300, NOW, NOW));
	CHECK_INT(atok_jwt_verify(token, strlen(token), &o, &c, why, sizeof(why)), 0);
	CHECK(c && c->own);
	if (c) {
		CHECK_STR(c->sub, "alice");
		CHECK_INT(c->exp, NOW + 300);
		CHECK(atok_access_list_allows(&c->access, "repository", "team/app", "push"));
		CHECK(!atok_access_list_allows(&c->access, "repository", "team/app", "delete"));
		CHECK(!atok_access_list_allows(&c->access, "repository", "team/other", "pull"));
	}
	atok_claims_put(c);

	/* Change one character of the payload: the signature no longer matches. */
	{
		char *dot = strchr(token, '.'), was = dot[5];
		dot[5] = was == 'A' ? 'B' : 'A';
		CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
		dot[5] = was;
		CHECK_INT(verify(&k, token, &o, why), 0);
	}
	/* The signature cut short, and one byte too many. */
	{
		size_t len = strlen(token);
		char *longer = malloc(len + 3);
		token[len - 2] = '\0';
		CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
		token[len - 2] = 'A';
		snprintf(longer, len + 3, "%.*sAA", (int)len, token);
		CHECK_INT(verify(&k, longer, &o, why), BERTH_E_UNAUTHORIZED);
		free(longer);
	}
	free(token);
	k.signing = NULL;
	atok_keys_free(&k);
}

static void test_time_and_claims(EVP_PKEY *key)
{
	atok_keys k = {0};
	atok_verify_opts o;
	char why[160], *token;
	json_t *cl;

	use_signing_key(&k, key);
	o = opts(&k);

	token = signed_token(&k, claims_at(NOW - 61, NOW - 400, NOW - 400));
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
	CHECK_STR(why, "expired");
	free(token);
	/* Within the leeway. */
	token = signed_token(&k, claims_at(NOW - 59, NOW - 400, NOW - 400));
	CHECK_INT(verify(&k, token, &o, why), 0);
	free(token);
	token = signed_token(&k, claims_at(NOW + 600, NOW + 61, NOW));
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
	CHECK_STR(why, "not valid yet (nbf)");
	free(token);
	token = signed_token(&k, claims_at(NOW + 600, NOW, NOW + 120));
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
	CHECK_STR(why, "issued in the future (iat)");
	free(token);

	cl = claims_at(NOW + 300, NOW, NOW);
	json_object_set_new(cl, "iss", json_string("someone-else"));
	token = signed_token(&k, cl);
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
	CHECK_STR(why, "wrong issuer");
	free(token);

	cl = claims_at(NOW + 300, NOW, NOW);
	json_object_set_new(cl, "aud", json_string("other-service"));
	token = signed_token(&k, cl);
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
	CHECK_STR(why, "wrong audience");
	free(token);

	/* aud may be a list that holds the service. */
	cl = claims_at(NOW + 300, NOW, NOW);
	json_object_set_new(cl, "aud", json_pack("[s, s]", "x", service));
	token = signed_token(&k, cl);
	CHECK_INT(verify(&k, token, &o, why), 0);
	free(token);

	cl = claims_at(NOW + 300, NOW, NOW);
	json_object_del(cl, "exp");
	token = signed_token(&k, cl);
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
	free(token);

	cl = claims_at(NOW + 300, NOW, NOW);
	json_object_set_new(cl, "access", json_string("everything"));
	token = signed_token(&k, cl);
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
	CHECK_STR(why, "malformed access claim");
	free(token);

	/* A refresh token is no access token, and the other way round. */
	cl = claims_at(NOW + 300, NOW, NOW);
	json_object_set_new(cl, "berth_use", json_string("refresh"));
	json_object_set_new(cl, "berth_pwd", json_string("0011"));
	token = signed_token(&k, cl);
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
	o.refresh = 1;
	CHECK_INT(verify(&k, token, &o, why), 0);
	free(token);
	token = signed_token(&k, claims_at(NOW + 300, NOW, NOW));
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
	free(token);
	o.refresh = 0;

	/* An algorithm switched off by signingalgorithms. */
	o.algs = ATOK_RS256;
	token = signed_token(&k, claims_at(NOW + 300, NOW, NOW));
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
	CHECK_STR(why, "algorithm not accepted");
	free(token);

	k.signing = NULL;
	atok_keys_free(&k);
}

/* Forged headers: alg none, HS256 keyed with the public key, unknown kid, wrong key kind. */
static void test_forgeries(EVP_PKEY *ec, EVP_PKEY *rsa)
{
	atok_keys k = {0};
	atok_verify_opts o;
	char why[160], token[4096], header[512], *payload, *good;
	unsigned char *pub = NULL, mac[64], sig[64];
	unsigned int mac_len = 0;
	int pub_len;

	use_signing_key(&k, ec);
	o = opts(&k);
	good = signed_token(&k, claims_at(NOW + 300, NOW, NOW));
	payload = strchr(good, '.') + 1;
	*strchr(payload, '.') = '\0';

	snprintf(header, sizeof(header), "{\"typ\":\"JWT\",\"alg\":\"none\",\"kid\":\"%s\"}",
		 k.signing_kid);
	snprintf(token, sizeof(token), "%s.%s.", b64url_text(header), payload);
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
	CHECK_STR(why, "algorithm not accepted");

	snprintf(header, sizeof(header), "{\"typ\":\"JWT\",\"alg\":\"HS256\",\"kid\":\"%s\"}",
		 k.signing_kid);
	snprintf(token, sizeof(token), "%s.%s", b64url_text(header), payload);
	pub_len = i2d_PUBKEY(ec, &pub);
	HMAC(EVP_sha256(), pub, pub_len, (unsigned char *)token, strlen(token), mac, &mac_len);
	OPENSSL_free(pub);
	strcat(token, ".");
	atok_b64url_encode(mac, mac_len, token + strlen(token), sizeof(token) - strlen(token));
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
	CHECK_STR(why, "algorithm not accepted");

	snprintf(header, sizeof(header), "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"kid\":\"nobody\"}");
	memset(sig, 1, sizeof(sig));
	snprintf(token, sizeof(token), "%s.%s.", b64url_text(header), payload);
	atok_b64url_encode(sig, sizeof(sig), token + strlen(token), sizeof(token) - strlen(token));
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
	CHECK_STR(why, "signed by an untrusted key (unknown kid)");

	/* RS256 claimed for the EC key's kid. */
	snprintf(header, sizeof(header), "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"%s\"}",
		 k.signing_kid);
	snprintf(token, sizeof(token), "%s.%s.", b64url_text(header), payload);
	atok_b64url_encode(sig, sizeof(sig), token + strlen(token), sizeof(token) - strlen(token));
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
	CHECK_STR(why, "the key does not suit the algorithm");

	/* A key embedded in the header is not trusted for being there. */
	snprintf(header, sizeof(header),
		 "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\"}}");
	snprintf(token, sizeof(token), "%s.%s.AAAA", b64url_text(header), payload);
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);

	snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"kid\":\"%s\",\"crit\":[\"exp\"]}",
		 k.signing_kid);
	snprintf(token, sizeof(token), "%s.%s.AAAA", b64url_text(header), payload);
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
	CHECK_STR(why, "unsupported critical header");

	CHECK_INT(verify(&k, "a.b", &o, why), BERTH_E_UNAUTHORIZED);
	CHECK_INT(verify(&k, "a.b.c.d", &o, why), BERTH_E_UNAUTHORIZED);
	CHECK_INT(verify(&k, "..", &o, why), BERTH_E_UNAUTHORIZED);
	/* Duplicate members are refused rather than read one way or the other. */
	snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"alg\":\"none\"}");
	snprintf(token, sizeof(token), "%s.%s.AAAA", b64url_text(header), payload);
	CHECK_INT(verify(&k, token, &o, why), BERTH_E_UNAUTHORIZED);
	CHECK_STR(why, "malformed token header");

	/* The RSA key, trusted under a kid, checks RS256 tokens it signed. */
	{
		atok_keys rk = {0};
		char *t;
		use_signing_key(&rk, rsa);
		t = signed_token(&rk, claims_at(NOW + 300, NOW, NOW));
		atok_keys_trust(&k, rk.signing_kid, rsa);
		CHECK_INT(verify(&k, t, &o, why), 0);
		free(t);
		rk.signing = NULL;
		atok_keys_free(&rk);
	}
	free(good);
	k.signing = NULL;
	atok_keys_free(&k);
}

/* RFC 7638 section 3.1: the example key and its thumbprint. */
static void test_rfc7638(void)
{
	json_t *jwk = json_pack(
		"{s:s, s:s, s:s}", "kty", "RSA", "e", "AQAB", "n",
		"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
		"BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
		"FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
		"bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw");
	char why[128] = "", tp[64] = "", lt[64] = "";
	EVP_PKEY *key = atok_jwk_key(jwk, why, sizeof(why));

	CHECK(key != NULL);
	if (key) {
		CHECK_INT(atok_key_thumbprint(key, 0, tp, sizeof(tp)), 0);
		CHECK_STR(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
		CHECK_INT(atok_key_libtrust_id(key, lt, sizeof(lt)), 0);
		CHECK_INT(strlen(lt), 59);
		CHECK(lt[4] == ':' && lt[54] == ':');
	}
	EVP_PKEY_free(key);
	json_decref(jwk);
}

/* A verifier that knows the signer only through a JWKS file's kid. */
static void test_jwks(EVP_PKEY *ec)
{
	atok_keys signer = {0}, verifier = {0};
	atok_verify_opts o;
	BIGNUM *x = NULL, *y = NULL;
	unsigned char xb[32], yb[32];
	char xs[64], ys[64], jwks[512], why[160], *token;
	berth_error err = {0};
	atok_claims *c = NULL;

	use_signing_key(&signer, ec);
	EVP_PKEY_get_bn_param(ec, OSSL_PKEY_PARAM_EC_PUB_X, &x);
	EVP_PKEY_get_bn_param(ec, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
	BN_bn2binpad(x, xb, 32);
	BN_bn2binpad(y, yb, 32);
	atok_b64url_encode(xb, 32, xs, sizeof(xs));
	atok_b64url_encode(yb, 32, ys, sizeof(ys));
	snprintf(jwks, sizeof(jwks),
		 "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"%s\","
		 "\"y\":\"%s\",\"use\":\"sig\"}]}",
		 signer.signing_kid, xs, ys);
	CHECK_INT(atok_keys_add_jwks(&verifier, jwks, strlen(jwks), &err), 0);
	o = opts(&verifier);
	token = signed_token(&signer, claims_at(NOW + 300, NOW, NOW));
	CHECK_INT(atok_jwt_verify(token, strlen(token), &o, &c, why, sizeof(why)), 0);
	CHECK(c && !c->own);
	atok_claims_put(c);
	free(token);

	/* A point off the curve, a missing kid, an unknown curve, no keys at all. */
	ys[3] = ys[3] == 'A' ? 'B' : 'A';
	snprintf(jwks, sizeof(jwks),
		 "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k\",\"x\":\"%s\",\"y\":\"%s\"}]}",
		 xs, ys);
	CHECK(atok_keys_add_jwks(&verifier, jwks, strlen(jwks), &err) < 0);
	CHECK(atok_keys_add_jwks(&verifier, "{\"keys\":[{\"kty\":\"EC\"}]}", 24, &err) < 0);
	CHECK(atok_keys_add_jwks(&verifier, "{\"keys\":[]}", 11, &err) < 0);
	CHECK(atok_keys_add_jwks(&verifier, "[]", 2, &err) < 0);
	CHECK(atok_keys_add_jwks(&verifier,
				 "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"}]}", 50,
				 &err) < 0);
	BN_free(x);
	BN_free(y);
	signer.signing = NULL;
	atok_keys_free(&signer);
	atok_keys_free(&verifier);
}

static void test_encodings(void)
{
	unsigned char buf[64];
	char text[128];
	int64_t t;

	CHECK_INT(atok_b64url_decode("aGk", 3, buf, sizeof(buf)), 2);
	CHECK(memcmp(buf, "hi", 2) == 0);
	CHECK_INT(atok_b64url_decode("aGk=", 4, buf, sizeof(buf)), -1);  /* padding */
	CHECK_INT(atok_b64url_decode("aGl", 3, buf, sizeof(buf)), -1);   /* stray bits */
	CHECK_INT(atok_b64url_decode("a+k", 3, buf, sizeof(buf)), -1);
	CHECK_INT(atok_b64url_decode("a", 1, buf, sizeof(buf)), -1);
	CHECK_INT(atok_b64_decode("aGk=", 4, buf, sizeof(buf)), 2);
	CHECK_INT(atok_b64_decode("aGk", 3, buf, sizeof(buf)), -1);
	CHECK_INT(atok_b64_decode("YWxpY2U6c2VjcmV0", 16, buf, sizeof(buf)), 12);
	CHECK_INT(atok_b64url_encode((const unsigned char *)"hi?", 3, text, sizeof(text)), 4);
	CHECK_STR(text, "aGk_");
	CHECK_INT(atok_b32_encode((const unsigned char *)"foobar", 6, text, sizeof(text)), 10);
	CHECK_STR(text, "MZXW6YTBOI");

	CHECK_INT(atok_form_value("a=1&scope=x%20y&scope=z+w&e", 27, "scope", 0, text, 64), 1);
	CHECK_STR(text, "x y");
	CHECK_INT(atok_form_value("a=1&scope=x%20y&scope=z+w&e", 27, "scope", 1, text, 64), 1);
	CHECK_STR(text, "z w");
	CHECK_INT(atok_form_value("a=1&scope=x%20y&scope=z+w&e", 27, "scope", 2, text, 64), 0);
	CHECK_INT(atok_form_value("a=1&e", 5, "e", 0, text, 64), 1);
	CHECK_STR(text, "");
	CHECK_INT(atok_form_value("a=%zz", 5, "a", 0, text, 64), -1);
	CHECK_INT(atok_form_value("a=%2", 4, "a", 0, text, 64), -1);
	CHECK_INT(atok_form_value("a=%00", 5, "a", 0, text, 64), -1);
	CHECK_INT(atok_form_value("a=12345", 7, "a", 0, text, 4), -1);
	CHECK_INT(atok_form_value("gr%61nt_type=password", 21, "grant_type", 0, text, 64), 1);

	atok_rfc3339(0, text, sizeof(text));
	CHECK_STR(text, "1970-01-01T00:00:00Z");
	CHECK_INT(atok_rfc3339_parse("2026-12-31T23:59:59Z", &t), 0);
	CHECK_INT(t, 1798761599);
	CHECK_INT(atok_rfc3339_parse("2026-12-31T23:59:59.5+01:00", &t), 0);
	CHECK_INT(t, 1798761599 - 3600);
	CHECK_INT(atok_rfc3339_parse("2024-02-29T00:00:00Z", &t), 0);
	CHECK_INT(atok_rfc3339_parse("2026-13-01T00:00:00Z", &t), -1);
	CHECK_INT(atok_rfc3339_parse("2026-12-31", &t), -1);
	CHECK_INT(atok_rfc3339_parse("2026-12-31T23:59:59", &t), -1);
	CHECK_INT(atok_rfc3339_parse("2026-12-31T23:59:59Zjunk", &t), -1);

	CHECK(atok_same_bytes("abc", 3, "abc", 3));
	CHECK(!atok_same_bytes("abc", 3, "abd", 3));
	CHECK(!atok_same_bytes("abc", 3, "abcd", 4));
	CHECK(!atok_same_bytes("", 0, "a", 1));
}

static void test_scopes(void)
{
	atok_access_list l = {0};
	size_t bad = 0;
	char text[256];

	CHECK_INT(atok_scope_parse("repository:team/app:pull,push registry:catalog:*  "
				   "repository(plugin):vieux/sshfs:pull "
				   "repository:localhost:5000/foo:pull bogus repository::pull "
				   "repository:x:pu\"ll",
				   &l, &bad),
		  0);
	CHECK_INT(bad, 3);
	CHECK_INT(l.n, 4);
	CHECK(atok_access_list_allows(&l, "repository", "team/app", "push"));
	CHECK(atok_access_list_allows(&l, "registry", "catalog", "pull")); /* "*" covers */
	CHECK(atok_access_list_allows(&l, "repository", "vieux/sshfs", "pull"));
	CHECK(atok_access_list_allows(&l, "repository", "localhost:5000/foo", "pull"));
	CHECK(!atok_access_list_allows(&l, "repository", "team/app", "delete"));
	CHECK_INT(atok_access_list_scope(&l, text, sizeof(text)), 0);
	CHECK_STR(text, "repository:team/app:pull,push registry:catalog:* "
			"repository:vieux/sshfs:pull repository:localhost:5000/foo:pull");
	CHECK_INT(atok_access_list_scope(&l, text, 20), -1);
	atok_access_list_free(&l);
}

int main(void)
{
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ec384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);

	CHECK(ec && ec384 && rsa);
	test_round_trip(ec, "ES256");
	test_round_trip(ec384, "ES384");
	test_round_trip(rsa, "RS256");
	test_time_and_claims(ec);
	test_forgeries(ec, rsa);
	test_rfc7638();
	test_jwks(ec);
	test_encodings();
	test_scopes();
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ec384);
	EVP_PKEY_free(rsa);
	TEST_MAIN_END();
}

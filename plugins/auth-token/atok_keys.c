/*
 * atok_keys.c - the keys tokens are signed and checked with: the own
 * signing key, the keys a rootcertbundle and a JWKS file make trusted, and
 * the x5c chains external token servers put in token headers.
 *
 * A key is trusted under every kid Distribution has ever accepted for it
 * (token-auth.md section 7): a JWKS key under its own "kid"; a
 * rootcertbundle key under its RFC 7638 thumbprint (both the strict one and
 * Distribution's, which drops leading zero bytes of EC coordinates) and
 * under its libtrust fingerprint (distribution 2.x, docker_auth, older
 * Harbor).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "auth_token.h"

#define JWKS_FILE_MAX (1024 * 1024)
#define X5C_MAX_CERTS 10
#define CERT_DER_MAX 16384

static const atok_alg_info algs[] = {
	{"RS256", ATOK_RS256, 0, "SHA256", NULL, 0},
	{"RS384", ATOK_RS384, 0, "SHA384", NULL, 0},
	{"RS512", ATOK_RS512, 0, "SHA512", NULL, 0},
	{"ES256", ATOK_ES256, 1, "SHA256", "prime256v1", 32},
	{"ES384", ATOK_ES384, 1, "SHA384", "secp384r1", 48},
	{"ES512", ATOK_ES512, 1, "SHA512", "secp521r1", 66},
};

/* JWK "crv" names of the curves above. */
static const struct {
	const char *jwk;
	const char *group;
	size_t coord_len;
} curves[] = {
	{"P-256", "prime256v1", 32},
	{"P-384", "secp384r1", 48},
	{"P-521", "secp521r1", 66},
};

const atok_alg_info *atok_alg_by_name(const char *name)
{
	for (size_t i = 0; name && i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(algs[i].name, name) == 0)
			return &algs[i];
	return NULL;
}

static int key_group(EVP_PKEY *key, char *out, size_t cap)
{
	size_t len = 0;

	if (!EVP_PKEY_is_a(key, "EC") ||
	    EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, out, cap, &len) != 1)
		return -1;
	return 0;
}

const atok_alg_info *atok_alg_for_key(EVP_PKEY *key)
{
	char group[64];

	if (!key)
		return NULL;
	if (EVP_PKEY_is_a(key, "RSA"))
		return &algs[0];
	if (key_group(key, group, sizeof(group)) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].curve && strcmp(algs[i].curve, group) == 0)
			return &algs[i];
	return NULL;
}

int atok_key_fits(EVP_PKEY *key, const atok_alg_info *alg)
{
	char group[64];

	if (!key || !alg)
		return 0;
	if (!alg->ec)
		return EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048;
	return key_group(key, group, sizeof(group)) == 0 && strcmp(group, alg->curve) == 0;
}

static const char *jwk_curve(const char *group, size_t *coord_len)
{
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (strcmp(curves[i].group, group) == 0) {
			*coord_len = curves[i].coord_len;
			return curves[i].jwk;
		}
	return NULL;
}

void atok_keys_free(atok_keys *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->signing);
	for (size_t i = 0; i < k->n_trusted; i++) {
		free(k->trusted[i].kid);
		EVP_PKEY_free(k->trusted[i].key);
	}
	free(k->trusted);
	X509_STORE_free(k->roots);
	memset(k, 0, sizeof(*k));
}

int atok_keys_trust(atok_keys *k, const char *kid, EVP_PKEY *key)
{
	atok_trusted_key *v;
	char *copy;

	for (size_t i = 0; i < k->n_trusted; i++)
		if (strcmp(k->trusted[i].kid, kid) == 0)
			return 0;
	copy = strdup(kid);
	v = copy ? realloc(k->trusted, (k->n_trusted + 1) * sizeof(*v)) : NULL;
	if (!v) {
		free(copy);
		return BERTH_E_NOMEM;
	}
	k->trusted = v;
	EVP_PKEY_up_ref(key);
	v[k->n_trusted].kid = copy;
	v[k->n_trusted].key = key;
	k->n_trusted++;
	return 0;
}

EVP_PKEY *atok_keys_find(const atok_keys *k, const char *kid)
{
	for (size_t i = 0; kid && i < k->n_trusted; i++)
		if (strcmp(k->trusted[i].kid, kid) == 0)
			return k->trusted[i].key;
	return NULL;
}

/* base64url of a big number: minimal (len 0) or left-padded to len bytes. */
static int bn_b64url(const BIGNUM *bn, size_t len, char *out, size_t cap)
{
	unsigned char buf[1024];
	int n;

	if (len == 0)
		len = (size_t)BN_num_bytes(bn);
	if (len == 0 || len > sizeof(buf))
		return -1;
	n = BN_bn2binpad(bn, buf, (int)len);
	if (n < 0)
		return -1;
	return atok_b64url_encode(buf, (size_t)n, out, cap) < 0 ? -1 : 0;
}

static int sha256_b64url(const char *text, char *out, size_t cap)
{
	unsigned char md[32];
	unsigned int md_len = 0;

	if (EVP_Digest(text, strlen(text), md, &md_len, EVP_sha256(), NULL) != 1)
		return -1;
	return atok_b64url_encode(md, md_len, out, cap) < 0 ? -1 : 0;
}

int atok_key_thumbprint(EVP_PKEY *key, int trim, char *out, size_t cap)
{
	char a[1400], b[1400], json[3000], group[64];
	BIGNUM *x = NULL, *y = NULL;
	int rc = -1;

	if (EVP_PKEY_is_a(key, "RSA")) {
		if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &x) != 1 ||
		    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &y) != 1 ||
		    bn_b64url(y, 0, a, sizeof(a)) < 0 || bn_b64url(x, 0, b, sizeof(b)) < 0)
			goto out;
		/* RFC 7638: the required members, sorted, no white space. */
		snprintf(json, sizeof(json), "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", a, b);
	} else {
		size_t coord_len = 0;
		const char *crv;

		if (key_group(key, group, sizeof(group)) < 0 ||
		    !(crv = jwk_curve(group, &coord_len)) ||
		    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
		    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
		    bn_b64url(x, trim ? 0 : coord_len, a, sizeof(a)) < 0 ||
		    bn_b64url(y, trim ? 0 : coord_len, b, sizeof(b)) < 0)
			goto out;
		snprintf(json, sizeof(json), "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
			 crv, a, b);
	}
	rc = sha256_b64url(json, out, cap);
out:
	BN_free(x);
	BN_free(y);
	return rc;
}

int atok_key_libtrust_id(EVP_PKEY *key, char *out, size_t cap)
{
	unsigned char *der = NULL, md[32];
	unsigned int md_len = 0;
	char b32[64];
	int der_len, ok;
	size_t n = 0;

	der_len = i2d_PUBKEY(key, &der);
	if (der_len <= 0)
		return -1;
	ok = EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_sha256(), NULL) == 1;
	OPENSSL_free(der);
	/* The first 240 bits, base32: 48 characters in 12 groups of 4. */
	if (!ok || atok_b32_encode(md, 30, b32, sizeof(b32)) != 48 || cap < 60)
		return -1;
	for (int i = 0; i < 48; i++) {
		if (i > 0 && i % 4 == 0)
			out[n++] = ':';
		out[n++] = b32[i];
	}
	out[n] = '\0';
	return 0;
}

int atok_keys_load_signing(atok_keys *k, const char *path, berth_error *err)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *key;

	if (!f)
		return atok_fail(err, BERTH_E_CONFIG, "signing_key '%s': cannot open it", path);
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!key)
		return atok_fail(err, BERTH_E_CONFIG,
				 "signing_key '%s': not a PEM private key (or it is encrypted)", path);
	k->signing_alg = atok_alg_for_key(key);
	if (!k->signing_alg || !atok_key_fits(key, k->signing_alg)) {
		EVP_PKEY_free(key);
		return atok_fail(err, BERTH_E_CONFIG,
				 "signing_key '%s': need an RSA key of at least 2048 bits or an EC "
				 "key on P-256, P-384 or P-521",
				 path);
	}
	/* Distribution's form of the thumbprint, so a Distribution that trusts
	 * our certificate in its rootcertbundle finds the key by kid too. */
	if (atok_key_thumbprint(key, 1, k->signing_kid, sizeof(k->signing_kid)) < 0 ||
	    atok_keys_trust(k, k->signing_kid, key) < 0) {
		EVP_PKEY_free(key);
		return atok_fail(err, BERTH_E_INTERNAL, "signing_key '%s': cannot compute its kid", path);
	}
	k->signing = key;
	return 0;
}

/* Trust a certificate's key under each kid form. */
static int trust_cert_key(atok_keys *k, X509 *cert)
{
	EVP_PKEY *key = X509_get0_pubkey(cert);
	char kid[80];

	if (!key)
		return -1;
	if (atok_key_thumbprint(key, 1, kid, sizeof(kid)) < 0 || atok_keys_trust(k, kid, key) < 0)
		return -1;
	if (atok_key_thumbprint(key, 0, kid, sizeof(kid)) < 0 || atok_keys_trust(k, kid, key) < 0)
		return -1;
	if (atok_key_libtrust_id(key, kid, sizeof(kid)) < 0 || atok_keys_trust(k, kid, key) < 0)
		return -1;
	return 0;
}

int atok_keys_load_roots(atok_keys *k, const char *path, berth_error *err)
{
	FILE *f = fopen(path, "r");
	X509 *cert;
	int rc = 0;

	if (!f)
		return atok_fail(err, BERTH_E_CONFIG, "rootcertbundle '%s': cannot open it", path);
	if (!k->roots && !(k->roots = X509_STORE_new())) {
		fclose(f);
		return atok_fail(err, BERTH_E_NOMEM, "out of memory");
	}
	while (rc == 0 && (cert = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(k->roots, cert) != 1 || trust_cert_key(k, cert) < 0)
			rc = atok_fail(err, BERTH_E_CONFIG,
				       "rootcertbundle '%s': certificate %zu has a key Berth cannot use",
				       path, k->n_roots + 1);
		else
			k->n_roots++;
		X509_free(cert);
	}
	fclose(f);
	if (rc == 0 && k->n_roots == 0)
		rc = atok_fail(err, BERTH_E_CONFIG, "rootcertbundle '%s': no PEM certificate in it",
			       path);
	return rc;
}

static BIGNUM *b64url_bn(const json_t *jwk, const char *member, size_t max)
{
	const char *text = json_string_value(json_object_get(jwk, member));
	unsigned char buf[1024];
	long n;

	if (!text || strlen(text) > 2 * sizeof(buf))
		return NULL;
	n = atok_b64url_decode(text, strlen(text), buf, sizeof(buf));
	if (n <= 0 || (size_t)n > max)
		return NULL;
	return BN_bin2bn(buf, (int)n, NULL);
}

static EVP_PKEY *key_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY_CTX *check = NULL;
	EVP_PKEY *key = NULL;

	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	/* A point that is not on the curve would make verification meaningless. */
	check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!check || EVP_PKEY_public_check(check) != 1) {
		EVP_PKEY_free(key);
		key = NULL;
	}
out:
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return key;
}

EVP_PKEY *atok_jwk_key(const json_t *jwk, char *why, size_t cap)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *a = NULL, *b = NULL;
	EVP_PKEY *key = NULL;

	if (!bld) {
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	if (kty && strcmp(kty, "RSA") == 0) {
		a = b64url_bn(jwk, "n", 1024);
		b = b64url_bn(jwk, "e", 8);
		if (!a || !b || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, a) != 1 ||
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, b) != 1) {
			snprintf(why, cap, "RSA key without valid n and e");
			goto out;
		}
		key = key_from_params("RSA", bld);
		if (key && EVP_PKEY_get_bits(key) < 2048) {
			EVP_PKEY_free(key);
			key = NULL;
			snprintf(why, cap, "RSA key shorter than 2048 bits");
			goto out;
		}
	} else if (kty && strcmp(kty, "EC") == 0) {
		const char *crv = json_string_value(json_object_get(jwk, "crv"));
		unsigned char point[1 + 2 * 66];
		size_t i, coord_len = 0;

		for (i = 0; crv && i < sizeof(curves) / sizeof(curves[0]); i++)
			if (strcmp(curves[i].jwk, crv) == 0)
				break;
		if (!crv || i == sizeof(curves) / sizeof(curves[0])) {
			snprintf(why, cap, "EC key on an unsupported curve");
			goto out;
		}
		coord_len = curves[i].coord_len;
		a = b64url_bn(jwk, "x", coord_len);
		b = b64url_bn(jwk, "y", coord_len);
		if (!a || !b || BN_bn2binpad(a, point + 1, (int)coord_len) < 0 ||
		    BN_bn2binpad(b, point + 1 + coord_len, (int)coord_len) < 0) {
			snprintf(why, cap, "EC key without valid x and y");
			goto out;
		}
		point[0] = 0x04;
		if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
						    curves[i].group, 0) != 1 ||
		    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
						     1 + 2 * coord_len) != 1)
			goto out;
		key = key_from_params("EC", bld);
	} else {
		snprintf(why, cap, "unsupported key type (kty RSA or EC)");
		goto out;
	}
	if (!key)
		snprintf(why, cap, "the key's numbers do not make a valid public key");
out:
	BN_free(a);
	BN_free(b);
	OSSL_PARAM_BLD_free(bld);
	return key;
}

int atok_keys_add_jwks(atok_keys *k, const char *text, size_t len, berth_error *err)
{
	json_error_t jerr;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr), *keys, *jwk;
	size_t i, added = 0;
	int rc = 0;

	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys)) {
		rc = atok_fail(err, BERTH_E_CONFIG, "not a JWKS document ({\"keys\":[...]})");
		goto out;
	}
	json_array_foreach(keys, i, jwk) {
		const char *kid = json_string_value(json_object_get(jwk, "kid"));
		const char *use = json_string_value(json_object_get(jwk, "use"));
		char why[128] = "";
		EVP_PKEY *key;

		if (use && strcmp(use, "sig") != 0)
			continue;
		if (!kid || !kid[0] || strlen(kid) > 200) {
			rc = atok_fail(err, BERTH_E_CONFIG, "key %zu has no kid", i + 1);
			goto out;
		}
		key = atok_jwk_key(jwk, why, sizeof(why));
		if (!key) {
			rc = atok_fail(err, BERTH_E_CONFIG, "key '%s': %s", kid, why);
			goto out;
		}
		rc = atok_keys_trust(k, kid, key);
		EVP_PKEY_free(key);
		if (rc < 0) {
			atok_fail(err, rc, "out of memory");
			goto out;
		}
		added++;
	}
	if (added == 0)
		rc = atok_fail(err, BERTH_E_CONFIG, "no signing key in it");
out:
	json_decref(doc);
	return rc;
}

int atok_keys_load_jwks(atok_keys *k, const char *path, berth_error *err)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!f)
		return atok_fail(err, BERTH_E_CONFIG, "jwks '%s': cannot open it", path);
	text = malloc(JWKS_FILE_MAX + 1);
	if (!text) {
		fclose(f);
		return atok_fail(err, BERTH_E_NOMEM, "out of memory");
	}
	len = fread(text, 1, JWKS_FILE_MAX + 1, f);
	fclose(f);
	if (len > JWKS_FILE_MAX) {
		free(text);
		return atok_fail(err, BERTH_E_CONFIG, "jwks '%s': larger than %d bytes", path,
				 JWKS_FILE_MAX);
	}
	rc = atok_keys_add_jwks(k, text, len, err);
	free(text);
	if (rc < 0 && err) {
		char msg[BERTH_ERROR_MESSAGE_MAX];
		snprintf(msg, sizeof(msg), "%s", err->message);
		atok_fail(err, rc, "jwks '%s': %.400s", path, msg);
	}
	return rc;
}

static X509 *cert_from_b64(const char *text)
{
	unsigned char *der;
	const unsigned char *p;
	X509 *cert = NULL;
	long n;

	if (!text || strlen(text) > CERT_DER_MAX * 4 / 3 + 4)
		return NULL;
	der = malloc(CERT_DER_MAX);
	if (!der)
		return NULL;
	n = atok_b64_decode(text, strlen(text), der, CERT_DER_MAX);
	if (n > 0) {
		p = der;
		cert = d2i_X509(NULL, &p, n);
		if (cert && p != der + n) {
			X509_free(cert);
			cert = NULL;
		}
	}
	free(der);
	return cert;
}

EVP_PKEY *atok_x5c_key(const atok_keys *k, const json_t *x5c, int64_t now_s, char *why,
		       size_t cap)
{
	STACK_OF(X509) *chain = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509 *leaf = NULL;
	EVP_PKEY *key = NULL;
	size_t n = json_array_size(x5c);

	if (!k->roots) {
		snprintf(why, cap, "x5c header but no rootcertbundle to check it");
		return NULL;
	}
	if (!json_is_array(x5c) || n == 0 || n > X5C_MAX_CERTS) {
		snprintf(why, cap, "malformed x5c header");
		return NULL;
	}
	leaf = cert_from_b64(json_string_value(json_array_get(x5c, 0)));
	chain = sk_X509_new_null();
	if (!leaf || !chain) {
		snprintf(why, cap, "malformed x5c certificate");
		goto out;
	}
	for (size_t i = 1; i < n; i++) {
		X509 *c = cert_from_b64(json_string_value(json_array_get(x5c, i)));
		if (!c || !sk_X509_push(chain, c)) {
			X509_free(c);
			snprintf(why, cap, "malformed x5c certificate");
			goto out;
		}
	}
	ctx = X509_STORE_CTX_new();
	if (!ctx || X509_STORE_CTX_init(ctx, k->roots, leaf, chain) != 1) {
		snprintf(why, cap, "out of memory");
		goto out;
	}
	/* The same clock as the claims; any extended key usage is accepted, as Distribution does. */
	X509_STORE_CTX_set_time(ctx, 0, (time_t)now_s);
	if (X509_verify_cert(ctx) != 1) {
		snprintf(why, cap, "x5c chain not trusted: %s",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	key = X509_get_pubkey(leaf);
	if (!key)
		snprintf(why, cap, "x5c leaf has no usable key");
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	return key;
}

/*
 * test_verify.c - unit tests of signature checks and the verdict cache:
 * keys of each kind made here with OpenSSL, written as PEM, loaded the way
 * the config loads them, and signatures checked against tampered messages,
 * other keys and garbage; keys cosign cannot use are refused. Then the
 * cache: a changed signature set misses, the least recently used entry
 * goes first. Then policy matching and the bypass lists.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sig.h"
#include "test.h"

static char dir[] = "/tmp/policy-signature-unit.XXXXXX";

static EVP_PKEY *make_key(const char *alg, const char *param, const char *value)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
	EVP_PKEY *pk = NULL;

	if (!ctx || EVP_PKEY_keygen_init(ctx) != 1)
		goto out;
	if (param && strcmp(param, "bits") == 0)
		EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, atoi(value));
	else if (param)
		EVP_PKEY_CTX_set_group_name(ctx, value);
	EVP_PKEY_generate(ctx, &pk);
out:
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

/* The public half as PEM in dir/name; returns the path (static buffer per call site). */
static const char *write_pub(EVP_PKEY *pk, const char *name, char *path, size_t cap)
{
	FILE *f;

	snprintf(path, cap, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return NULL;
	PEM_write_PUBKEY(f, pk);
	fclose(f);
	return path;
}

/* A signature of msg the way cosign makes it, base64 encoded (malloc'd). */
static char *sign_b64(EVP_PKEY *pk, const char *msg)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[1024];
	size_t len = sizeof(sig);
	char *out = malloc(2048);
	int ed = EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519;

	EVP_DigestSignInit(ctx, NULL, ed ? NULL : EVP_sha256(), NULL, pk);
	EVP_DigestSign(ctx, sig, &len, (const unsigned char *)msg, strlen(msg));
	EVP_EncodeBlock((unsigned char *)out, sig, (int)len);
	EVP_MD_CTX_free(ctx);
	return out;
}

static void check_kind(EVP_PKEY *pk, EVP_PKEY *other, const char *name, int kind)
{
	const char *msg = "{\"critical\":{}}";
	char path[300], why[400], *sig = sign_b64(pk, msg), *osig = sign_b64(other, msg);
	sig_key k;

	CHECK_INT(sig_key_load(write_pub(pk, name, path, sizeof(path)), &k, why, sizeof(why)), 0);
	CHECK_INT(k.kind, kind);
	CHECK_INT(sig_key_verify(&k, msg, strlen(msg), sig), 1);
	/* One byte changed in the message. */
	CHECK_INT(sig_key_verify(&k, "{\"critical\":{ }", strlen(msg), sig), 0);
	/* Signed by a key of the same kind that is not trusted. */
	CHECK_INT(sig_key_verify(&k, msg, strlen(msg), osig), 0);
	CHECK_INT(sig_key_verify(&k, msg, strlen(msg), "AAAA"), 0);
	CHECK_INT(sig_key_verify(&k, msg, strlen(msg), "not base64!"), 0);
	CHECK_INT(sig_key_verify(&k, msg, strlen(msg), ""), 0);
	CHECK_INT(sig_key_verify(&k, msg, strlen(msg), NULL), 0);
	sig_key_clear(&k);
	free(sig);
	free(osig);
}

static void test_keys(void)
{
	EVP_PKEY *p256 = make_key("EC", "group", "P-256"), *p256b = make_key("EC", "group", "P-256");
	EVP_PKEY *ed = make_key("ED25519", NULL, NULL), *edb = make_key("ED25519", NULL, NULL);
	EVP_PKEY *rsa = make_key("RSA", "bits", "2048"), *rsab = make_key("RSA", "bits", "2048");
	EVP_PKEY *p384 = make_key("EC", "group", "P-384"), *rsa1k = make_key("RSA", "bits", "1024");
	char path[300], why[400];
	sig_key k;
	FILE *f;

	CHECK(p256 && ed && rsa && p384 && rsa1k);
	check_kind(p256, p256b, "p256.pub", SIG_KEY_ECDSA_P256);
	check_kind(ed, edb, "ed.pub", SIG_KEY_ED25519);
	check_kind(rsa, rsab, "rsa.pub", SIG_KEY_RSA);

	CHECK_INT(sig_key_load(write_pub(p384, "p384.pub", path, sizeof(path)), &k, why,
			       sizeof(why)), BERTH_E_CONFIG);
	CHECK(strstr(why, "P-256") != NULL);
	CHECK_INT(sig_key_load(write_pub(rsa1k, "rsa1k.pub", path, sizeof(path)), &k, why,
			       sizeof(why)), BERTH_E_CONFIG);
	CHECK(strstr(why, "1024 bits") != NULL);
	snprintf(path, sizeof(path), "%s/absent.pub", dir);
	CHECK_INT(sig_key_load(path, &k, why, sizeof(why)), BERTH_E_CONFIG);
	CHECK(strstr(why, "cannot read key") != NULL);
	snprintf(path, sizeof(path), "%s/garbage.pub", dir);
	f = fopen(path, "w");
	if (f) {
		fputs("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", f);
		fclose(f);
	}
	CHECK_INT(sig_key_load(path, &k, why, sizeof(why)), BERTH_E_CONFIG);
	CHECK(strstr(why, "not a PEM public key") != NULL);
	/* A private key file is refused: configs name public keys only. */
	snprintf(path, sizeof(path), "%s/private.pem", dir);
	f = fopen(path, "w");
	if (f) {
		PEM_write_PrivateKey(f, p256, NULL, NULL, 0, NULL, NULL);
		fclose(f);
	}
	CHECK_INT(sig_key_load(path, &k, why, sizeof(why)), BERTH_E_CONFIG);

	EVP_PKEY_free(p256);
	EVP_PKEY_free(p256b);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(edb);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsab);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(rsa1k);
}

static void test_cache(void)
{
	sig_cache *c = sig_cache_new(2);
	sig_cache_key_state a = {.sig_manifest = "sha256:aa"}, b = {.sig_manifest = "sha256:bb"};
	sig_cache_key_state g1 = {.used_graph = 1, .graph_stamp = 7};
	sig_cache_key_state g2 = {.used_graph = 1, .graph_stamp = 8};
	sig_verdict v = {.result = SIG_VALID, .message = "ok"}, out;
	uint64_t hits, misses;

	CHECK(c != NULL);
	CHECK_INT(sig_cache_get(c, "k1", &a, &out), 0);
	sig_cache_put(c, "k1", &a, &v);
	CHECK_INT(sig_cache_get(c, "k1", &a, &out), 1);
	CHECK_STR(out.message, "ok");
	/* The .sig tag moved: a miss. */
	CHECK_INT(sig_cache_get(c, "k1", &b, &out), 0);
	/* A new referrer: a miss. */
	sig_cache_put(c, "k2", &g1, &v);
	CHECK_INT(sig_cache_get(c, "k2", &g1, &out), 1);
	CHECK_INT(sig_cache_get(c, "k2", &g2, &out), 0);
	/* Capacity 2: k1 was used before k2, so a third key evicts k1. */
	CHECK_INT(sig_cache_get(c, "k2", &g1, &out), 1);
	sig_cache_put(c, "k3", &a, &v);
	CHECK_INT(sig_cache_get(c, "k1", &a, &out), 0);
	CHECK_INT(sig_cache_get(c, "k2", &g1, &out), 1);
	CHECK_INT(sig_cache_get(c, "k3", &a, &out), 1);
	/* Replacing an entry keeps one entry. */
	v.result = SIG_MISSING;
	sig_cache_put(c, "k3", &b, &v);
	CHECK_INT(sig_cache_get(c, "k3", &b, &out), 1);
	CHECK_INT(out.result, SIG_MISSING);
	CHECK_INT(sig_cache_get(c, "k2", &g1, &out), 1);
	sig_cache_counts(c, &hits, &misses);
	CHECK_INT(hits, 7);
	CHECK_INT(misses, 4);
	sig_cache_free(c);
}

static void test_policies(void)
{
	char *repos_a[] = {"prod/**"}, *repos_b[] = {"**"};
	char *ids[] = {"admin"}, *groups[] = {"release", "sec ops"};
	sig_policy v[2] = {
		{ .name = "a", .repositories = repos_a, .n_repositories = 1,
		  .bypass_identities = ids, .n_bypass_identities = 1,
		  .bypass_groups = groups, .n_bypass_groups = 2 },
		{ .name = "b", .repositories = repos_b, .n_repositories = 1 },
	};

	CHECK_STR(sig_policy_match(v, 2, "prod/app")->name, "a");
	CHECK_STR(sig_policy_match(v, 2, "dev/app")->name, "b");
	CHECK(sig_policy_match(v, 1, "dev/app") == NULL);
	CHECK_INT(sig_policy_bypassed(&v[0], "admin", ""), 1);
	CHECK_INT(sig_policy_bypassed(&v[0], "Admin", ""), 0);
	CHECK_INT(sig_policy_bypassed(&v[0], "", ""), 0);
	CHECK_INT(sig_policy_bypassed(&v[0], "bob", "dev, release"), 1);
	CHECK_INT(sig_policy_bypassed(&v[0], "bob", "dev,sec ops"), 1);
	CHECK_INT(sig_policy_bypassed(&v[0], "bob", "releases,rel"), 0);
	CHECK_INT(sig_policy_bypassed(&v[0], "bob", ",,"), 0);
	CHECK_INT(sig_policy_bypassed(&v[0], NULL, NULL), 0);
	CHECK_INT(sig_policy_bypassed(&v[1], "admin", "release"), 0);
}

int main(void)
{
	char cmd[200];
	int rc;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_keys();
	test_cache();
	test_policies();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	rc = system(cmd);
	(void)rc;
	TEST_MAIN_END();
}

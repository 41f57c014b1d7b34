/*
 * fuzz_auth_token_jwt.c - the JWT verifier on client bytes.
 *
 * The first byte picks what the rest is:
 *   even: a compact token, checked as an access token and as a refresh
 *         token (header, algorithm, kid/jwk/x5c lookup, signature);
 *   odd:  a claims document, signed with the fuzzer's own key and then
 *         verified, so the claim checks (iss, aud, times, access) see
 *         arbitrary JSON behind a good signature.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth_token.h"

static atok_keys keys;

static void setup(void)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	keys.signing = key;
	keys.signing_alg = atok_alg_for_key(key);
	atok_key_thumbprint(key, 1, keys.signing_kid, sizeof(keys.signing_kid));
	atok_keys_trust(&keys, keys.signing_kid, key);
	atok_keys_trust(&keys, "k1", key);
	/* Empty, so x5c chains are parsed and then refused. */
	keys.roots = X509_STORE_new();
}

static void check(const char *token, size_t len, int refresh)
{
	atok_verify_opts o = {.keys = &keys, .algs = ATOK_ALGS_ALL, .issuer = "iss",
			      .audience = "svc", .leeway_s = 60, .now_s = 1800000000,
			      .refresh = refresh};
	atok_claims *c = NULL;
	char why[160];

	if (atok_jwt_verify(token, len, &o, &c, why, sizeof(why)) == 0) {
		atok_access_list_allows(&c->access, "repository", "a", "pull");
		atok_claims_put(c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1;
	json_t *claims;
	char *token = NULL;

	if (!keys.signing)
		setup();
	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		check(text, size - 1, 0);
		check(text, size - 1, 1);
		return 0;
	}
	claims = json_loadb(text, size - 1, 0, NULL);
	if (claims && atok_jwt_sign(&keys, claims, &token) == 0) {
		check(token, strlen(token), 0);
		check(token, strlen(token), 1);
	}
	free(token);
	json_decref(claims);
	return 0;
}

/*
 * sig_keys.c - trusted public keys, and checking a signature with one.
 *
 * Keys are PEM public keys (SubjectPublicKeyInfo, what `cosign
 * generate-key-pair` and `openssl pkey -pubout` write) of the kinds cosign
 * signs with: ECDSA P-256 with SHA-256 (DER signatures), Ed25519 (pure, over
 * the message) and RSA of at least 2048 bits with SHA-256 (PKCS#1 v1.5, as
 * cosign does, or PSS). Anything else is refused when the config is read,
 * so a typo cannot turn into a key that never verifies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "sig.h"

#define SIG_RSA_MIN_BITS 2048
#define SIG_MAX_SIGNATURE 4096   /* bytes of a decoded signature */

const char *sig_key_kind_name(int kind)
{
	switch (kind) {
	case SIG_KEY_ECDSA_P256: return "ECDSA P-256";
	case SIG_KEY_ED25519: return "Ed25519";
	case SIG_KEY_RSA: return "RSA";
	default: return "?";
	}
}

void sig_key_clear(sig_key *k)
{
	EVP_PKEY_free(k->pkey);
	free(k->path);
	memset(k, 0, sizeof(*k));
}

static int ec_is_p256(EVP_PKEY *pk)
{
	char group[64];
	size_t len = 0;

	if (!EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), &len))
		return 0;
	return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

int sig_key_load(const char *path, sig_key *out, char *why, size_t cap)
{
	BIO *bio = NULL;
	EVP_PKEY *pk = NULL;
	int rc = BERTH_E_CONFIG;

	memset(out, 0, sizeof(*out));
	bio = BIO_new_file(path, "r");
	if (!bio) {
		snprintf(why, cap, "cannot read key '%s'", path);
		goto out;
	}
	pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (!pk) {
		snprintf(why, cap, "'%s' is not a PEM public key (BEGIN PUBLIC KEY)", path);
		goto out;
	}
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_EC:
		if (!ec_is_p256(pk)) {
			snprintf(why, cap, "'%s' is an ECDSA key on another curve than P-256", path);
			goto out;
		}
		out->kind = SIG_KEY_ECDSA_P256;
		break;
	case EVP_PKEY_ED25519:
		out->kind = SIG_KEY_ED25519;
		break;
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(pk) < SIG_RSA_MIN_BITS) {
			snprintf(why, cap, "'%s' is an RSA key of %d bits; at least %d are needed",
				 path, EVP_PKEY_get_bits(pk), SIG_RSA_MIN_BITS);
			goto out;
		}
		out->kind = SIG_KEY_RSA;
		break;
	default:
		snprintf(why, cap, "'%s' is a key of a kind cosign does not sign with "
			 "(expected ECDSA P-256, Ed25519 or RSA)", path);
		goto out;
	}
	out->path = strdup(path);
	if (!out->path) {
		snprintf(why, cap, "out of memory");
		rc = BERTH_E_NOMEM;
		goto out;
	}
	out->pkey = pk;
	pk = NULL;
	rc = 0;
out:
	EVP_PKEY_free(pk);
	BIO_free(bio);
	return rc;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+' || c == '-') return 62;
	if (c == '/' || c == '_') return 63;
	return -1;
}

/* Standard or URL-safe alphabet, padding optional, whitespace skipped. */
unsigned char *sig_base64_decode(const char *text, size_t *len)
{
	size_t n = strlen(text), o = 0, pad = 0;
	unsigned acc = 0;
	int bits = 0;
	unsigned char *out = malloc(n / 4 * 3 + 3);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		v = b64_value(c);
		if (v < 0 || pad)
			goto bad;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (pad > 2 || bits >= 6)
		goto bad;
	*len = o;
	return out;
bad:
	free(out);
	return NULL;
}

static int verify_with(EVP_PKEY *pk, const EVP_MD *md, int rsa_padding, const void *msg,
		       size_t msg_len, const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok = 0;

	if (!ctx)
		return 0;
	if (EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pk) != 1)
		goto out;
	if (rsa_padding && (EVP_PKEY_CTX_set_rsa_padding(pctx, rsa_padding) != 1 ||
			    (rsa_padding == RSA_PKCS1_PSS_PADDING &&
			     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1)))
		goto out;
	ok = EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1;
out:
	EVP_MD_CTX_free(ctx);
	return ok;
}

int sig_key_verify(const sig_key *k, const void *msg, size_t msg_len, const char *sig_b64)
{
	unsigned char *sig;
	size_t sig_len = 0;
	int ok = 0;

	if (!k || !k->pkey || !sig_b64)
		return 0;
	sig = sig_base64_decode(sig_b64, &sig_len);
	if (!sig || sig_len == 0 || sig_len > SIG_MAX_SIGNATURE)
		goto out;
	switch (k->kind) {
	case SIG_KEY_ECDSA_P256:
		ok = verify_with(k->pkey, EVP_sha256(), 0, msg, msg_len, sig, sig_len);
		break;
	case SIG_KEY_ED25519:
		ok = verify_with(k->pkey, NULL, 0, msg, msg_len, sig, sig_len);
		break;
	case SIG_KEY_RSA:
		ok = verify_with(k->pkey, EVP_sha256(), RSA_PKCS1_PADDING, msg, msg_len, sig,
				 sig_len) ||
		     verify_with(k->pkey, EVP_sha256(), RSA_PKCS1_PSS_PADDING, msg, msg_len, sig,
				 sig_len);
		break;
	}
out:
	free(sig);
	/* A failed check leaves errors queued on this thread: drop them. */
	ERR_clear_error();
	return ok;
}

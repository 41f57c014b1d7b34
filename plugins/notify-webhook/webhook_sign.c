/*
 * webhook_sign.c - the signature header: HMAC-SHA256 over the exact bytes
 * of the body, keyed with the shared secret, written "sha256=<hex>" (the
 * form GitHub's X-Hub-Signature-256 made familiar, so receivers can reuse
 * their verification code). A receiver recomputes it over the raw body it
 * read, before parsing, and compares in constant time.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "webhook.h"

int webhook_sign(const char *secret, const void *body, size_t len, char *out, size_t cap)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	static const char hex[] = "0123456789abcdef";
	size_t n;

	if (!secret || cap < 7 + 2 * 32 + 1)
		return BERTH_E_INVALID;
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, mac, &mac_len) ||
	    mac_len != 32)
		return BERTH_E_INTERNAL;
	memcpy(out, "sha256=", 7);
	n = 7;
	for (unsigned int i = 0; i < mac_len; i++) {
		out[n++] = hex[mac[i] >> 4];
		out[n++] = hex[mac[i] & 15];
	}
	out[n] = '\0';
	return 0;
}

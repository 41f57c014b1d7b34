/*
 * digest.h - content digests: parsing "alg:hex" strings and hashing bytes.
 *
 * Only sha256 and sha512 are registered by the OCI image spec; any other
 * algorithm that is well-formed by the spec's grammar is reported as
 * unsupported (the client gets UNSUPPORTED), anything else as invalid
 * (DIGEST_INVALID). Hex is always lowercase, as the spec requires.
 */
#ifndef BERTH_DIGEST_H
#define BERTH_DIGEST_H

#include <stddef.h>

enum digest_alg { DIGEST_SHA256 = 0, DIGEST_SHA512 = 1 };

#define DIGEST_HEX_MAX 128
#define DIGEST_STRING_MAX (7 + DIGEST_HEX_MAX + 1) /* "sha512:" + hex + NUL */

/* hex is lowercase and NUL-terminated. */
typedef struct digest {
	int alg;
	char hex[DIGEST_HEX_MAX + 1];
} digest;

/*
 * Parse "sha256:<64 lowercase hex>" or "sha512:<128 lowercase hex>".
 * Uppercase hex, a wrong length, a missing colon or an empty string give
 * BERTH_E_INVALID. A digest that is well-formed by the OCI grammar
 * (algorithm-component [+._-] separators, encoded [a-zA-Z0-9=_-]+) but
 * names another algorithm gives BERTH_E_UNSUPPORTED. *out is written only
 * on success.
 */
int digest_parse(const char *s, digest *out);
/* The same for a string that is not NUL-terminated; a NUL byte is invalid. */
int digest_parse_n(const char *s, size_t len, digest *out);
/* "sha256:abc..."; an empty string when d->alg is not a known algorithm. */
void digest_format(const digest *d, char out[DIGEST_STRING_MAX]);
/* "sha256" / "sha512"; NULL for an unknown algorithm. */
const char *digest_alg_name(int alg);
/* 64 / 128; 0 for an unknown algorithm. */
size_t digest_hex_len(int alg);
/* 1 when both name the same algorithm and hex, 0 otherwise. */
int digest_equal(const digest *a, const digest *b);

/* Incremental hashing with OpenSSL EVP (EVP_sha256 / EVP_sha512). */
typedef struct digest_ctx digest_ctx;

/* NULL on allocation failure or an unknown algorithm. */
digest_ctx *digest_ctx_new(int alg);
/* 0, or BERTH_E_INTERNAL (also after digest_ctx_final). */
int digest_ctx_update(digest_ctx *c, const void *buf, size_t len);
/* May be called once; 0 or BERTH_E_INTERNAL. */
int digest_ctx_final(digest_ctx *c, digest *out);
/*
 * A copy of the running state, so a caller can learn the digest of what was
 * hashed so far and keep hashing (an upload's resumable state). NULL on
 * allocation failure; the copy of a finalised context is finalised too.
 */
digest_ctx *digest_ctx_dup(const digest_ctx *c);
/* Accepts NULL. */
void digest_ctx_free(digest_ctx *c);
/* One-shot hash of buf; 0 or BERTH_E_INTERNAL. */
int digest_compute(int alg, const void *buf, size_t len, digest *out);

#endif /* BERTH_DIGEST_H */

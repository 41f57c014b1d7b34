/*
 * digest.c - digest strings (OCI image spec, descriptor.md "Digests") and
 * incremental hashing with OpenSSL EVP.
 */
#include "digest.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "berth/error.h"

struct digest_ctx {
	EVP_MD_CTX *md;
	int alg;
	int finished;
};

static const char *const alg_names[] = {
	[DIGEST_SHA256] = "sha256",
	[DIGEST_SHA512] = "sha512",
};

static const size_t alg_hex_lens[] = {
	[DIGEST_SHA256] = 64,
	[DIGEST_SHA512] = 128,
};

#define ALG_COUNT (sizeof(alg_names) / sizeof(alg_names[0]))

static int alg_known(int alg)
{
	return alg >= 0 && (size_t)alg < ALG_COUNT;
}

const char *digest_alg_name(int alg)
{
	return alg_known(alg) ? alg_names[alg] : NULL;
}

size_t digest_hex_len(int alg)
{
	return alg_known(alg) ? alg_hex_lens[alg] : 0;
}

/* Character classes spelled out: <ctype.h> depends on the locale. */
static int is_lower_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_lower_hex(unsigned char c)
{
	return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
}

static int is_alg_separator(unsigned char c)
{
	return c == '+' || c == '.' || c == '_' || c == '-';
}

static int is_encoded_char(unsigned char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '=' ||
	       c == '_' || c == '-';
}

/* algorithm ::= algorithm-component (algorithm-separator algorithm-component)* */
static int algorithm_well_formed(const char *s, size_t len)
{
	size_t i;
	int need_component = 1;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_lower_alnum(c))
			need_component = 0;
		else if (is_alg_separator(c) && !need_component)
			need_component = 1;
		else
			return 0;
	}
	return !need_component;
}

/* encoded ::= [a-zA-Z0-9=_-]+ */
static int encoded_well_formed(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!is_encoded_char((unsigned char)s[i]))
			return 0;
	return 1;
}

static int lower_hex_of_len(const char *s, size_t len, size_t want)
{
	size_t i;

	if (len != want)
		return 0;
	for (i = 0; i < len; i++)
		if (!is_lower_hex((unsigned char)s[i]))
			return 0;
	return 1;
}

int digest_parse_n(const char *s, size_t len, digest *out)
{
	const char *colon, *enc;
	size_t alg_len, enc_len, i;

	if (!s || !out)
		return BERTH_E_INVALID;
	colon = memchr(s, ':', len);
	if (!colon)
		return BERTH_E_INVALID;
	alg_len = (size_t)(colon - s);
	enc = colon + 1;
	enc_len = len - alg_len - 1;

	for (i = 0; i < ALG_COUNT; i++) {
		if (alg_len != strlen(alg_names[i]) ||
		    memcmp(s, alg_names[i], alg_len) != 0)
			continue;
		/* A registered algorithm restricts the encoding to its own hex. */
		if (!lower_hex_of_len(enc, enc_len, alg_hex_lens[i]))
			return BERTH_E_INVALID;
		out->alg = (int)i;
		memcpy(out->hex, enc, enc_len);
		out->hex[enc_len] = '\0';
		return 0;
	}
	if (algorithm_well_formed(s, alg_len) && encoded_well_formed(enc, enc_len))
		return BERTH_E_UNSUPPORTED;
	return BERTH_E_INVALID;
}

int digest_parse(const char *s, digest *out)
{
	if (!s)
		return BERTH_E_INVALID;
	return digest_parse_n(s, strlen(s), out);
}

void digest_format(const digest *d, char out[DIGEST_STRING_MAX])
{
	const char *name = d ? digest_alg_name(d->alg) : NULL;
	size_t name_len, hex_len;

	out[0] = '\0';
	if (!name)
		return;
	name_len = strlen(name);
	hex_len = strnlen(d->hex, digest_hex_len(d->alg));
	memcpy(out, name, name_len);
	out[name_len] = ':';
	memcpy(out + name_len + 1, d->hex, hex_len);
	out[name_len + 1 + hex_len] = '\0';
}

int digest_equal(const digest *a, const digest *b)
{
	size_t n;

	if (!a || !b || a->alg != b->alg || !alg_known(a->alg))
		return 0;
	n = digest_hex_len(a->alg);
	return strncmp(a->hex, b->hex, n + 1) == 0;
}

static const EVP_MD *alg_md(int alg)
{
	switch (alg) {
	case DIGEST_SHA256:
		return EVP_sha256();
	case DIGEST_SHA512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

static void hex_encode(const unsigned char *bin, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[bin[i] >> 4];
		hex[2 * i + 1] = digits[bin[i] & 0x0f];
	}
	hex[2 * n] = '\0';
}

digest_ctx *digest_ctx_new(int alg)
{
	const EVP_MD *md = alg_md(alg);
	digest_ctx *c;

	if (!md)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->alg = alg;
	c->md = EVP_MD_CTX_new();
	if (!c->md || EVP_DigestInit_ex(c->md, md, NULL) != 1) {
		digest_ctx_free(c);
		return NULL;
	}
	return c;
}

int digest_ctx_update(digest_ctx *c, const void *buf, size_t len)
{
	if (!c || c->finished || (!buf && len))
		return BERTH_E_INTERNAL;
	if (len == 0)
		return 0;
	if (EVP_DigestUpdate(c->md, buf, len) != 1)
		return BERTH_E_INTERNAL;
	return 0;
}

int digest_ctx_final(digest_ctx *c, digest *out)
{
	unsigned char bin[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!c || !out || c->finished)
		return BERTH_E_INTERNAL;
	c->finished = 1;
	if (EVP_DigestFinal_ex(c->md, bin, &n) != 1 ||
	    (size_t)n * 2 != digest_hex_len(c->alg))
		return BERTH_E_INTERNAL;
	out->alg = c->alg;
	hex_encode(bin, n, out->hex);
	return 0;
}

digest_ctx *digest_ctx_dup(const digest_ctx *c)
{
	digest_ctx *copy;

	if (!c)
		return NULL;
	copy = calloc(1, sizeof(*copy));
	if (!copy)
		return NULL;
	copy->alg = c->alg;
	copy->finished = c->finished;
	copy->md = EVP_MD_CTX_new();
	if (!copy->md)
		goto fail;
	/* A finalised EVP context holds no state worth copying. */
	if (!c->finished && EVP_MD_CTX_copy_ex(copy->md, c->md) != 1)
		goto fail;
	return copy;
fail:
	digest_ctx_free(copy);
	return NULL;
}

void digest_ctx_free(digest_ctx *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->md);
	free(c);
}

int digest_compute(int alg, const void *buf, size_t len, digest *out)
{
	digest_ctx *c = digest_ctx_new(alg);
	int rc;

	if (!c)
		return BERTH_E_INTERNAL;
	rc = digest_ctx_update(c, buf, len);
	if (rc == 0)
		rc = digest_ctx_final(c, out);
	digest_ctx_free(c);
	return rc;
}

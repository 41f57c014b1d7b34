/*
 * atok_password.c - checking a password against a crypt(3) hash with
 * libcrypt (libxcrypt's crypt_rn: crypt_r with the buffer's size), and a
 * short-lived cache of passwords that checked.
 *
 * bcrypt costs tens of milliseconds on purpose. A client that sends Basic
 * credentials on every request (basic mode: every blob of a push) would
 * pay it each time, so a success is remembered for password_cache (60 s
 * by default) under a salted SHA-256 of account, stored hash and password:
 * the cache never holds a password, and a changed password misses.
 */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth_token.h"

/* A valid bcrypt hash of a random password, for accounts that do not exist. */
static const char burn_hash[] = "$2b$10$gI9hVGrgoMNQXPGiO52ONuj4Rhq0Dk4For2bZNotWIkvo7CDDN7TK";

int atok_password_matches(const char *hash, const char *password)
{
	struct crypt_data *data;
	const char *got;
	int ok;

	if (!hash || !password || !atok_hash_supported(hash))
		return 0;
	/* 32 KiB: too big for a worker thread's stack. */
	data = calloc(1, sizeof(*data));
	if (!data)
		return BERTH_E_NOMEM;
	/* crypt_rn, not crypt_r: a sanitizer build's interceptor for crypt_r
	 * cannot reach libcrypt when only this dlopen'd plugin links it. */
	got = crypt_rn(password, hash, data, (int)sizeof(*data));
	ok = got && got[0] != '*' && atok_same_bytes(got, strlen(got), hash, strlen(hash));
	memset(data, 0, sizeof(*data));
	free(data);
	return ok;
}

void atok_password_burn(const char *password)
{
	(void)atok_password_matches(burn_hash, password ? password : "");
}

int atok_pwcache_init(atok_pwcache *c, int64_t ttl_ms)
{
	memset(c, 0, sizeof(*c));
	c->ttl_ms = ttl_ms;
	if (RAND_bytes(c->salt, sizeof(c->salt)) != 1)
		return BERTH_E_INTERNAL;
	if (pthread_mutex_init(&c->lock, NULL) != 0)
		return BERTH_E_NOMEM;
	return 0;
}

void atok_pwcache_destroy(atok_pwcache *c)
{
	pthread_mutex_destroy(&c->lock);
	OPENSSL_cleanse(c, sizeof(*c));
}

static int cache_key(const atok_pwcache *c, const char *name, const char *hash,
		     const char *password, unsigned char out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 0;
	int ok;

	if (!md)
		return -1;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md, c->salt, sizeof(c->salt)) == 1 &&
	     EVP_DigestUpdate(md, name, strlen(name) + 1) == 1 &&
	     EVP_DigestUpdate(md, hash, strlen(hash) + 1) == 1 &&
	     EVP_DigestUpdate(md, password, strlen(password)) == 1 &&
	     EVP_DigestFinal_ex(md, out, &len) == 1 && len == 32;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

int atok_pwcache_hit(atok_pwcache *c, const char *name, const char *hash, const char *password,
		     int64_t now_ms)
{
	unsigned char key[32];
	int hit = 0;

	if (c->ttl_ms <= 0 || cache_key(c, name, hash, password, key) < 0)
		return 0;
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < ATOK_PWCACHE_SLOTS && !hit; i++)
		hit = c->slot[i].expires_ms > now_ms &&
		      CRYPTO_memcmp(c->slot[i].key, key, sizeof(key)) == 0;
	pthread_mutex_unlock(&c->lock);
	OPENSSL_cleanse(key, sizeof(key));
	return hit;
}

void atok_pwcache_add(atok_pwcache *c, const char *name, const char *hash,
		      const char *password, int64_t now_ms)
{
	unsigned char key[32];

	if (c->ttl_ms <= 0 || cache_key(c, name, hash, password, key) < 0)
		return;
	pthread_mutex_lock(&c->lock);
	memcpy(c->slot[c->next].key, key, sizeof(key));
	c->slot[c->next].expires_ms = now_ms + c->ttl_ms;
	c->next = (c->next + 1) % ATOK_PWCACHE_SLOTS;
	pthread_mutex_unlock(&c->lock);
	OPENSSL_cleanse(key, sizeof(key));
}

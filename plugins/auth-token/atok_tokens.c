/*
 * atok_tokens.c - tokens already verified, by SHA-256 of the token.
 *
 * A client sends the same token on every request of a push or pull, and
 * the catalog asks for every repository: verifying a signature each time
 * would cost far more than the request. A direct-mapped table keeps the
 * claims of recent tokens; the time checks (exp, nbf) and the account
 * checks still run on every use (atok_bearer.c), so a cached token expires
 * and is revoked exactly like a fresh one.
 */
#include <string.h>

#include "auth_token.h"

int atok_token_cache_init(atok_token_cache *c)
{
	memset(c, 0, sizeof(*c));
	return pthread_mutex_init(&c->lock, NULL) == 0 ? 0 : BERTH_E_NOMEM;
}

void atok_token_cache_clear(atok_token_cache *c)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < ATOK_TOKEN_CACHE_SLOTS; i++) {
		atok_claims_put(c->slot[i].claims);
		c->slot[i].claims = NULL;
	}
	pthread_mutex_unlock(&c->lock);
}

void atok_token_cache_destroy(atok_token_cache *c)
{
	atok_token_cache_clear(c);
	pthread_mutex_destroy(&c->lock);
}

static size_t slot_of(const unsigned char digest[32])
{
	return ((size_t)digest[0] << 8 | digest[1]) % ATOK_TOKEN_CACHE_SLOTS;
}

atok_claims *atok_token_cache_get(atok_token_cache *c, const unsigned char digest[32])
{
	size_t i = slot_of(digest);
	atok_claims *cl = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->slot[i].claims && memcmp(c->slot[i].digest, digest, 32) == 0) {
		cl = c->slot[i].claims;
		atomic_fetch_add(&cl->refs, 1);
	}
	pthread_mutex_unlock(&c->lock);
	return cl;
}

void atok_token_cache_put(atok_token_cache *c, const unsigned char digest[32], atok_claims *cl)
{
	size_t i = slot_of(digest);
	atok_claims *old;

	atomic_fetch_add(&cl->refs, 1);
	pthread_mutex_lock(&c->lock);
	old = c->slot[i].claims;
	memcpy(c->slot[i].digest, digest, 32);
	c->slot[i].claims = cl;
	pthread_mutex_unlock(&c->lock);
	atok_claims_put(old);
}

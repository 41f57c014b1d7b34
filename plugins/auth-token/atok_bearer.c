/*
 * atok_bearer.c - the claims of the bearer token a request carries:
 * verified once (atok_jwt.c) and then taken from the token cache, with the
 * checks that depend on the moment made on every use: the token's time
 * window, and, for tokens this server issued, that the account still
 * exists (a deleted user or robot loses its tokens at once, not when they
 * expire).
 */
#include <stdio.h>
#include <string.h>

#include "auth_token.h"

static int why_set(char *why, size_t cap, const char *text)
{
	snprintf(why, cap, "%s", text);
	return BERTH_E_UNAUTHORIZED;
}

int atok_request_claims(atok_state *st, const berth_request *req, atok_claims **out, char *why,
			size_t cap)
{
	const char *token;
	unsigned char digest[32];
	unsigned int digest_len = 0;
	int64_t now = st->host->now_ms() / 1000;
	atok_claims *c;
	size_t len = 0;

	*out = NULL;
	if (st->cfg.mode != ATOK_MODE_TOKEN)
		return BERTH_DECLINED;
	token = atok_bearer_token(st->host->request_header(req, "Authorization"), &len);
	if (!token)
		return BERTH_DECLINED;
	if (len > ATOK_TOKEN_MAX)
		return why_set(why, cap, "malformed token: too long");
	if (EVP_Digest(token, len, digest, &digest_len, EVP_sha256(), NULL) != 1)
		return why_set(why, cap, "cannot hash the token");
	c = atok_token_cache_get(&st->tokens, digest);
	if (!c) {
		atok_verify_opts o = {
			.keys = &st->keys,
			.algs = st->cfg.algs,
			.issuer = st->cfg.issuer,
			.audience = st->cfg.service,
			.leeway_s = st->cfg.leeway_s,
			.now_s = now,
		};
		int rc = atok_jwt_verify(token, len, &o, &c, why, cap);
		if (rc < 0)
			return rc;
		atok_token_cache_put(&st->tokens, digest, c);
	}
	if (now > c->exp + st->cfg.leeway_s) {
		atok_claims_put(c);
		return why_set(why, cap, "expired");
	}
	if (c->nbf != INT64_MIN && c->nbf - st->cfg.leeway_s > now) {
		atok_claims_put(c);
		return why_set(why, cap, "not valid yet (nbf)");
	}
	if (c->own && c->sub[0] && !atok_subject_alive(st, c->sub, NULL, 0, NULL)) {
		atok_claims_put(c);
		return why_set(why, cap, "the token's account no longer exists or has expired");
	}
	*out = c;
	return 0;
}

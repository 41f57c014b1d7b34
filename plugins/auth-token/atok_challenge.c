/*
 * atok_challenge.c - the WWW-Authenticate value of a 401.
 *
 * Token mode, as Distribution writes it (token-auth.md section 2):
 *   Bearer realm="...",service="...",scope="repository:a:pull,push repository:b:pull",error="..."
 * One scope parameter holds every resource the request needs, separated by
 * spaces; GET /v2/ (registry:base) gets no scope. error is
 * "invalid_token" when the request carried a token that does not verify,
 * "insufficient_scope" when it carried a good one that lacks the access,
 * and absent when it carried none. A push names pull too, as Distribution
 * does. Basic mode: Basic realm="...".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_token.h"

/* The scope text for the accesses (without registry:base), cut to what fits in cap. */
static void scope_text(const berth_access *acc, size_t n, char *out, size_t cap)
{
	atok_access_list l = {0};

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!acc[i].type || !acc[i].name || !acc[i].action ||
		    (strcmp(acc[i].type, "registry") == 0 && strcmp(acc[i].name, "base") == 0))
			continue;
		if (strpbrk(acc[i].name, "\" \\") || strpbrk(acc[i].action, "\" \\,"))
			continue;
		/* Distribution asks pull with push: a client then fetches one token
		 * that also covers the blob checks of its push. */
		if (strcmp(acc[i].type, "repository") == 0 && strcmp(acc[i].action, "push") == 0 &&
		    atok_access_list_add(&l, acc[i].type, acc[i].name, "pull") < 0)
			break;
		if (atok_access_list_add(&l, acc[i].type, acc[i].name, acc[i].action) < 0)
			break;
	}
	/* When everything does not fit, name as many resources as do. */
	for (size_t i = 0; i < l.n; i++) {
		atok_access_list one = {.v = &l.v[i], .n = 1};
		char entry[ATOK_NAME_MAX + 128];
		size_t used = strlen(out);

		if (atok_access_list_scope(&one, entry, sizeof(entry)) < 0 || !entry[0])
			continue;
		if (used + (used ? 1 : 0) + strlen(entry) >= cap)
			break;
		snprintf(out + used, cap - used, "%s%s", used ? " " : "", entry);
	}
	atok_access_list_free(&l);
}

int atok_challenge(atok_state *st, const berth_request *req, const berth_access *accesses,
		   size_t n, char *out, size_t cap)
{
	char scope[900], why[160];
	const char *error = NULL;
	atok_claims *c = NULL;
	size_t len;
	int rc;

	if (st->cfg.mode == ATOK_MODE_BASIC) {
		rc = snprintf(out, cap, "Basic realm=\"%s\"", st->cfg.realm);
		return rc < 0 || (size_t)rc >= cap ? BERTH_DECLINED : 0;
	}
	rc = atok_request_claims(st, req, &c, why, sizeof(why));
	if (rc == 0)
		error = "insufficient_scope";
	else if (rc != BERTH_DECLINED)
		error = "invalid_token";
	atok_claims_put(c);
	rc = snprintf(out, cap, "Bearer realm=\"%s\",service=\"%s\"", st->cfg.realm,
		      st->cfg.service);
	if (rc < 0 || (size_t)rc >= cap)
		return BERTH_DECLINED;
	len = (size_t)rc;
	/* Leave room for ,scope="" and the error parameter. */
	if (cap > len + 60) {
		size_t room = cap - len - 60;
		scope_text(accesses, n, scope, room < sizeof(scope) ? room : sizeof(scope));
		if (scope[0])
			len += (size_t)snprintf(out + len, cap - len, ",scope=\"%s\"", scope);
	}
	if (error && len + 30 < cap)
		snprintf(out + len, cap - len, ",error=\"%s\"", error);
	return 0;
}

/*
 * atok_login.c - a name and a password against the accounts: lockouts
 * first (a locked-out account is not even checked, so a lockout is no
 * oracle), then the users, then the robots; failures counted for the
 * brute-force limits, lockouts counted in berth_auth_lockouts_total.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth_token.h"

void atok_hash_fingerprint(const char *hash, char *out, size_t cap)
{
	unsigned char md[32];
	unsigned int len = 0;
	size_t n = 0;

	out[0] = '\0';
	if (EVP_Digest(hash, strlen(hash), md, &len, EVP_sha256(), NULL) != 1)
		return;
	for (unsigned i = 0; i < 8 && n + 3 <= cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "%02x", md[i]);
}

static void count_lockouts(atok_state *st, unsigned started, const char *client,
			   const char *name)
{
	static const char *const kinds[] = {"client", "account"};

	for (unsigned bit = 0; bit < 2; bit++) {
		const char *labels[] = {kinds[bit], NULL};
		if (!(started & (1u << bit)))
			continue;
		if (st->lockouts)
			st->host->metric_add(st->lockouts, labels, 1);
		st->host->log(st->self, BERTH_LOG_WARN, "too many failed logins: %s '%s' locked out for %lld s",
			      kinds[bit], bit ? name : client, (long long)(st->cfg.bf_lockout_ms / 1000));
	}
}

int atok_login(atok_state *st, const char *client, const char *name, const char *password,
	       atok_account *who, int64_t *retry_ms, const char **reason)
{
	int64_t mono = st->host->monotonic_ms(), now_s = st->host->now_ms() / 1000;
	const atok_user *user = NULL;
	const atok_robot *robot = NULL;
	const char *hash = NULL;
	atok_db *db;
	int ok = 0, rc = BERTH_E_UNAUTHORIZED;

	memset(who, 0, sizeof(*who));
	*retry_ms = atok_bf_locked(&st->bf, client, name, mono);
	if (*retry_ms > 0) {
		*reason = "locked_out";
		return BERTH_E_TOO_MANY;
	}
	db = atok_store_get(&st->store);
	if (atok_account_name_valid(name)) {
		user = atok_user_find(&db->acc, name);
		robot = user ? NULL : atok_robot_find(&db->acc, name);
	}
	hash = user ? user->hash : robot ? robot->hash : NULL;
	if (!hash) {
		atok_password_burn(password);
		*reason = "unknown_account";
	} else if (atok_pwcache_hit(&st->pwcache, name, hash, password, mono)) {
		ok = 1;
		who->cached = 1;
	} else {
		ok = atok_password_matches(hash, password) == 1;
		if (ok)
			atok_pwcache_add(&st->pwcache, name, hash, password, mono);
		else
			*reason = "bad_password";
	}
	if (ok && robot && robot->expires <= now_s) {
		/* The right password: not a guess, so not counted as one. */
		*reason = "expired";
		goto out;
	}
	if (!ok) {
		count_lockouts(st, atok_bf_failure(&st->bf, client, name, mono), client, name);
		goto out;
	}
	atok_bf_success(&st->bf, name);
	snprintf(who->name, sizeof(who->name), "%s", name);
	snprintf(who->groups, sizeof(who->groups), "%s", user ? user->groups : "");
	who->robot = robot != NULL;
	atok_hash_fingerprint(hash, who->fingerprint, sizeof(who->fingerprint));
	*reason = "ok";
	rc = 0;
out:
	atok_db_put(db);
	return rc;
}

int atok_subject_alive(atok_state *st, const char *name, char *groups, size_t cap,
		       const char *fingerprint)
{
	atok_db *db = atok_store_get(&st->store);
	const atok_user *user = atok_user_find(&db->acc, name);
	const atok_robot *robot = user ? NULL : atok_robot_find(&db->acc, name);
	char fp[24];
	int alive = 0;

	if (user) {
		alive = 1;
		if (groups)
			snprintf(groups, cap, "%s", user->groups);
	} else if (robot) {
		alive = robot->expires > st->host->now_ms() / 1000;
		if (groups && cap)
			groups[0] = '\0';
	}
	if (alive && fingerprint) {
		atok_hash_fingerprint(user ? user->hash : robot->hash, fp, sizeof(fp));
		alive = strcmp(fp, fingerprint) == 0;
	}
	atok_db_put(db);
	return alive;
}

void atok_emit_login(atok_state *st, const berth_request *req, const char *account, int ok,
		     json_t *detail)
{
	char *text;

	if (!BERTH_HOST_HAS(st->host, emit_request_event) || !st->host->emit_request_event) {
		json_decref(detail);
		return;
	}
	text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
	st->host->emit_request_event(st->self, req, account ? account : "",
				     ok ? "login" : "login.failed", NULL, NULL, NULL, text);
	free(text);
	json_decref(detail);
}

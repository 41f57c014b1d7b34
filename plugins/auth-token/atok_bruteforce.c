/*
 * atok_bruteforce.c - counting failed logins per client address and per
 * account, and locking either out for a while once it fails too often
 * within the window.
 *
 * The table is bounded (ATOK_BF_SLOTS entries): when it is full, the entry
 * seen longest ago that is not locked out makes room, so a flood of
 * made-up names cannot push a real lockout out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_token.h"

int atok_bf_init(atok_bruteforce *b, unsigned account_limit, unsigned client_limit,
		 int64_t window_ms, int64_t lockout_ms)
{
	memset(b, 0, sizeof(*b));
	b->account_limit = account_limit;
	b->client_limit = client_limit;
	b->window_ms = window_ms;
	b->lockout_ms = lockout_ms;
	b->slot = calloc(ATOK_BF_SLOTS, sizeof(*b->slot));
	if (!b->slot)
		return BERTH_E_NOMEM;
	if (pthread_mutex_init(&b->lock, NULL) != 0) {
		free(b->slot);
		b->slot = NULL;
		return BERTH_E_NOMEM;
	}
	return 0;
}

void atok_bf_destroy(atok_bruteforce *b)
{
	if (!b->slot)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b->slot);
	b->slot = NULL;
}

static void make_key(char *out, char kind, const char *what)
{
	snprintf(out, ATOK_BF_KEY_MAX, "%c:%s", kind, what ? what : "");
}

static atok_bf_entry *find(atok_bruteforce *b, const char *key)
{
	for (size_t i = 0; i < ATOK_BF_SLOTS; i++)
		if (b->slot[i].key[0] && strcmp(b->slot[i].key, key) == 0)
			return &b->slot[i];
	return NULL;
}

static atok_bf_entry *find_or_add(atok_bruteforce *b, const char *key, int64_t now)
{
	atok_bf_entry *e = find(b, key), *victim = NULL;

	if (e)
		return e;
	for (size_t i = 0; i < ATOK_BF_SLOTS; i++) {
		atok_bf_entry *s = &b->slot[i];
		if (!s->key[0]) {
			victim = s;
			break;
		}
		if (s->locked_until_ms > now)
			continue;
		if (!victim || s->last_ms < victim->last_ms)
			victim = s;
	}
	if (!victim)
		victim = &b->slot[0];
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->window_start_ms = now;
	return victim;
}

static int64_t remaining(atok_bruteforce *b, const char *key, int64_t now)
{
	atok_bf_entry *e = find(b, key);

	return e && e->locked_until_ms > now ? e->locked_until_ms - now : 0;
}

int64_t atok_bf_locked(atok_bruteforce *b, const char *client, const char *account,
		       int64_t now_ms)
{
	char key[ATOK_BF_KEY_MAX];
	int64_t wait = 0, w;

	pthread_mutex_lock(&b->lock);
	if (b->client_limit && client) {
		make_key(key, 'c', client);
		wait = remaining(b, key, now_ms);
	}
	if (b->account_limit && account && account[0]) {
		make_key(key, 'a', account);
		w = remaining(b, key, now_ms);
		if (w > wait)
			wait = w;
	}
	pthread_mutex_unlock(&b->lock);
	return wait;
}

/* One more failure for key; 1 when it starts a lockout. */
static int count(atok_bruteforce *b, const char *key, unsigned limit, int64_t now)
{
	atok_bf_entry *e = find_or_add(b, key, now);

	e->last_ms = now;
	if (e->locked_until_ms > now)
		return 0;
	if (now - e->window_start_ms > b->window_ms) {
		e->window_start_ms = now;
		e->failures = 0;
	}
	if (++e->failures < limit)
		return 0;
	e->locked_until_ms = now + b->lockout_ms;
	e->failures = 0;
	e->window_start_ms = now;
	return 1;
}

unsigned atok_bf_failure(atok_bruteforce *b, const char *client, const char *account,
			 int64_t now_ms)
{
	char key[ATOK_BF_KEY_MAX];
	unsigned started = 0;

	pthread_mutex_lock(&b->lock);
	if (b->client_limit && client) {
		make_key(key, 'c', client);
		started |= (unsigned)count(b, key, b->client_limit, now_ms);
	}
	if (b->account_limit && account && account[0]) {
		make_key(key, 'a', account);
		started |= (unsigned)count(b, key, b->account_limit, now_ms) << 1;
	}
	pthread_mutex_unlock(&b->lock);
	return started;
}

void atok_bf_success(atok_bruteforce *b, const char *account)
{
	char key[ATOK_BF_KEY_MAX];
	atok_bf_entry *e;

	if (!b->account_limit || !account || !account[0])
		return;
	make_key(key, 'a', account);
	pthread_mutex_lock(&b->lock);
	e = find(b, key);
	if (e)
		memset(e, 0, sizeof(*e));
	pthread_mutex_unlock(&b->lock);
}

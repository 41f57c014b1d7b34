/*
 * atok_accounts.c - the users and robots files, parsed.
 *
 * Users, one a line (what `berth passwd` writes):
 *     name:hash[:group,group...]
 * Robots, one a line, fields separated by blanks:
 *     name  hash  expires  grant [grant...]
 * where expires is an RFC 3339 time and a grant is "<resource>:<actions>"
 * ("team/app:pull,push", "registry:catalog:*"; patterns as in the policy).
 *
 * Hashes are crypt(3) strings: bcrypt ($2b$, $2y$, $2a$) or sha512-crypt
 * ($6$). A line that does not parse is skipped and reported with its
 * number; the rest of the file still counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_token.h"

#define LINE_MAX_BYTES 8192

int atok_account_name_valid(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len >= BERTH_IDENTITY_NAME_MAX || name[0] == '-')
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._@+$-", c)))
			return 0;
	}
	return 1;
}

int atok_hash_supported(const char *hash)
{
	static const char *const prefixes[] = {"$2b$", "$2y$", "$2a$", "$6$"};

	int known = 0;

	if (!hash || strlen(hash) < 20 || strlen(hash) > 255)
		return 0;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		known |= strncmp(hash, prefixes[i], strlen(prefixes[i])) == 0;
	if (!known)
		return 0;
	for (const char *p = hash; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("$./=,", *p)))
			return 0;
	return 1;
}

static int groups_valid(const char *groups)
{
	const char *p = groups;

	if (strlen(groups) >= BERTH_IDENTITY_GROUPS_MAX)
		return 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		char name[BERTH_IDENTITY_NAME_MAX];

		if (len == 0 || len >= sizeof(name))
			return 0;
		memcpy(name, p, len);
		name[len] = '\0';
		if (!atok_account_name_valid(name))
			return 0;
		p += len;
		if (*p == ',')
			p++;
	}
	return 1;
}

static void user_free(atok_user *u)
{
	free(u->name);
	free(u->hash);
	free(u->groups);
}

static void robot_free(atok_robot *r)
{
	free(r->name);
	free(r->hash);
	atok_rules_free(&r->grants);
}

void atok_accounts_free(atok_accounts *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_users; i++)
		user_free(&a->users[i]);
	for (size_t i = 0; i < a->n_robots; i++)
		robot_free(&a->robots[i]);
	free(a->users);
	free(a->robots);
	memset(a, 0, sizeof(*a));
}

/*
 * Walk the lines of text: fn(line, number) for each that is not blank or a
 * comment, with trailing blanks and CR removed. Stops at fn's first
 * negative return.
 */
static int each_line(const char *text, size_t len, int (*fn)(char *line, size_t no, void *ctx),
		     void *ctx, atok_report_fn report, void *rctx)
{
	size_t pos = 0, no = 0;
	char line[LINE_MAX_BYTES];

	while (pos < len) {
		const char *start = text + pos, *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos, k = 0;
		int rc;

		pos += n + 1;
		no++;
		if (n >= sizeof(line)) {
			if (report)
				report(rctx, no, "line too long");
			continue;
		}
		if (memchr(start, '\0', n)) {
			if (report)
				report(rctx, no, "NUL byte in line");
			continue;
		}
		memcpy(line, start, n);
		line[n] = '\0';
		while (n > 0 && strchr(" \t\r", line[n - 1]))
			line[--n] = '\0';
		while (line[k] == ' ' || line[k] == '\t')
			k++;
		if (line[k] == '\0' || line[k] == '#')
			continue;
		rc = fn(line + k, no, ctx);
		if (rc < 0)
			return rc;
	}
	return 0;
}

struct parse_ctx {
	atok_accounts *a;
	atok_report_fn report;
	void *rctx;
};

static int skip(struct parse_ctx *p, size_t no, const char *why)
{
	if (p->report)
		p->report(p->rctx, no, why);
	return 0;
}

static int user_line(char *line, size_t no, void *ctx)
{
	struct parse_ctx *p = ctx;
	char *hash, *groups;
	atok_user u = {0}, *v;

	hash = strchr(line, ':');
	if (!hash)
		return skip(p, no, "expected name:hash[:groups]");
	*hash++ = '\0';
	groups = strchr(hash, ':');
	if (groups)
		*groups++ = '\0';
	if (!atok_account_name_valid(line))
		return skip(p, no, "invalid name (letters, digits and ._@+$- only, at most 127)");
	if (!atok_hash_supported(hash))
		return skip(p, no, "unsupported hash (use bcrypt $2b$/$2y$ or sha512-crypt $6$)");
	if (groups && !groups_valid(groups))
		return skip(p, no, "invalid group list");
	v = realloc(p->a->users, (p->a->n_users + 1) * sizeof(*v));
	if (!v)
		return BERTH_E_NOMEM;
	p->a->users = v;
	u.name = strdup(line);
	u.hash = strdup(hash);
	u.groups = strdup(groups ? groups : "");
	u.line = no;
	if (!u.name || !u.hash || !u.groups) {
		user_free(&u);
		return BERTH_E_NOMEM;
	}
	v[p->a->n_users++] = u;
	return 0;
}

int atok_users_parse(const char *text, size_t len, atok_accounts *a, atok_report_fn report,
		     void *ctx)
{
	struct parse_ctx p = {a, report, ctx};

	return each_line(text, len, user_line, &p, report, ctx);
}

static int robot_line(char *line, size_t no, void *ctx)
{
	struct parse_ctx *p = ctx;
	char *w[3], *rest = line, why[160];
	atok_robot r = {0}, *v;
	int rc = 0;

	for (int i = 0; i < 3; i++) {
		while (*rest == ' ' || *rest == '\t')
			rest++;
		if (!*rest)
			return skip(p, no, "expected name, hash, expiry and at least one grant");
		w[i] = rest;
		rest += strcspn(rest, " \t");
		if (*rest)
			*rest++ = '\0';
	}
	if (!atok_account_name_valid(w[0]))
		return skip(p, no, "invalid name (letters, digits and ._@+$- only, at most 127)");
	if (!atok_hash_supported(w[1]))
		return skip(p, no, "unsupported hash (use bcrypt $2b$/$2y$ or sha512-crypt $6$)");
	if (atok_rfc3339_parse(w[2], &r.expires) < 0)
		return skip(p, no, "expiry is not an RFC 3339 time such as 2026-12-31T23:59:59Z");
	while (*rest) {
		char grant[512];
		size_t len;

		while (*rest == ' ' || *rest == '\t')
			rest++;
		len = strcspn(rest, " \t");
		if (len == 0)
			break;
		if (len >= sizeof(grant)) {
			atok_rules_free(&r.grants);
			return skip(p, no, "grant too long");
		}
		memcpy(grant, rest, len);
		grant[len] = '\0';
		rest += len;
		why[0] = '\0';
		rc = atok_rules_add_grant(&r.grants, grant, why, sizeof(why));
		if (rc == BERTH_E_NOMEM) {
			atok_rules_free(&r.grants);
			return rc;
		}
		if (rc < 0) {
			char msg[256];
			atok_rules_free(&r.grants);
			snprintf(msg, sizeof(msg), "grant '%.64s': %s", grant, why);
			return skip(p, no, msg);
		}
	}
	if (r.grants.n == 0)
		return skip(p, no, "a robot needs at least one grant");
	v = realloc(p->a->robots, (p->a->n_robots + 1) * sizeof(*v));
	if (!v) {
		atok_rules_free(&r.grants);
		return BERTH_E_NOMEM;
	}
	p->a->robots = v;
	r.name = strdup(w[0]);
	r.hash = strdup(w[1]);
	r.line = no;
	if (!r.name || !r.hash) {
		robot_free(&r);
		return BERTH_E_NOMEM;
	}
	v[p->a->n_robots++] = r;
	return 0;
}

int atok_robots_parse(const char *text, size_t len, atok_accounts *a, atok_report_fn report,
		      void *ctx)
{
	struct parse_ctx p = {a, report, ctx};

	return each_line(text, len, robot_line, &p, report, ctx);
}

static int user_cmp(const void *x, const void *y)
{
	const atok_user *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	return c ? c : (a->line > b->line) - (a->line < b->line);
}

static int robot_cmp(const void *x, const void *y)
{
	const atok_robot *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	return c ? c : (a->line > b->line) - (a->line < b->line);
}

void atok_accounts_index(atok_accounts *a, atok_report_fn report, void *ctx)
{
	size_t kept = 0;

	if (a->n_users > 1)
		qsort(a->users, a->n_users, sizeof(*a->users), user_cmp);
	for (size_t i = 0; i < a->n_users; i++) {
		if (kept > 0 && strcmp(a->users[kept - 1].name, a->users[i].name) == 0) {
			if (report)
				report(ctx, a->users[i].line, "user defined twice: this line is ignored");
			user_free(&a->users[i]);
			continue;
		}
		a->users[kept++] = a->users[i];
	}
	a->n_users = kept;
	kept = 0;
	if (a->n_robots > 1)
		qsort(a->robots, a->n_robots, sizeof(*a->robots), robot_cmp);
	for (size_t i = 0; i < a->n_robots; i++) {
		const char *why = NULL;
		if (kept > 0 && strcmp(a->robots[kept - 1].name, a->robots[i].name) == 0)
			why = "robot defined twice: this line is ignored";
		else if (atok_user_find(a, a->robots[i].name))
			why = "robot has the name of a user: this line is ignored";
		if (why) {
			if (report)
				report(ctx, a->robots[i].line, why);
			robot_free(&a->robots[i]);
			continue;
		}
		a->robots[kept++] = a->robots[i];
	}
	a->n_robots = kept;
}

const atok_user *atok_user_find(const atok_accounts *a, const char *name)
{
	size_t lo = 0, hi = a ? a->n_users : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, a->users[mid].name);
		if (c == 0)
			return &a->users[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const atok_robot *atok_robot_find(const atok_accounts *a, const char *name)
{
	size_t lo = 0, hi = a ? a->n_robots : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, a->robots[mid].name);
		if (c == 0)
			return &a->robots[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/*
 * trivy_policy.c - match policies, decide pulls, word the refusal (see
 * trivy_policy.h).
 */
#include "trivy_policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "berth/plugin.h"
#include "trivy_glob.h"

const trivy_policy *trivy_policy_match(const trivy_policy_set *set, const char *repository)
{
	for (size_t i = 0; set && i < set->n; i++)
		for (size_t k = 0; k < set->v[i].n_repositories; k++)
			if (trivy_glob_match(set->v[i].repositories[k], repository))
				return &set->v[i];
	return NULL;
}

int trivy_policy_inert(const trivy_policy *p)
{
	return p->block_severity < 0 && !p->block_unscanned;
}

int trivy_policy_bypassed(const trivy_policy *p, const char *identity, const char *groups)
{
	if (identity && *identity)
		for (size_t i = 0; i < p->n_bypass_identities; i++)
			if (strcmp(p->bypass_identities[i], identity) == 0)
				return 1;
	while (groups && *groups) {
		const char *end = strchr(groups, ',');
		size_t len = end ? (size_t)(end - groups) : strlen(groups);
		const char *g = groups;

		/* Auth plugins may write "a, b": spaces around a name are not part of it. */
		while (len > 0 && (*g == ' ' || *g == '\t')) {
			g++;
			len--;
		}
		while (len > 0 && (g[len - 1] == ' ' || g[len - 1] == '\t'))
			len--;
		for (size_t i = 0; len > 0 && i < p->n_bypass_groups; i++)
			if (strlen(p->bypass_groups[i]) == len &&
			    memcmp(p->bypass_groups[i], g, len) == 0)
				return 1;
		groups = end ? end + 1 : NULL;
	}
	return 0;
}

static int allow_order(const void *a, const void *b)
{
	return strcmp(((const trivy_allow *)a)->id, ((const trivy_allow *)b)->id);
}

const trivy_allow *trivy_policy_allowed(const trivy_policy *p, const char *id, int64_t now_ms)
{
	trivy_allow key = {.id = (char *)id};
	const trivy_allow *a;

	if (p->n_allow == 0)
		return NULL;
	a = bsearch(&key, p->allow, p->n_allow, sizeof(*p->allow), allow_order);
	if (!a || (a->expires_ms && now_ms >= a->expires_ms))
		return NULL;
	return a;
}

void trivy_policy_decide(const trivy_policy *p, int scanned, const trivy_gate_entry *entries,
			 size_t n, int64_t now_ms, trivy_verdict *v)
{
	const char *last_id = NULL, *last_waived = NULL;
	int last_sev = -1;

	memset(v, 0, sizeof(*v));
	if (!scanned) {
		v->blocked = v->unscanned = p->block_unscanned;
		return;
	}
	if (p->block_severity < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const trivy_gate_entry *e = &entries[i];
		/* Sorted worst first: nothing below the threshold can follow. */
		if (e->severity < p->block_severity)
			break;
		if (p->only_fixable && !e->fixable)
			continue;
		if (trivy_policy_allowed(p, e->id, now_ms)) {
			if (!last_waived || strcmp(last_waived, e->id) != 0)
				v->waived++;
			last_waived = e->id;
			continue;
		}
		/* An ID fixable in one package and not in another is listed twice. */
		if (last_id && e->severity == last_sev && strcmp(last_id, e->id) == 0)
			continue;
		last_id = e->id;
		last_sev = e->severity;
		v->counts[e->severity]++;
		v->total++;
		if (v->n_ids < TRIVY_VERDICT_IDS)
			v->ids[v->n_ids++] = e->id;
	}
	v->blocked = v->total > 0;
}

/* ------------------------------------------------------------------------ */
/* The message                                                              */
/* ------------------------------------------------------------------------ */

typedef struct msg {
	char *out;
	size_t cap, len;
} msg;

BERTH_PRINTF(2, 3)
static void put(msg *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (m->len >= m->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(m->out + m->len, m->cap - m->len, fmt, ap);
	va_end(ap);
	m->len = n < 0 ? m->cap : m->len + (size_t)n;
}

static void compose(const trivy_policy *p, const trivy_verdict *v, const char *repository,
		    const char *digest, size_t n_ids, int with_link, msg *m)
{
	const char *who = p->contact && *p->contact ? p->contact : "a registry administrator";
	const char *colon = strchr(digest, ':');
	int hex = colon ? (int)(colon - digest) + 13 : 19;
	const char *sep = "";

	m->len = 0;
	put(m, "%s@%.*s is blocked by scan policy '%s': ", repository, hex, digest, p->name);
	if (v->unscanned) {
		put(m, "it has no vulnerability report; push one (trivy image --format json, "
		       "PUT /berth/v1/scans/%s@%s) or ask %s for a bypass",
		    with_link ? repository : "<repository>", with_link ? digest : "<digest>", who);
		return;
	}
	for (int s = TRIVY_SEV_CRITICAL; s >= TRIVY_SEV_UNKNOWN; s--) {
		if (!v->counts[s])
			continue;
		put(m, "%s%zu %s", sep, v->counts[s], trivy_severity_name(s));
		sep = ", ";
	}
	put(m, " %s%s at or above %s", v->total == 1 ? "vulnerability" : "vulnerabilities",
	    p->only_fixable ? " with a fix" : "", trivy_severity_name(p->block_severity));
	if (n_ids > 0) {
		put(m, " (");
		for (size_t i = 0; i < n_ids; i++)
			put(m, "%s%s", i ? ", " : "", v->ids[i]);
		if (v->total > n_ids)
			put(m, " and %zu more", v->total - n_ids);
		put(m, ")");
	}
	put(m, "; fix the image and push a new report, or ask %s to allowlist %s in policy '%s'",
	    who, v->total == 1 ? "it" : "them", p->name);
	if (with_link)
		put(m, "; list: GET /berth/v1/scans/%s@%s/vulnerabilities", repository, digest);
}

void trivy_verdict_message(const trivy_policy *p, const trivy_verdict *v,
			   const char *repository, const char *digest, char *out, size_t cap)
{
	msg m = {.out = out, .cap = cap};

	if (cap == 0)
		return;
	/* Drop the link first, then IDs one by one, until the message fits. */
	for (int with_link = 1; with_link >= 0; with_link--) {
		for (size_t n = v->n_ids + 1; n-- > 0;) {
			compose(p, v, repository, digest, n, with_link, &m);
			if (m.len < cap)
				return;
		}
	}
	/* Still too long (a huge contact text): snprintf already cut it. */
}

/* ------------------------------------------------------------------------ */
/* Building policies                                                        */
/* ------------------------------------------------------------------------ */

int trivy_block_severity_parse(const char *text)
{
	int sev;

	if (!text || strcasecmp(text, "none") == 0 || strcasecmp(text, "off") == 0)
		return -1;
	sev = trivy_severity_lookup(text, strlen(text));
	return sev < 0 ? -2 : sev;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int trivy_date_end_ms(const char *date, int64_t *ms)
{
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y, m, d;
	int n = 0;

	if (strlen(date) != 10 || sscanf(date, "%4u-%2u-%2u%n", &y, &m, &d, &n) != 3 || n != 10 ||
	    date[4] != '-' || date[7] != '-')
		return -1;
	if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -1;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -1;
	*ms = (days_from_civil(y, m, d) + 1) * 86400000LL;
	return 0;
}

int trivy_policy_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 64)
		return 0;
	for (; *name; name++)
		if (!((*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z') ||
		      (*name >= '0' && *name <= '9') || strchr("._-", *name)))
			return 0;
	return 1;
}

static int id_ok(const char *id)
{
	size_t len = strlen(id);

	if (len == 0 || len > TRIVY_ID_MAX)
		return 0;
	for (; *id; id++)
		if ((unsigned char)*id <= ' ' || *id == 0x7f)
			return 0;
	return 1;
}

int trivy_allow_parse(const char *text, trivy_allow *out, char *why, size_t cap)
{
	char id[TRIVY_ID_MAX + 2], word[16], date[16], extra[2];
	int n;

	memset(out, 0, sizeof(*out));
	n = sscanf(text, "%256s %15s %15s %1s", id, word, date, extra);
	if (n == 1 || (n == 3 && strcmp(word, "until") == 0)) {
		if (!id_ok(id)) {
			snprintf(why, cap, "allowlist entry '%.80s': not a vulnerability ID", text);
			return -1;
		}
		if (n == 3 && trivy_date_end_ms(date, &out->expires_ms) < 0) {
			snprintf(why, cap, "allowlist entry '%.80s': '%s' is not a date (YYYY-MM-DD)",
				 text, date);
			return -1;
		}
		out->id = strdup(id);
		return out->id ? 0 : (snprintf(why, cap, "out of memory"), -1);
	}
	snprintf(why, cap, "allowlist entry '%.80s': expected 'ID' or 'ID until YYYY-MM-DD'", text);
	return -1;
}

int trivy_policy_finish(trivy_policy *p, char *why, size_t cap)
{
	if (p->n_allow > 1)
		qsort(p->allow, p->n_allow, sizeof(*p->allow), allow_order);
	for (size_t i = 1; i < p->n_allow; i++)
		if (strcmp(p->allow[i - 1].id, p->allow[i].id) == 0) {
			snprintf(why, cap, "policy '%s': %s is in the allowlist twice", p->name,
				 p->allow[i].id);
			return -1;
		}
	return 0;
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void trivy_policy_free(trivy_policy *p)
{
	if (!p)
		return;
	free(p->name);
	free_strings(p->repositories, p->n_repositories);
	for (size_t i = 0; i < p->n_allow; i++) {
		free(p->allow[i].id);
		free(p->allow[i].reason);
	}
	free(p->allow);
	free_strings(p->bypass_identities, p->n_bypass_identities);
	free_strings(p->bypass_groups, p->n_bypass_groups);
	free(p->contact);
	memset(p, 0, sizeof(*p));
}

void trivy_policy_set_free(trivy_policy_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		trivy_policy_free(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

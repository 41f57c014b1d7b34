/*
 * atok_policy.c - access rules: the policy (who may do what to which
 * repositories) and robots' grants, with the glob patterns both use.
 *
 * A pattern is a repository name in which '*' stands for any run of
 * characters other than '/', and '**' for any run of characters at all
 * ('/' included); both may match nothing. So "team/" followed by one star
 * matches "team/app" but not "team/app/x"; followed by two stars it
 * matches both, but not "team" itself.
 *
 * The policy's "longest match wins", precisely: of the rules that name the
 * identity (user, group, anonymous or authenticated) and whose pattern
 * matches the repository, the one whose pattern has the most literal
 * (non-'*') characters decides; between equal counts a pattern without
 * '**' beats one with it; rules still equal add their actions up. Rules
 * that do not name the identity play no part, so an admin rule on "**"
 * still applies under team-a's own patterns when those name only team-a.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_token.h"

#define PATTERN_MAX 255

enum { G_CHAR, G_STAR, G_DSTAR };

int atok_glob_match(const char *pattern, const char *name)
{
	size_t n = strlen(name), p_len = strlen(pattern);
	unsigned char a[PATTERN_MAX + 2], b[PATTERN_MAX + 2], *prev = a, *cur = b, *t;
	size_t i = 0;

	if (n > PATTERN_MAX || p_len > PATTERN_MAX)
		return 0;
	/* prev[j]: the pattern read so far matches name[0..j). */
	memset(prev, 0, n + 1);
	prev[0] = 1;
	while (i < p_len) {
		int kind = G_CHAR;
		char c = pattern[i];

		if (c == '*') {
			size_t run = 0;
			while (pattern[i + run] == '*')
				run++;
			kind = run >= 2 ? G_DSTAR : G_STAR;
			i += run;
		} else {
			i++;
		}
		cur[0] = kind != G_CHAR && prev[0];
		for (size_t j = 1; j <= n; j++) {
			if (kind == G_CHAR)
				cur[j] = prev[j - 1] && name[j - 1] == c;
			else if (kind == G_STAR)
				cur[j] = prev[j] || (cur[j - 1] && name[j - 1] != '/');
			else
				cur[j] = prev[j] || cur[j - 1];
		}
		t = prev;
		prev = cur;
		cur = t;
	}
	return prev[n];
}

static void rule_free(atok_rule *r)
{
	free(r->type);
	free(r->pattern);
	for (size_t i = 0; i < r->n_subjects; i++)
		free(r->subjects[i]);
	free(r->subjects);
	memset(r, 0, sizeof(*r));
}

void atok_rules_free(atok_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		rule_free(&r->v[i]);
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

static int set_why(char *why, size_t cap, const char *text)
{
	if (why && cap)
		snprintf(why, cap, "%s", text);
	return BERTH_E_INVALID;
}

static int pattern_valid(const char *p)
{
	size_t len = strlen(p), stars = 0;

	if (len == 0 || len > PATTERN_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (c == '*') {
			if (++stars > 2)
				return 0;
			continue;
		}
		stars = 0;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-' || c == '/'))
			return 0;
	}
	return 1;
}

/* "<type>:<name>" or a repository pattern, into r->type and r->pattern. */
static int parse_resource(const char *text, atok_rule *r, char *why, size_t cap)
{
	const char *colon = strchr(text, ':');
	const char *name = text;

	if (!colon) {
		r->type = strdup("repository");
	} else {
		r->type = strndup(text, (size_t)(colon - text));
		name = colon + 1;
	}
	if (!r->type)
		return BERTH_E_NOMEM;
	if (strcmp(r->type, "repository") == 0) {
		if (!pattern_valid(name))
			return set_why(why, cap,
				       "a repository pattern is lowercase letters, digits, '.', '_', "
				       "'-', '/' and '*' or '**'");
	} else if (strcmp(r->type, "registry") == 0) {
		if (strcmp(name, "catalog") != 0 && strcmp(name, "jobs") != 0)
			return set_why(why, cap, "registry resources are registry:catalog and registry:jobs");
	} else if (strcmp(r->type, "route") == 0) {
		if (name[0] != '/' || strlen(name) > ATOK_NAME_MAX || strpbrk(name, "\"\\*"))
			return set_why(why, cap, "a route resource is route:/path (no '*')");
	} else {
		return set_why(why, cap, "the resource type must be repository, registry or route");
	}
	r->pattern = strdup(name);
	if (!r->pattern)
		return BERTH_E_NOMEM;
	for (const char *p = r->pattern; *p; p++)
		if (*p != '*')
			r->literal++;
	r->deep = strstr(r->pattern, "**") != NULL;
	return 0;
}

static int parse_actions(const char *text, atok_rule *r, char *why, size_t cap)
{
	const char *p = text;

	while (*p) {
		size_t len = strcspn(p, ",");
		char action[17];
		unsigned bit;

		if (len == 0 || len >= sizeof(action))
			return set_why(why, cap, "empty or overlong action");
		memcpy(action, p, len);
		action[len] = '\0';
		bit = atok_action_bit(r->type, action);
		if (strcmp(r->type, "registry") == 0 && bit == ATOK_RUN &&
		    strcmp(r->pattern, "jobs") != 0)
			bit = 0;
		if (!bit)
			return set_why(why, cap,
				       strcmp(r->type, "repository") == 0
					       ? "repository actions are pull, push, delete and *"
				       : strcmp(r->type, "route") == 0
					       ? "route actions are GET, HEAD, POST, PUT, PATCH, DELETE and *"
					       : "registry:catalog takes *, registry:jobs takes run or *");
		r->actions |= bit;
		p += len;
		if (*p == ',')
			p++;
	}
	if (!r->actions)
		return set_why(why, cap, "no action");
	return 0;
}

static int subject_valid(const char *s)
{
	if (strcmp(s, "anonymous") == 0 || strcmp(s, "authenticated") == 0)
		return 1;
	if (strncmp(s, "user:", 5) == 0)
		return atok_account_name_valid(s + 5);
	if (strncmp(s, "group:", 6) == 0)
		return atok_account_name_valid(s + 6);
	return 0;
}

static int parse_subjects(const char *text, atok_rule *r, char *why, size_t cap)
{
	const char *p = text;

	while (*p) {
		size_t len = strcspn(p, ",");
		char **v;
		char *s;

		if (len == 0)
			return set_why(why, cap, "empty subject");
		s = strndup(p, len);
		if (!s)
			return BERTH_E_NOMEM;
		if (!subject_valid(s)) {
			free(s);
			return set_why(why, cap,
				       "a subject is user:NAME, group:NAME, anonymous or authenticated");
		}
		v = realloc(r->subjects, (r->n_subjects + 1) * sizeof(*v));
		if (!v) {
			free(s);
			return BERTH_E_NOMEM;
		}
		r->subjects = v;
		v[r->n_subjects++] = s;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int rules_push(atok_rules *rs, atok_rule *r)
{
	atok_rule *v = realloc(rs->v, (rs->n + 1) * sizeof(*v));

	if (!v)
		return BERTH_E_NOMEM;
	rs->v = v;
	v[rs->n++] = *r;
	return 0;
}

/* Split text on blanks into at most max words (copied into buf). */
static size_t split_words(const char *text, char *buf, size_t cap, char **words, size_t max)
{
	size_t n = 0, len = strlen(text);
	char *p;

	if (len >= cap)
		return max + 1;
	memcpy(buf, text, len + 1);
	p = buf;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (n == max)
			return max + 1;
		words[n++] = p;
		p += strcspn(p, " \t");
		if (*p)
			*p++ = '\0';
	}
	return n;
}

int atok_rules_add_policy(atok_rules *rs, const char *text, char *why, size_t cap)
{
	char buf[1024], *w[3];
	atok_rule r = {0};
	int rc;

	if (split_words(text, buf, sizeof(buf), w, 3) != 3)
		return set_why(why, cap, "a rule is '<resource> <subjects> <actions>'");
	rc = parse_resource(w[0], &r, why, cap);
	if (rc == 0)
		rc = parse_subjects(w[1], &r, why, cap);
	if (rc == 0)
		rc = parse_actions(w[2], &r, why, cap);
	if (rc == 0)
		rc = rules_push(rs, &r);
	if (rc < 0)
		rule_free(&r);
	return rc;
}

int atok_rules_add_grant(atok_rules *rs, const char *text, char *why, size_t cap)
{
	const char *colon = strrchr(text, ':');
	atok_rule r = {0};
	char *resource;
	int rc;

	if (!colon || colon == text || !colon[1])
		return set_why(why, cap, "a grant is '<resource>:<actions>'");
	resource = strndup(text, (size_t)(colon - text));
	if (!resource)
		return BERTH_E_NOMEM;
	rc = parse_resource(resource, &r, why, cap);
	free(resource);
	if (rc == 0)
		rc = parse_actions(colon + 1, &r, why, cap);
	if (rc == 0)
		rc = rules_push(rs, &r);
	if (rc < 0)
		rule_free(&r);
	return rc;
}

static int in_list(const char *list, const char *item)
{
	size_t n = strlen(item);

	while (list && *list) {
		size_t len = strcspn(list, ",");
		if (len == n && strncmp(list, item, n) == 0)
			return 1;
		list += len;
		if (*list == ',')
			list++;
	}
	return 0;
}

static int names_who(const atok_rule *r, const atok_who *who)
{
	int anonymous = !who->name || !who->name[0];

	for (size_t i = 0; i < r->n_subjects; i++) {
		const char *s = r->subjects[i];
		if (strcmp(s, "anonymous") == 0) {
			if (anonymous)
				return 1;
		} else if (strcmp(s, "authenticated") == 0) {
			if (!anonymous)
				return 1;
		} else if (strncmp(s, "user:", 5) == 0) {
			if (!anonymous && strcmp(s + 5, who->name) == 0)
				return 1;
		} else if (strncmp(s, "group:", 6) == 0) {
			if (!anonymous && in_list(who->groups, s + 6))
				return 1;
		}
	}
	return 0;
}

static int resource_matches(const atok_rule *r, const char *type, const char *name)
{
	if (strcmp(r->type, type) != 0)
		return 0;
	if (strcmp(type, "repository") == 0)
		return atok_glob_match(r->pattern, name);
	return strcmp(r->pattern, name) == 0;
}

unsigned atok_policy_actions(const atok_rules *rs, const atok_who *who, const char *type,
			     const char *name, int *matched)
{
	unsigned actions = 0;
	size_t best_literal = 0;
	int best_shallow = 0, found = 0;

	if (matched)
		*matched = 0;
	for (size_t i = 0; rs && i < rs->n; i++) {
		const atok_rule *r = &rs->v[i];
		int shallow = !r->deep;

		if (!resource_matches(r, type, name))
			continue;
		if (matched)
			*matched = 1;
		if (!names_who(r, who))
			continue;
		if (!found || r->literal > best_literal ||
		    (r->literal == best_literal && shallow > best_shallow)) {
			actions = r->actions;
			best_literal = r->literal;
			best_shallow = shallow;
			found = 1;
		} else if (r->literal == best_literal && shallow == best_shallow) {
			actions |= r->actions;
		}
	}
	return actions;
}

unsigned atok_grants_actions(const atok_rules *rs, const char *type, const char *name,
			     int *matched)
{
	unsigned actions = 0;

	if (matched)
		*matched = 0;
	for (size_t i = 0; rs && i < rs->n; i++) {
		if (!resource_matches(&rs->v[i], type, name))
			continue;
		if (matched)
			*matched = 1;
		actions |= rs->v[i].actions;
	}
	return actions;
}

/*
 * atok_access.c - actions and access lists: what a token grants, what a
 * token request asks for, and the scope strings both travel in
 * (distribution's docs/spec/auth/scope.md).
 */
#include <stdlib.h>
#include <string.h>

#include "auth_token.h"

static const struct {
	const char *type;
	const char *name;
	unsigned bit;
} action_table[] = {
	{"repository", "pull", ATOK_PULL},
	{"repository", "push", ATOK_PUSH},
	{"repository", "delete", ATOK_DELETE},
	{"registry", "run", ATOK_RUN},
	{"route", "GET", ATOK_GET},
	{"route", "HEAD", ATOK_HEAD},
	{"route", "POST", ATOK_POST},
	{"route", "PUT", ATOK_PUT},
	{"route", "PATCH", ATOK_PATCH},
	{"route", "DELETE", ATOK_HTTP_DELETE},
};

unsigned atok_action_bit(const char *type, const char *action)
{
	if (!type || !action)
		return 0;
	if (strcmp(action, "*") == 0)
		return ATOK_ALL;
	for (size_t i = 0; i < sizeof(action_table) / sizeof(action_table[0]); i++)
		if (strcmp(action_table[i].type, type) == 0 &&
		    strcmp(action_table[i].name, action) == 0)
			return action_table[i].bit;
	return 0;
}

int atok_actions_cover(unsigned allowed, unsigned bit)
{
	return bit != 0 && ((allowed & ATOK_ALL) || (allowed & bit) == bit);
}

const char *atok_action_name(const char *type, unsigned bit)
{
	if (bit == ATOK_ALL)
		return "*";
	for (size_t i = 0; i < sizeof(action_table) / sizeof(action_table[0]); i++)
		if (action_table[i].bit == bit && strcmp(action_table[i].type, type) == 0)
			return action_table[i].name;
	return NULL;
}

unsigned atok_type_actions(const char *type)
{
	unsigned all = 0;

	for (size_t i = 0; i < sizeof(action_table) / sizeof(action_table[0]); i++)
		if (strcmp(action_table[i].type, type) == 0)
			all |= action_table[i].bit;
	return all;
}

static int lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * path-component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*, components joined by
 * '/', at most 255 bytes in all.
 */
int atok_repository_name_valid(const char *name)
{
	const char *p = name;
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > 255)
		return 0;
	for (;;) {
		if (!lower_alnum(*p))
			return 0;
		while (lower_alnum(*p))
			p++;
		if (*p == '\0')
			return 1;
		if (*p == '/') {
			p++;
			continue;
		}
		if (*p == '.') {
			p++;
		} else if (*p == '_') {
			p++;
			if (*p == '_')
				p++;
		} else if (*p == '-') {
			while (*p == '-')
				p++;
		} else {
			return 0;
		}
		if (!lower_alnum(*p))
			return 0;
	}
}

void atok_access_list_free(atok_access_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].type);
		free(l->v[i].name);
		for (size_t k = 0; k < l->v[i].n_actions; k++)
			free(l->v[i].actions[k]);
		free(l->v[i].actions);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static atok_access *entry_for(atok_access_list *l, const char *type, const char *name)
{
	atok_access *v, *e;

	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].type, type) == 0 && strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	if (l->n >= ATOK_ACCESS_MAX)
		return NULL;
	v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	l->v = v;
	e = &v[l->n];
	memset(e, 0, sizeof(*e));
	e->type = strdup(type);
	e->name = strdup(name);
	if (!e->type || !e->name) {
		free(e->type);
		free(e->name);
		return NULL;
	}
	l->n++;
	return e;
}

int atok_access_list_add(atok_access_list *l, const char *type, const char *name,
			 const char *action)
{
	atok_access *e = entry_for(l, type, name);
	char **v;

	if (!e)
		return BERTH_E_NOMEM;
	if (!action)
		return 0;
	for (size_t k = 0; k < e->n_actions; k++)
		if (strcmp(e->actions[k], action) == 0)
			return 0;
	v = realloc(e->actions, (e->n_actions + 1) * sizeof(*v));
	if (!v)
		return BERTH_E_NOMEM;
	e->actions = v;
	v[e->n_actions] = strdup(action);
	if (!v[e->n_actions])
		return BERTH_E_NOMEM;
	e->n_actions++;
	return 0;
}

int atok_access_list_allows(const atok_access_list *l, const char *type, const char *name,
			    const char *action)
{
	for (size_t i = 0; l && i < l->n; i++) {
		const atok_access *e = &l->v[i];
		if (strcmp(e->type, type) != 0 || strcmp(e->name, name) != 0)
			continue;
		for (size_t k = 0; k < e->n_actions; k++)
			if (strcmp(e->actions[k], action) == 0 || strcmp(e->actions[k], "*") == 0)
				return 1;
	}
	return 0;
}

/* A name is copied into quoted header parameters and JSON: keep it plain. */
static int name_chars_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == ',')
			return 0;
	}
	return 1;
}

static int action_chars_ok(const char *s, size_t n)
{
	if (n == 0 || n > 16)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '*'))
			return 0;
	return 1;
}

/* One "type:name:actions" of len bytes; 1 added, 0 malformed, <0 out of memory. */
static int scope_one(const char *s, size_t len, atok_access_list *out)
{
	const char *first = memchr(s, ':', len), *last = NULL, *paren;
	char type[32], name[ATOK_NAME_MAX + 1], action[17];
	size_t type_len, name_len, pos;
	int rc;

	for (size_t i = len; i > 0; i--)
		if (s[i - 1] == ':') {
			last = s + i - 1;
			break;
		}
	if (!first || last == first)
		return 0;
	type_len = (size_t)(first - s);
	/* A resource class, "repository(plugin)", is deprecated and ignored. */
	paren = memchr(s, '(', type_len);
	if (paren) {
		if (s[type_len - 1] != ')')
			return 0;
		type_len = (size_t)(paren - s);
	}
	name_len = (size_t)(last - first - 1);
	if (type_len == 0 || type_len >= sizeof(type) || name_len == 0 || name_len > ATOK_NAME_MAX)
		return 0;
	for (size_t i = 0; i < type_len; i++)
		if (s[i] < 'a' || s[i] > 'z')
			return 0;
	if (!name_chars_ok(first + 1, name_len))
		return 0;
	memcpy(type, s, type_len);
	type[type_len] = '\0';
	memcpy(name, first + 1, name_len);
	name[name_len] = '\0';
	pos = (size_t)(last - s) + 1;
	while (pos <= len) {
		const char *comma = memchr(s + pos, ',', len - pos);
		size_t a_len = comma ? (size_t)(comma - (s + pos)) : len - pos;
		if (a_len > 0) {
			if (!action_chars_ok(s + pos, a_len))
				return 0;
			memcpy(action, s + pos, a_len);
			action[a_len] = '\0';
			rc = atok_access_list_add(out, type, name, action);
			if (rc < 0)
				return rc;
		}
		pos += a_len + 1;
	}
	return 1;
}

int atok_scope_parse(const char *text, atok_access_list *out, size_t *bad)
{
	const char *p = text;
	size_t count = 0;

	while (p && *p) {
		size_t len;
		int rc;

		while (*p == ' ')
			p++;
		len = strcspn(p, " ");
		if (len == 0)
			break;
		if (++count > ATOK_SCOPES_MAX) {
			if (bad)
				(*bad)++;
			break;
		}
		rc = scope_one(p, len, out);
		if (rc < 0)
			return rc;
		if (rc == 0 && bad)
			(*bad)++;
		p += len;
	}
	return 0;
}

int atok_access_list_scope(const atok_access_list *l, char *out, size_t cap)
{
	size_t n = 0;

	if (cap == 0)
		return -1;
	out[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		const atok_access *e = &l->v[i];
		size_t need;

		if (e->n_actions == 0)
			continue;
		need = (n ? 1 : 0) + strlen(e->type) + 1 + strlen(e->name) + 1;
		for (size_t k = 0; k < e->n_actions; k++)
			need += strlen(e->actions[k]) + (k ? 1 : 0);
		if (n + need >= cap)
			return -1;
		n += (size_t)snprintf(out + n, cap - n, "%s%s:%s:", n ? " " : "", e->type, e->name);
		for (size_t k = 0; k < e->n_actions; k++)
			n += (size_t)snprintf(out + n, cap - n, "%s%s", k ? "," : "", e->actions[k]);
	}
	return 0;
}

/*
 * webhook_filter.c - which events an endpoint wants: by event type and by
 * repository glob.
 *
 * The glob matcher walks the pattern once and keeps, for each position in
 * the name, whether the pattern so far can end there. Every step is linear
 * in the name, so a pattern like "*a*a*a*a*b" costs the same as "a": no
 * backtracking that a long repository name could make explode.
 */
#include <stdlib.h>
#include <string.h>

#include "webhook.h"

/* Repository names are at most 255 bytes by the spec; events carry up to 4096. */
#define NAME_MAX_MATCHED 4096

int webhook_glob_match(const char *pattern, const char *name)
{
	unsigned char reach[NAME_MAX_MATCHED + 1], next[NAME_MAX_MATCHED + 1];
	size_t n = strlen(name), i;
	const char *p = pattern;
	int any;

	if (n > NAME_MAX_MATCHED)
		return 0;
	memset(reach, 0, n + 1);
	reach[0] = 1;
	while (*p) {
		memset(next, 0, n + 1);
		if (p[0] == '*' && p[1] == '*') {
			p += 2;
			if (*p == '/') {
				/* "**" + "/": nothing, or any run that ends with '/'. */
				p++;
				any = 0;
				for (i = 0; i <= n; i++) {
					if (i > 0 && name[i - 1] == '/' && any)
						next[i] = 1;
					if (reach[i]) {
						next[i] = 1;
						any = 1;
					}
				}
			} else {
				any = 0;
				for (i = 0; i <= n; i++) {
					any |= reach[i];
					next[i] = (unsigned char)any;
				}
			}
		} else if (*p == '*') {
			p++;
			any = 0;
			for (i = 0; i <= n; i++) {
				any |= reach[i];
				next[i] = (unsigned char)any;
				if (i < n && name[i] == '/')
					any = 0;
			}
		} else {
			char c = *p++;

			for (i = 0; i < n; i++)
				if (reach[i] && (c == '?' ? name[i] != '/' : name[i] == c))
					next[i + 1] = 1;
		}
		memcpy(reach, next, n + 1);
	}
	return reach[n];
}

int webhook_filter_pass(const struct webhook_config *c, const char *type, const char *repository)
{
	size_t i;
	int ok;

	if (c->n_actions) {
		ok = 0;
		for (i = 0; i < c->n_actions && !ok; i++)
			ok = type && strcmp(c->actions[i], type) == 0;
		if (!ok)
			return 0;
	}
	if (c->n_repositories) {
		/* An event about no repository (a plugin's own) cannot match a pattern. */
		if (!repository)
			return 0;
		ok = 0;
		for (i = 0; i < c->n_repositories && !ok; i++)
			ok = webhook_glob_match(c->repositories[i], repository);
		if (!ok)
			return 0;
	}
	return 1;
}

/*
 * trivy_glob.c - match repository names against policy patterns (see
 * trivy_glob.h). reach[j] says whether the pattern read so far can consume
 * exactly the first j bytes of the name; each pattern token turns one row
 * into the next.
 */
#include "trivy_glob.h"

#include <stdio.h>
#include <string.h>

int trivy_glob_match(const char *pattern, const char *name)
{
	unsigned char rows[2][TRIVY_NAME_MAX + 1];
	unsigned char *cur = rows[0], *next = rows[1], *swap;
	size_t n = strlen(name), j;
	const char *p = pattern;

	if (n > TRIVY_NAME_MAX)
		return 0;
	memset(cur, 0, n + 1);
	cur[0] = 1;
	while (*p) {
		memset(next, 0, n + 1);
		if (p[0] == '*' && p[1] == '*' && p[2] == '/') {
			/* Nothing, or anything that ends a segment. */
			int seen = 0;
			for (j = 0; j <= n; j++) {
				next[j] = cur[j] || (j > 0 && name[j - 1] == '/' && seen);
				seen |= cur[j];
			}
			p += 3;
		} else if (p[0] == '*' && p[1] == '*') {
			int seen = 0;
			for (j = 0; j <= n; j++) {
				seen |= cur[j];
				next[j] = (unsigned char)seen;
			}
			p += 2;
		} else if (p[0] == '*') {
			for (j = 0; j <= n; j++)
				next[j] = cur[j] || (j > 0 && next[j - 1] && name[j - 1] != '/');
			p++;
		} else {
			for (j = 0; j < n; j++)
				next[j + 1] = cur[j] && (*p == '?' ? name[j] != '/' : name[j] == *p);
			p++;
		}
		swap = cur;
		cur = next;
		next = swap;
	}
	return cur[n];
}

int trivy_glob_check(const char *pattern, char *why, size_t cap)
{
	size_t len = strlen(pattern);

	if (len == 0 || len > TRIVY_NAME_MAX) {
		snprintf(why, cap, "a pattern is 1 to %d characters", TRIVY_NAME_MAX);
		return -1;
	}
	if (pattern[0] == '/' || pattern[len - 1] == '/' || strstr(pattern, "//")) {
		snprintf(why, cap, "'%s' has an empty path segment", pattern);
		return -1;
	}
	if (strstr(pattern, "***")) {
		snprintf(why, cap, "'%s' has three stars in a row (use * or **)", pattern);
		return -1;
	}
	for (const char *p = pattern; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("._-/*?", *p))
			continue;
		snprintf(why, cap, "'%s' holds '%c': repository names are lower case letters, "
			 "digits, '.', '_', '-' and '/'", pattern,
			 (*p >= 0x20 && *p < 0x7f) ? *p : '?');
		return -1;
	}
	return 0;
}

/*
 * sig_glob.c - repository patterns of policies: `*` matches within one
 * path segment, `**` any run of characters across segments (so "team/" then
 * `**` matches every repository under team/ at any depth, and `**` alone
 * every repository), anything else literally.
 */
#include <stdio.h>
#include <string.h>

#include "sig.h"

#define SIG_GLOB_MAX 256

int sig_glob_match(const char *pattern, const char *name)
{
	/* Patterns come from the operator and are short (sig_glob_check): recursion is fine. */
	if (!*pattern)
		return !*name;
	if (pattern[0] == '*' && pattern[1] == '*') {
		const char *rest = pattern + 2;
		if (*rest == '/') {
			/* "**" followed by "/": zero segments, or any prefix ending in '/'. */
			if (sig_glob_match(rest + 1, name))
				return 1;
			for (const char *s = name; *s; s++)
				if (*s == '/' && sig_glob_match(rest + 1, s + 1))
					return 1;
			return 0;
		}
		for (const char *s = name;; s++) {
			if (sig_glob_match(rest, s))
				return 1;
			if (!*s)
				return 0;
		}
	}
	if (pattern[0] == '*') {
		for (const char *s = name;; s++) {
			if (sig_glob_match(pattern + 1, s))
				return 1;
			if (!*s || *s == '/')
				return 0;
		}
	}
	return *name && *pattern == *name && sig_glob_match(pattern + 1, name + 1);
}

int sig_glob_check(const char *pattern, char *why, size_t cap)
{
	size_t n = strlen(pattern);
	int stars = 0;

	if (n == 0 || n > SIG_GLOB_MAX) {
		snprintf(why, cap, "pattern '%.60s' is empty or longer than %d characters", pattern,
			 SIG_GLOB_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		stars = pattern[i] == '*' ? stars + 1 : 0;
		if (stars > 2) {
			snprintf(why, cap, "pattern '%.60s' has '***'", pattern);
			return -1;
		}
		if (!(pattern[i] == '*' || pattern[i] == '/' || pattern[i] == '.' ||
		      pattern[i] == '_' || pattern[i] == '-' ||
		      (pattern[i] >= 'a' && pattern[i] <= 'z') ||
		      (pattern[i] >= '0' && pattern[i] <= '9'))) {
			snprintf(why, cap, "pattern '%.60s' has '%c', which no repository name holds",
				 pattern, pattern[i]);
			return -1;
		}
	}
	return 0;
}

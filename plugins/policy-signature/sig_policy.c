/*
 * sig_policy.c - which policy applies to a repository, who bypasses it,
 * and freeing one.
 */
#include <stdlib.h>
#include <string.h>

#include "sig.h"

const sig_policy *sig_policy_match(const sig_policy *v, size_t n, const char *repository)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < v[i].n_repositories; j++)
			if (sig_glob_match(v[i].repositories[j], repository))
				return &v[i];
	return NULL;
}

int sig_policy_bypassed(const sig_policy *p, const char *name, const char *groups)
{
	if (name && *name)
		for (size_t i = 0; i < p->n_bypass_identities; i++)
			if (strcmp(p->bypass_identities[i], name) == 0)
				return 1;
	for (const char *g = groups; g && *g;) {
		const char *end = strchr(g, ',');
		size_t len = end ? (size_t)(end - g) : strlen(g);

		while (len && *g == ' ') {
			g++;
			len--;
		}
		while (len && g[len - 1] == ' ')
			len--;
		for (size_t i = 0; len && i < p->n_bypass_groups; i++)
			if (strlen(p->bypass_groups[i]) == len &&
			    memcmp(p->bypass_groups[i], g, len) == 0)
				return 1;
		g = end ? end + 1 : g + strlen(g);
	}
	return 0;
}

void sig_policy_clear(sig_policy *p)
{
	for (size_t i = 0; i < p->n_repositories; i++)
		free(p->repositories[i]);
	for (size_t i = 0; i < p->n_keys; i++)
		sig_key_clear(&p->keys[i]);
	for (size_t i = 0; i < p->n_identity_hosts; i++)
		free(p->identity_hosts[i]);
	for (size_t i = 0; i < p->n_bypass_identities; i++)
		free(p->bypass_identities[i]);
	for (size_t i = 0; i < p->n_bypass_groups; i++)
		free(p->bypass_groups[i]);
	free(p->repositories);
	free(p->keys);
	free(p->identity_hosts);
	free(p->bypass_identities);
	free(p->bypass_groups);
	free(p->name);
	memset(p, 0, sizeof(*p));
}

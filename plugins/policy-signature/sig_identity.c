/*
 * sig_identity.c - does the docker-reference a signature carries name what
 * is being pulled?
 *
 * c/image signs "host/repo:tag" and cosign "host/repo". The registry does
 * not know the name clients reach it by, so the host part is checked only
 * against the policy's identity_hosts when it lists any. `repository` mode
 * compares the repository only (what cosign signs); `exact` mode also
 * requires the pulled tag, and by digest the repository (the rule of
 * c/image's matchRepoDigestOrExact).
 */
#include <string.h>

#include "sig.h"

typedef struct parsed_ref {
	const char *host;       /* not NUL-terminated: host_len */
	size_t host_len;
	const char *path;
	size_t path_len;
	const char *tag;        /* NULL when none */
	size_t tag_len;
} parsed_ref;

static int looks_like_host(const char *s, size_t n)
{
	return memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && memcmp(s, "localhost", 9) == 0);
}

static void parse_ref(const char *ref, parsed_ref *p)
{
	const char *end = strchr(ref, '@');
	const char *slash, *colon;
	size_t n = end ? (size_t)(end - ref) : strlen(ref);

	memset(p, 0, sizeof(*p));
	slash = memchr(ref, '/', n);
	if (slash && looks_like_host(ref, (size_t)(slash - ref))) {
		p->host = ref;
		p->host_len = (size_t)(slash - ref);
		ref = slash + 1;
		n -= p->host_len + 1;
	}
	p->path = ref;
	p->path_len = n;
	/* A colon after the last slash starts the tag. */
	slash = NULL;
	for (size_t i = 0; i < n; i++)
		if (ref[i] == '/')
			slash = ref + i;
	colon = memchr(slash ? slash : ref, ':', n - (size_t)((slash ? slash : ref) - ref));
	if (colon) {
		p->path_len = (size_t)(colon - ref);
		p->tag = colon + 1;
		p->tag_len = n - p->path_len - 1;
	}
}

static int host_allowed(const parsed_ref *p, char *const *hosts, size_t n_hosts)
{
	if (n_hosts == 0)
		return 1;
	for (size_t i = 0; p->host && i < n_hosts; i++)
		if (strlen(hosts[i]) == p->host_len && memcmp(hosts[i], p->host, p->host_len) == 0)
			return 1;
	return 0;
}

int sig_identity_match(int mode, const char *reference, const char *repository,
		       const char *tag, char *const *hosts, size_t n_hosts)
{
	parsed_ref p;

	if (mode == SIG_IDENTITY_OFF)
		return 1;
	if (!reference || !repository)
		return 0;
	parse_ref(reference, &p);
	if (!host_allowed(&p, hosts, n_hosts) || p.path_len != strlen(repository) ||
	    memcmp(p.path, repository, p.path_len) != 0)
		return 0;
	if (mode == SIG_IDENTITY_REPOSITORY || !tag)
		return 1;
	return p.tag && p.tag_len == strlen(tag) && memcmp(p.tag, tag, p.tag_len) == 0 &&
	       !strchr(reference, '@');
}

/*
 * trivy_ref.c - parse /berth/v1/scans/ paths (see trivy_ref.h).
 */
#include "trivy_ref.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "berth/plugin.h"

static int lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int trivy_repository_valid(const char *name)
{
	const char *p = name;
	size_t len = strlen(name);

	if (len == 0 || len > TRIVY_NAME_MAX)
		return 0;
	for (;;) {
		/* One component: alnum runs joined by one separator each. */
		if (!lower_alnum(*p))
			return 0;
		while (lower_alnum(*p))
			p++;
		while (*p == '.' || *p == '_' || *p == '-') {
			if (*p == '.' || (*p == '_' && p[1] != '_')) {
				p++;
			} else if (*p == '_') {
				p += 2;
			} else {
				while (*p == '-')
					p++;
			}
			if (!lower_alnum(*p))
				return 0;
			while (lower_alnum(*p))
				p++;
		}
		if (*p == '\0')
			return 1;
		if (*p != '/')
			return 0;
		p++;
	}
}

int trivy_tag_valid(const char *tag)
{
	size_t len = strlen(tag);

	if (len == 0 || len > TRIVY_TAG_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = tag[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 c == '_' || (i > 0 && (c == '.' || c == '-'));
		if (!ok)
			return 0;
	}
	return 1;
}

int trivy_digest_valid(const char *digest)
{
	size_t hex;
	const char *p;

	if (strncmp(digest, "sha256:", 7) == 0)
		hex = 64;
	else if (strncmp(digest, "sha512:", 7) == 0)
		hex = 128;
	else
		return 0;
	for (p = digest + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return (size_t)(p - digest - 7) == hex;
}

BERTH_PRINTF(3, 4)
static int fail(berth_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

int trivy_target_parse(const char *path, trivy_target *t, berth_error *err)
{
	static const struct {
		const char *suffix;
		int view;
	} views[] = {{"/vulnerabilities", TRIVY_VIEW_VULNERABILITIES}, {"/raw", TRIVY_VIEW_RAW}};
	char buf[TRIVY_NAME_MAX + TRIVY_DIGEST_MAX + 32];
	size_t len = strlen(path);
	char *at, *slash, *colon, *ref;

	memset(t, 0, sizeof(*t));
	if (len >= sizeof(buf))
		return fail(err, BERTH_E_NAME, "%s", "the path is too long for <repository>@<digest>");
	memcpy(buf, path, len + 1);
	for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
		size_t sl = strlen(views[i].suffix);
		if (len > sl && strcmp(buf + len - sl, views[i].suffix) == 0) {
			buf[len - sl] = '\0';
			t->view = views[i].view;
			break;
		}
	}
	at = strchr(buf, '@');
	if (at) {
		*at = '\0';
		ref = at + 1;
		t->by_digest = 1;
	} else {
		slash = strrchr(buf, '/');
		colon = strchr(slash ? slash : buf, ':');
		if (!colon)
			return fail(err, BERTH_E_INVALID, "%s",
				    "expected /berth/v1/scans/<repository>@<digest> or "
				    "/berth/v1/scans/<repository>:<tag>");
		*colon = '\0';
		ref = colon + 1;
	}
	if (!trivy_repository_valid(buf))
		return fail(err, BERTH_E_NAME, "invalid repository name '%.255s'", buf);
	if (t->by_digest && !trivy_digest_valid(ref))
		return fail(err, BERTH_E_DIGEST,
			    "invalid digest '%.140s' (expected sha256:<64 hex digits>)", ref);
	if (!t->by_digest && !trivy_tag_valid(ref))
		return fail(err, BERTH_E_INVALID, "invalid tag '%.140s'", ref);
	/* Both were just checked against their maximum lengths. */
	memcpy(t->repository, buf, strlen(buf) + 1);
	memcpy(t->reference, ref, strlen(ref) + 1);
	return 0;
}

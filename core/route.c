/*
 * route.c - matching request paths to Distribution API endpoints.
 */
#include "route.h"

#include <string.h>

#include "berth/error.h"

struct endpoint {
	const char *suffix;
	int kind;
	/* The suffix is followed by a last segment: a uuid, digest or ref. */
	int takes_segment;
};

/* In priority order; see route.h for why the order matters. */
static const struct endpoint endpoints[] = {
	{ "/blobs/uploads/", ROUTE_UPLOAD, 1 },
	{ "/blobs/uploads/", ROUTE_UPLOAD_START, 0 },
	{ "/blobs/uploads", ROUTE_UPLOAD_START, 0 },
	{ "/blobs/", ROUTE_BLOB, 1 },
	{ "/manifests/", ROUTE_MANIFEST, 1 },
	{ "/tags/list", ROUTE_TAGS, 0 },
	{ "/referrers/", ROUTE_REFERRERS, 1 },
};

#define ENDPOINT_COUNT (sizeof(endpoints) / sizeof(endpoints[0]))

static int ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/*
 * Match rest (the path after "/v2", starting with '/') against one endpoint.
 * On a match, *name_end is where the suffix starts in rest.
 */
static int endpoint_match(const struct endpoint *e, const char *rest, size_t len,
			  size_t segment_start, size_t *name_end)
{
	size_t head = len;

	if (e->takes_segment) {
		if (segment_start == len)
			return 0;
		head = segment_start;
	}
	if (!ends_with(rest, head, e->suffix))
		return 0;
	*name_end = head - strlen(e->suffix);
	return 1;
}

int route_parse(const char *path, route *out)
{
	const struct endpoint *e = NULL;
	const char *rest;
	size_t len, segment_start, name_end = 0, name_len, ref_len, i;
	int rc = 0;

	if (!out)
		return BERTH_E_INVALID;
	memset(out, 0, sizeof(*out));
	if (!path) {
		out->kind = ROUTE_NOT_FOUND;
		return BERTH_E_INVALID;
	}
	/* "/v2" must be a whole segment: "/v2x" belongs to someone else. */
	if (strncmp(path, "/v2", 3) != 0 || (path[3] != '\0' && path[3] != '/')) {
		out->kind = ROUTE_OTHER;
		return 0;
	}
	rest = path + 3;
	len = strlen(rest);
	if (len <= 1) {
		out->kind = ROUTE_BASE;
		return 0;
	}
	if (strcmp(rest, "/_catalog") == 0) {
		out->kind = ROUTE_CATALOG;
		return 0;
	}

	segment_start = len;
	while (rest[segment_start - 1] != '/')
		segment_start--;
	for (i = 0; i < ENDPOINT_COUNT; i++) {
		if (endpoint_match(&endpoints[i], rest, len, segment_start, &name_end)) {
			e = &endpoints[i];
			break;
		}
	}
	if (!e) {
		out->kind = ROUTE_NOT_FOUND;
		return 0;
	}
	out->kind = e->kind;

	/* rest[0] is the '/' after "v2"; the name lies between it and the suffix. */
	name_len = name_end > 0 ? name_end - 1 : 0;
	if (name_len == 0 || name_len > REPO_NAME_MAX) {
		rc = BERTH_E_NAME;
	} else {
		memcpy(out->name, rest + 1, name_len);
		out->name[name_len] = '\0';
		out->name_valid = repo_name_valid_n(out->name, name_len);
	}

	if (e->takes_segment) {
		ref_len = len - segment_start;
		if (ref_len > ROUTE_REF_MAX) {
			if (rc == 0)
				rc = BERTH_E_INVALID;
		} else {
			memcpy(out->ref, rest + segment_start, ref_len);
			out->ref[ref_len] = '\0';
		}
	}
	return rc;
}

static int is_lower_hex(char c)
{
	return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
}

int upload_uuid_valid(const char *s)
{
	size_t i;

	if (!s)
		return 0;
	for (i = 0; i < 36; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!is_lower_hex(c)) {
			return 0;
		}
	}
	/* RFC 4122 4.4: version 4, variant 10xx. */
	return s[36] == '\0' && s[14] == '4' &&
	       (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}

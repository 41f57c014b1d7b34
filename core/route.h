/*
 * route.h - which Distribution API endpoint a request path names.
 *
 * The path is the one libmicrohttpd hands over, already percent-decoded, so
 * "%2e%2e" arrives as ".." and is refused by the name grammar like any other
 * malformed name.
 */
#ifndef BERTH_ROUTE_H
#define BERTH_ROUTE_H

#include "reference.h"

enum route_kind {
	ROUTE_NOT_FOUND = 0,
	ROUTE_OTHER,            /* not under /v2: a plugin's route, or nothing */
	ROUTE_BASE,             /* /v2/ and /v2 */
	ROUTE_CATALOG,          /* /v2/_catalog */
	ROUTE_TAGS,             /* /v2/<name>/tags/list */
	ROUTE_MANIFEST,         /* /v2/<name>/manifests/<ref> */
	ROUTE_BLOB,             /* /v2/<name>/blobs/<digest> */
	ROUTE_UPLOAD_START,     /* /v2/<name>/blobs/uploads/ (slash optional) */
	ROUTE_UPLOAD,           /* /v2/<name>/blobs/uploads/<uuid> */
	ROUTE_REFERRERS,        /* /v2/<name>/referrers/<digest> */
	/* Set by the dispatcher, never by route_parse: */
	ROUTE_PLUGIN,           /* a plugin's own route */
	ROUTE_ADMIN             /* /berth/v1/... */
};

#define ROUTE_REF_MAX 255

typedef struct route {
	int kind;
	char name[REPO_NAME_MAX + 1];   /* repository, "" when none */
	char ref[ROUTE_REF_MAX + 1];    /* tag, digest string or upload uuid, "" when none */
	int name_valid;                 /* repo_name_valid(name); the caller answers NAME_INVALID when 0 */
} route;

/*
 * Classify a request path. The repository name may itself contain '/', so
 * the path is matched from the right: the endpoint is the suffix, the name
 * is everything between "/v2/" and it. Suffixes are tried in this order and
 * the first that fits wins:
 *
 *   /blobs/uploads/<uuid>   /blobs/uploads/   /blobs/uploads
 *   /blobs/<digest>   /manifests/<ref>   /tags/list   /referrers/<digest>
 *
 * where <uuid>, <digest> and <ref> are the last segment: non-empty, no '/'.
 * So "/v2/a/blobs/uploads" starts an upload in "a", while
 * "/v2/a/blobs/uploads/blobs/sha256:..." is a blob of "a/blobs/uploads"
 * (its last segment follows "/blobs", not "/blobs/uploads"): the same
 * answers CNCF Distribution's router gives.
 *
 * Returns 0; BERTH_E_NAME when the name part is empty or longer than
 * REPO_NAME_MAX (kind is still set, name is ""); BERTH_E_INVALID when the
 * last segment is longer than ROUTE_REF_MAX (ref is ""). A name that fits
 * but breaks the grammar ("..", "//", uppercase, a leading or trailing '/')
 * returns 0 with name_valid 0. Paths not starting with the "/v2" segment
 * give ROUTE_OTHER; anything else under /v2 gives ROUTE_NOT_FOUND.
 */
int route_parse(const char *path, route *out);

/*
 * Upload UUIDs Berth generates are lowercase RFC 4122 version 4 strings:
 * xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx. 1 for exactly that shape.
 */
int upload_uuid_valid(const char *s);

#endif /* BERTH_ROUTE_H */

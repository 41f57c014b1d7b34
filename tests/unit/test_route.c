/*
 * test_route.c - request paths to Distribution API endpoints.
 */
#include <string.h>

#include "berth/error.h"
#include "route.h"
#include "test.h"

#define SHA256_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define DGST "sha256:" SHA256_ABC
#define UUID "3f2b9c1e-7a4d-4e8b-9c0d-1a2b3c4d5e6f"

struct route_case {
	const char *path;
	int rc;
	int kind;
	const char *name;
	const char *ref;
	int name_valid;
};

static const struct route_case cases[] = {
	{ "/v2", 0, ROUTE_BASE, "", "", 0 },
	{ "/v2/", 0, ROUTE_BASE, "", "", 0 },
	{ "/v2/_catalog", 0, ROUTE_CATALOG, "", "", 0 },
	{ "/v2/_catalog/", 0, ROUTE_NOT_FOUND, "", "", 0 },

	{ "/v2/a/manifests/latest", 0, ROUTE_MANIFEST, "a", "latest", 1 },
	{ "/v2/team/app/manifests/v1.0", 0, ROUTE_MANIFEST, "team/app", "v1.0", 1 },
	{ "/v2/a/b/c/manifests/" DGST, 0, ROUTE_MANIFEST, "a/b/c", DGST, 1 },
	{ "/v2/a/blobs/" DGST, 0, ROUTE_BLOB, "a", DGST, 1 },
	{ "/v2/library/ubuntu/blobs/" DGST, 0, ROUTE_BLOB, "library/ubuntu", DGST, 1 },
	{ "/v2/a/blobs/uploads/", 0, ROUTE_UPLOAD_START, "a", "", 1 },
	{ "/v2/a/blobs/uploads", 0, ROUTE_UPLOAD_START, "a", "", 1 },
	{ "/v2/team/app/blobs/uploads/", 0, ROUTE_UPLOAD_START, "team/app", "", 1 },
	{ "/v2/a/blobs/uploads/" UUID, 0, ROUTE_UPLOAD, "a", UUID, 1 },
	{ "/v2/a/tags/list", 0, ROUTE_TAGS, "a", "", 1 },
	{ "/v2/team/app/tags/list", 0, ROUTE_TAGS, "team/app", "", 1 },
	{ "/v2/a/referrers/" DGST, 0, ROUTE_REFERRERS, "a", DGST, 1 },

	/* The suffix decides; the name is whatever is left on the left. */
	{ "/v2/a/blobs/uploads/blobs/" DGST, 0, ROUTE_BLOB, "a/blobs/uploads", DGST, 1 },
	{ "/v2/blobs/blobs/uploads/", 0, ROUTE_UPLOAD_START, "blobs", "", 1 },
	{ "/v2/manifests/manifests/x", 0, ROUTE_MANIFEST, "manifests", "x", 1 },
	{ "/v2/tags/list/tags/list", 0, ROUTE_TAGS, "tags/list", "", 1 },
	{ "/v2/a/manifests/blobs/uploads", 0, ROUTE_UPLOAD_START, "a/manifests", "", 1 },
	{ "/v2/a/blobs/uploads/x/manifests/latest", 0, ROUTE_MANIFEST, "a/blobs/uploads/x", "latest", 1 },
	/* Last segments are passed on unvalidated; handlers check them. */
	{ "/v2/a/blobs/uploads/not-a-uuid", 0, ROUTE_UPLOAD, "a", "not-a-uuid", 1 },
	{ "/v2/a/blobs/latest", 0, ROUTE_BLOB, "a", "latest", 1 },
	{ "/v2/a/manifests/..", 0, ROUTE_MANIFEST, "a", "..", 1 },
	{ "/v2/a/blobs/uploads/..", 0, ROUTE_UPLOAD, "a", "..", 1 },

	/* Names the grammar refuses reach the handler as name_valid 0. */
	{ "/v2/../manifests/latest", 0, ROUTE_MANIFEST, "..", "latest", 0 },
	{ "/v2/a/../b/manifests/latest", 0, ROUTE_MANIFEST, "a/../b", "latest", 0 },
	{ "/v2/../../etc/blobs/" DGST, 0, ROUTE_BLOB, "../../etc", DGST, 0 },
	{ "/v2/a//b/tags/list", 0, ROUTE_TAGS, "a//b", "", 0 },
	{ "/v2//a/tags/list", 0, ROUTE_TAGS, "/a", "", 0 },
	{ "/v2/a//tags/list", 0, ROUTE_TAGS, "a/", "", 0 },
	{ "/v2/A/tags/list", 0, ROUTE_TAGS, "A", "", 0 },
	{ "/v2/Team/App/manifests/latest", 0, ROUTE_MANIFEST, "Team/App", "latest", 0 },
	{ "/v2/_catalog/tags/list", 0, ROUTE_TAGS, "_catalog", "", 0 },
	{ "/v2/a b/tags/list", 0, ROUTE_TAGS, "a b", "", 0 },

	/* No name at all. */
	{ "/v2/tags/list", BERTH_E_NAME, ROUTE_TAGS, "", "", 0 },
	{ "/v2/manifests/latest", BERTH_E_NAME, ROUTE_MANIFEST, "", "latest", 0 },
	{ "/v2/blobs/" DGST, BERTH_E_NAME, ROUTE_BLOB, "", DGST, 0 },
	{ "/v2/blobs/uploads/", BERTH_E_NAME, ROUTE_UPLOAD_START, "", "", 0 },
	{ "/v2/blobs/uploads", BERTH_E_NAME, ROUTE_UPLOAD_START, "", "", 0 },
	{ "/v2//blobs/uploads", BERTH_E_NAME, ROUTE_UPLOAD_START, "", "", 0 },
	{ "/v2//manifests/latest", BERTH_E_NAME, ROUTE_MANIFEST, "", "latest", 0 },

	/* Under /v2 but no endpoint. */
	{ "/v2/a", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/a/", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/a/manifests", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/a/manifests/", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/a/manifests/latest/", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/a/blobs", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/a/blobs/", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/a/blobs/uploads//", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/a/blobs/uploads/" UUID "/", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/a/tags", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/a/tags/", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/a/tags/list/", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/a/tags/lists", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/a/referrers", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/a/referrers/", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/a/Manifests/latest", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/a/manifest/latest", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2//", 0, ROUTE_NOT_FOUND, "", "", 0 },
	{ "/v2/_catalogs", 0, ROUTE_NOT_FOUND, "", "", 0 },

	/* Not the /v2 segment at all. */
	{ "", 0, ROUTE_OTHER, "", "", 0 },
	{ "/", 0, ROUTE_OTHER, "", "", 0 },
	{ "/v", 0, ROUTE_OTHER, "", "", 0 },
	{ "/v1/", 0, ROUTE_OTHER, "", "", 0 },
	{ "/v2x", 0, ROUTE_OTHER, "", "", 0 },
	{ "/v20/a/tags/list", 0, ROUTE_OTHER, "", "", 0 },
	{ "/V2/", 0, ROUTE_OTHER, "", "", 0 },
	{ "v2/", 0, ROUTE_OTHER, "", "", 0 },
	{ "//v2/", 0, ROUTE_OTHER, "", "", 0 },
	{ "/token", 0, ROUTE_OTHER, "", "", 0 },
	{ "/metrics", 0, ROUTE_OTHER, "", "", 0 },
};

static void test_table(void)
{
	size_t i;
	route r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct route_case *c = &cases[i];
		int rc = route_parse(c->path, &r);

		if (rc != c->rc || r.kind != c->kind || strcmp(r.name, c->name) ||
		    strcmp(r.ref, c->ref) || r.name_valid != c->name_valid)
			fprintf(stderr, "path \"%s\"\n", c->path);
		CHECK_INT(rc, c->rc);
		CHECK_INT(r.kind, c->kind);
		CHECK_STR(r.name, c->name);
		CHECK_STR(r.ref, c->ref);
		CHECK_INT(r.name_valid, c->name_valid);
	}
}

static void test_lengths(void)
{
	char path[1024], name[REPO_NAME_MAX + 2], ref[ROUTE_REF_MAX + 2];
	route r;

	/* A 255-character name fits and is valid; 256 does not fit. */
	memset(name, 'a', sizeof(name));
	name[REPO_NAME_MAX] = '\0';
	snprintf(path, sizeof(path), "/v2/%s/tags/list", name);
	CHECK_INT(route_parse(path, &r), 0);
	CHECK_INT(r.kind, ROUTE_TAGS);
	CHECK_STR(r.name, name);
	CHECK_INT(r.name_valid, 1);

	name[REPO_NAME_MAX] = 'a';
	name[REPO_NAME_MAX + 1] = '\0';
	snprintf(path, sizeof(path), "/v2/%s/manifests/latest", name);
	CHECK_INT(route_parse(path, &r), BERTH_E_NAME);
	CHECK_INT(r.kind, ROUTE_MANIFEST);
	CHECK_STR(r.name, "");
	CHECK_INT(r.name_valid, 0);
	CHECK_STR(r.ref, "latest");

	/* A 255-character last segment fits; 256 does not. */
	memset(ref, 'x', sizeof(ref));
	ref[ROUTE_REF_MAX] = '\0';
	snprintf(path, sizeof(path), "/v2/a/manifests/%s", ref);
	CHECK_INT(route_parse(path, &r), 0);
	CHECK_STR(r.ref, ref);

	ref[ROUTE_REF_MAX] = 'x';
	ref[ROUTE_REF_MAX + 1] = '\0';
	snprintf(path, sizeof(path), "/v2/a/manifests/%s", ref);
	CHECK_INT(route_parse(path, &r), BERTH_E_INVALID);
	CHECK_INT(r.kind, ROUTE_MANIFEST);
	CHECK_STR(r.name, "a");
	CHECK_INT(r.name_valid, 1);
	CHECK_STR(r.ref, "");

	/* Both too long: the name is reported first. */
	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", name, ref);
	CHECK_INT(route_parse(path, &r), BERTH_E_NAME);
	CHECK_INT(r.kind, ROUTE_BLOB);

	CHECK_INT(route_parse(NULL, &r), BERTH_E_INVALID);
	CHECK_INT(r.kind, ROUTE_NOT_FOUND);
	CHECK_INT(route_parse("/v2/", NULL), BERTH_E_INVALID);
}

static void test_uuid(void)
{
	static const char *const good[] = {
		UUID,
		"00000000-0000-4000-8000-000000000000",
		"ffffffff-ffff-4fff-bfff-ffffffffffff",
		"12345678-9abc-4def-a123-456789abcdef",
	};
	static const char *const bad[] = {
		"",
		"3F2B9C1E-7A4D-4E8B-9C0D-1A2B3C4D5E6F",     /* uppercase */
		"3f2b9c1e-7a4d-4e8b-9c0d-1a2b3c4d5e6",      /* 35 */
		"3f2b9c1e-7a4d-4e8b-9c0d-1a2b3c4d5e6f0",    /* 37 */
		"3f2b9c1e7a4d4e8b9c0d1a2b3c4d5e6f",         /* no dashes */
		"{3f2b9c1e-7a4d-4e8b-9c0d-1a2b3c4d5e6f}",
		"3f2b9c1e-7a4d-1e8b-9c0d-1a2b3c4d5e6f",     /* version 1 */
		"3f2b9c1e-7a4d-4e8b-7c0d-1a2b3c4d5e6f",     /* variant 0xxx */
		"3f2b9c1e-7a4d-4e8b-cc0d-1a2b3c4d5e6f",     /* variant 110x */
		"3f2b9c1e_7a4d-4e8b-9c0d-1a2b3c4d5e6f",
		"3f2b9c1e-7a4d-4e8b-9c0d-1a2b3c4d5e6g",
		"3f2b9c1-e7a4d-4e8b-9c0d-1a2b3c4d5e6f",
		"../../../../../../../../../../../..",
		"3f2b9c1e-7a4d-4e8b-9c0d-1a2b3c4d5e6/",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK_INT(upload_uuid_valid(good[i]), 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (upload_uuid_valid(bad[i]))
			fprintf(stderr, "uuid \"%s\"\n", bad[i]);
		CHECK_INT(upload_uuid_valid(bad[i]), 0);
	}
	CHECK_INT(upload_uuid_valid(NULL), 0);
}

int main(void)
{
	test_table();
	test_lengths();
	test_uuid();
	TEST_MAIN_END();
}

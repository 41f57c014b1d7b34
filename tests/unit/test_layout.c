/*
 * test_layout.c - the storage keys of the registry:2 layout.
 *
 * The expected strings are Distribution's own paths (registry/storage/
 * paths.go), so a change here that breaks adoption of a registry:2 root
 * fails this test.
 */
#include <string.h>

#include "berth/error.h"
#include "layout.h"
#include "test.h"

#define HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

int main(void)
{
	layout_key k;
	digest d, d512;

	CHECK_INT(digest_parse("sha256:" HEX, &d), 0);
	CHECK_INT(digest_parse("sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e", &d512), 0);

	CHECK_INT(layout_blob_data(k, &d), 0);
	CHECK_STR(k, "docker/registry/v2/blobs/sha256/e3/" HEX "/data");
	CHECK_INT(layout_blob_data(k, &d512), 0);
	CHECK(strncmp(k, "docker/registry/v2/blobs/sha512/cf/cf83e135", 43) == 0);

	CHECK_INT(layout_layer_link(k, "team/app", &d), 0);
	CHECK_STR(k, "docker/registry/v2/repositories/team/app/_layers/sha256/" HEX "/link");
	CHECK_INT(layout_revision_link(k, "team/app", &d), 0);
	CHECK_STR(k, "docker/registry/v2/repositories/team/app/_manifests/revisions/sha256/" HEX
		  "/link");
	CHECK_INT(layout_tag_current(k, "team/app", "v1.0"), 0);
	CHECK_STR(k, "docker/registry/v2/repositories/team/app/_manifests/tags/v1.0/current/link");
	CHECK_INT(layout_tag_index_link(k, "team/app", "v1.0", &d), 0);
	CHECK_STR(k, "docker/registry/v2/repositories/team/app/_manifests/tags/v1.0/index/sha256/" HEX
		  "/link");
	CHECK_INT(layout_tags_dir(k, "a"), 0);
	CHECK_STR(k, "docker/registry/v2/repositories/a/_manifests/tags");
	CHECK_INT(layout_upload_data(k, "a", "0f9e1c2b-6a4d-4c3e-8f7a-1b2c3d4e5f60"), 0);
	CHECK_STR(k, "docker/registry/v2/repositories/a/_uploads/0f9e1c2b-6a4d-4c3e-8f7a-1b2c3d4e5f60/data");
	CHECK_INT(layout_upload_startedat(k, "a", "0f9e1c2b-6a4d-4c3e-8f7a-1b2c3d4e5f60"), 0);
	CHECK_STR(k, "docker/registry/v2/repositories/a/_uploads/0f9e1c2b-6a4d-4c3e-8f7a-1b2c3d4e5f60/startedat");
	CHECK_INT(layout_referrer_entry(k, "a", &d, &d), 0);
	CHECK_STR(k, "docker/registry/v2/repositories/a/_berth/referrers/sha256/" HEX "/sha256-" HEX);

	/* Second line of defence: nothing unsafe becomes a key. */
	CHECK_INT(layout_layer_link(k, "../etc", &d), BERTH_E_NAME);
	CHECK_INT(layout_layer_link(k, "a/../../b", &d), BERTH_E_NAME);
	CHECK_INT(layout_repo_dir(k, "Team/App"), BERTH_E_NAME);
	CHECK_INT(layout_repo_dir(k, ""), BERTH_E_NAME);
	CHECK_INT(layout_repo_dir(k, "a//b"), BERTH_E_NAME);
	CHECK_INT(layout_tag_current(k, "a", "../x"), BERTH_E_INVALID);
	CHECK_INT(layout_tag_current(k, "a", ".hidden"), BERTH_E_INVALID);
	CHECK_INT(layout_upload_dir(k, "a", "../../../etc"), BERTH_E_INVALID);
	CHECK_INT(layout_upload_dir(k, "a", "not-a-uuid"), BERTH_E_INVALID);

	/* Link files as Distribution writes them, and with a stray newline. */
	CHECK_INT(layout_parse_link("sha256:" HEX, strlen("sha256:" HEX), &d), 0);
	CHECK_INT(layout_parse_link("sha256:" HEX "\n", strlen("sha256:" HEX "\n"), &d), 0);
	CHECK_INT(layout_parse_link("sha256:zz", 9, &d), BERTH_E_INVALID);
	CHECK_INT(layout_parse_link("", 0, &d), BERTH_E_INVALID);
	TEST_MAIN_END();
}

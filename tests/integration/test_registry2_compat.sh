#!/usr/bin/env bash
# Berth and CNCF Distribution (Debian's docker-registry) serving the same
# storage root at once: what one writes the other serves with identical
# digests and bytes, tag lists and catalogs agree, and a delete through one
# is seen by the other.
# ctest-labels: heavy
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# Distribution writes this root too and does not keep Berth's repository
# index: the catalog walks the storage per request (registry.catalog: walk).
printf 'registry:\n  catalog: walk\n' >"$TEST_TMP/catalog-walk.yaml"
berth_start compat "include: \"$TEST_TMP/catalog-walk.yaml\""
registry2_start compat "$BERTH_ROOT"
oci_manifest=application/vnd.oci.image.manifest.v1+json
docker_v2=application/vnd.docker.distribution.manifest.v2+json
accept="Accept: $oci_manifest, $docker_v2"
layout=$TEST_TMP/layout

mkdir -p "$TEST_TMP/src/a" "$TEST_TMP/src/b"
printf 'written through docker-registry\n' >"$TEST_TMP/src/a/a.txt"
seq 1 3000 >"$TEST_TMP/src/a/numbers"
printf 'written through berth\n' >"$TEST_TMP/src/b/b.txt"
random_file "$TEST_TMP/src/b/blob.bin" 8
oci_layout_image "$layout" a "$TEST_TMP/src/a"
oci_layout_image "$layout" b "$TEST_TMP/src/b"

# check_same_bytes REPO REF DIGEST: both servers serve REF with DIGEST, the
# same bytes, and every blob of it.
check_same_bytes()
{
	local repo=$1 ref=$2 digest=$3 d
	assert_eq "$(http GET "$BERTH_URL/v2/$repo/manifests/$ref" -H "$accept")" 200 "berth serves $repo:$ref"
	cp "$HTTP_BODY" "$TEST_TMP/berth.manifest"
	assert_eq "$(http_header Docker-Content-Digest)" "$digest" "berth: $repo:$ref digest"
	assert_eq "$(http GET "$REG2_URL/v2/$repo/manifests/$ref" -H "$accept")" 200 \
		"docker-registry serves $repo:$ref"
	assert_eq "$(http_header Docker-Content-Digest)" "$digest" "docker-registry: $repo:$ref digest"
	cmp -s "$HTTP_BODY" "$TEST_TMP/berth.manifest" || fail "$repo:$ref bytes differ between the servers"
	ok "$repo:$ref: identical bytes from both"
	assert_eq "$(sha256_digest "$HTTP_BODY")" "$digest" "$repo:$ref hashes to its digest"
	for d in $(jq -r '.config.digest, .layers[].digest' "$HTTP_BODY"); do
		assert_eq "$(http GET "$BERTH_URL/v2/$repo/blobs/$d")" 200 "berth serves $repo blob ${d:0:19}"
		assert_eq "$(sha256_digest "$HTTP_BODY")" "$d" "berth: $repo blob ${d:0:19} intact"
	done
}

# pull_back URL_ADDR REPO TAG DIGEST: skopeo copies it into a fresh layout;
# its manifest and blobs must be the originals.
pull_back()
{
	local addr=$1 repo=$2 tag=$3 digest=$4 out d
	out=$TEST_TMP/back-${addr//:/_}-${repo//\//_}
	run "skopeo copy $repo:$tag from $addr" skopeo_t copy --src-tls-verify=false \
		"docker://$addr/$repo:$tag" "oci:$out:$tag"
	assert_eq "$(oci_manifest_digest "$out" "$tag")" "$digest" "$repo:$tag from $addr has its digest"
	for d in $(oci_blob_digests "$layout" "$digest"); do
		cmp -s "$layout/blobs/sha256/${d#sha256:}" "$out/blobs/sha256/${d#sha256:}" ||
			fail "$repo:$tag from $addr: blob $d differs"
	done
	ok "$repo:$tag from $addr: every blob identical"
}

# --- docker-registry writes, Berth serves --------------------------------------

a_digest=$(oci_manifest_digest "$layout" a)
run "skopeo copy a to docker-registry" skopeo_t copy --dest-tls-verify=false --preserve-digests \
	"oci:$layout:a" "docker://$REG2_ADDR/compat/from-dist:v1"
check_same_bytes compat/from-dist v1 "$a_digest"
pull_back "$BERTH_ADDR" compat/from-dist v1 "$a_digest"

# Schema2 written by Distribution.
run "skopeo copy a as schema2 to docker-registry" skopeo_t copy --dest-tls-verify=false --format v2s2 \
	--digestfile "$TEST_TMP/a-v2s2.digest" "oci:$layout:a" "docker://$REG2_ADDR/compat/from-dist:schema2"
check_same_bytes compat/from-dist schema2 "$(cat "$TEST_TMP/a-v2s2.digest")"

# --- Berth writes, docker-registry serves --------------------------------------

b_digest=$(oci_manifest_digest "$layout" b)
run "skopeo copy b to berth" skopeo_t copy --dest-tls-verify=false --preserve-digests \
	"oci:$layout:b" "docker://$BERTH_ADDR/compat/from-berth:v1"
check_same_bytes compat/from-berth v1 "$b_digest"
pull_back "$REG2_ADDR" compat/from-berth v1 "$b_digest"

run "skopeo copy b as schema2 to berth" skopeo_t copy --dest-tls-verify=false --format v2s2 \
	--digestfile "$TEST_TMP/b-v2s2.digest" "oci:$layout:b" "docker://$BERTH_ADDR/compat/from-berth:schema2"
check_same_bytes compat/from-berth schema2 "$(cat "$TEST_TMP/b-v2s2.digest")"
# Distribution checks the layout as it reads it: a pull through it proves
# Berth's links are where it expects them.
run "skopeo copy schema2 b from docker-registry" skopeo_t copy --src-tls-verify=false \
	"docker://$REG2_ADDR/compat/from-berth:schema2" "dir:$TEST_TMP/dir-b"
assert_eq "$(sha256_digest "$TEST_TMP/dir-b/manifest.json")" "$(cat "$TEST_TMP/b-v2s2.digest")" \
	"docker-registry serves berth's schema2 manifest intact"

# A cross-repository mount through Berth, read through Distribution.
b_layer=$(jq -r '.layers[0].digest' "$layout/blobs/sha256/${b_digest#sha256:}")
assert_eq "$(http POST "$BERTH_URL/v2/compat/mounted/blobs/uploads/?mount=$b_layer&from=compat/from-berth")" \
	201 "berth mounts a blob into compat/mounted"
assert_eq "$(http HEAD "$REG2_URL/v2/compat/mounted/blobs/$b_layer")" 200 \
	"docker-registry sees the mounted blob"

# --- tags and catalog agree ----------------------------------------------------

for t in v2 v3; do
	run "tag from-dist:$t through docker-registry" skopeo_t copy --src-tls-verify=false \
		--dest-tls-verify=false "docker://$REG2_ADDR/compat/from-dist:v1" \
		"docker://$REG2_ADDR/compat/from-dist:$t"
	run "tag from-berth:$t through berth" skopeo_t copy --src-tls-verify=false \
		--dest-tls-verify=false "docker://$BERTH_ADDR/compat/from-berth:v1" \
		"docker://$BERTH_ADDR/compat/from-berth:$t"
done
for repo in compat/from-dist compat/from-berth; do
	assert_eq "$(http GET "$BERTH_URL/v2/$repo/tags/list")" 200 "berth: $repo tags/list"
	berth_tags=$(jq -c .tags "$HTTP_BODY")
	assert_eq "$berth_tags" '["schema2","v1","v2","v3"]' "berth: $repo tags"
	assert_eq "$(http GET "$REG2_URL/v2/$repo/tags/list")" 200 "docker-registry: $repo tags/list"
	assert_eq "$(jq -c '.tags | sort' "$HTTP_BODY")" "$berth_tags" "both list the same tags for $repo"
done
assert_eq "$(http GET "$BERTH_URL/v2/_catalog")" 200 "berth: _catalog"
berth_catalog=$(jq -c .repositories "$HTTP_BODY")
assert_eq "$berth_catalog" '["compat/from-berth","compat/from-dist","compat/mounted"]' "berth: catalog"
assert_eq "$(http GET "$REG2_URL/v2/_catalog")" 200 "docker-registry: _catalog"
assert_eq "$(jq -c '.repositories | sort' "$HTTP_BODY")" "$berth_catalog" "both list the same repositories"

# --- deletes are seen across ----------------------------------------------------

assert_eq "$(http DELETE "$REG2_URL/v2/compat/from-dist/manifests/$a_digest")" 202 \
	"docker-registry deletes from-dist's manifest"
assert_eq "$(http GET "$BERTH_URL/v2/compat/from-dist/manifests/$a_digest" -H "$accept")" 404 \
	"berth no longer serves it"
assert_eq "$(http GET "$BERTH_URL/v2/compat/from-dist/manifests/v2" -H "$accept")" 404 \
	"nor a tag that pointed at it"
assert_eq "$(http DELETE "$BERTH_URL/v2/compat/from-berth/manifests/v3")" 202 "berth deletes tag v3"
assert_eq "$(http GET "$REG2_URL/v2/compat/from-berth/tags/list")" 200 "docker-registry: tags/list"
assert_eq "$(jq -c '.tags | sort' "$HTTP_BODY")" '["schema2","v1","v2"]' "docker-registry no longer lists v3"
assert_eq "$(http GET "$REG2_URL/v2/compat/from-berth/manifests/$b_digest" -H "$accept")" 200 \
	"the manifest stays reachable by digest"

registry2_stop
berth_stop

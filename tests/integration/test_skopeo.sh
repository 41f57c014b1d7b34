#!/usr/bin/env bash
# skopeo against Berth: OCI layouts made with umoci (one with a 100 MiB
# incompressible layer) copied in and back out blob for blob, inspect,
# list-tags, a copy between repositories, a conversion to Docker schema2, and
# delete.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

berth_start skopeo
reg=$BERTH_ADDR
oci_manifest=application/vnd.oci.image.manifest.v1+json
docker_v2=application/vnd.docker.distribution.manifest.v2+json
layout=$TEST_TMP/layout

# --- source images ------------------------------------------------------------

mkdir -p "$TEST_TMP/src/etc"
printf 'small image\n' >"$TEST_TMP/src/hello.txt"
printf 'key=value\n' >"$TEST_TMP/src/etc/skopeo.conf"
seq 1 5000 >"$TEST_TMP/src/etc/numbers"
oci_layout_image "$layout" small "$TEST_TMP/src/etc" "$TEST_TMP/src/hello.txt"
random_file "$TEST_TMP/big/big.bin" 100
oci_layout_image "$layout" big "$TEST_TMP/big/big.bin" "$TEST_TMP/src/hello.txt"
rm -rf "$TEST_TMP/big"

small_digest=$(oci_manifest_digest "$layout" small)
big_digest=$(oci_manifest_digest "$layout" big)
assert_match "$small_digest" '^sha256:[0-9a-f]{64}$' "umoci made the small image"
assert_match "$big_digest" '^sha256:[0-9a-f]{64}$' "umoci made the big image"

# check_blobs_equal FROM_LAYOUT TO_LAYOUT MANIFEST_DIGEST: every blob of the
# image is in TO_LAYOUT with the same bytes.
check_blobs_equal()
{
	local d hex n=0
	for d in $(oci_blob_digests "$1" "$3"); do
		hex=${d#sha256:}
		[ -f "$2/blobs/sha256/$hex" ] || fail "blob $d missing from $2"
		[ "$(sha256_digest "$2/blobs/sha256/$hex")" = "$d" ] || fail "blob $d corrupt in $2"
		cmp -s "$1/blobs/sha256/$hex" "$2/blobs/sha256/$hex" || fail "blob $d differs"
		n=$((n + 1))
	done
	ok "all $n blobs of ${3:0:19} came back identical"
}

# --- push ---------------------------------------------------------------------

run "skopeo copy oci:small to x/small:v1" skopeo_t copy --dest-tls-verify=false \
	--preserve-digests --digestfile "$TEST_TMP/small.digest" \
	"oci:$layout:small" "docker://$reg/x/small:v1"
assert_eq "$(cat "$TEST_TMP/small.digest")" "$small_digest" "x/small:v1 pushed with the layout's digest"

run "skopeo copy oci:big (100 MiB layer) to x/big:v1" skopeo_t copy --dest-tls-verify=false \
	--preserve-digests --digestfile "$TEST_TMP/big.digest" \
	"oci:$layout:big" "docker://$reg/x/big:v1"
assert_eq "$(cat "$TEST_TMP/big.digest")" "$big_digest" "x/big:v1 pushed with the layout's digest"

for img in small big; do
	digest=$(oci_manifest_digest "$layout" $img)
	assert_eq "$(http GET "$BERTH_URL/v2/x/$img/manifests/v1" -H "Accept: $oci_manifest")" 200 \
		"GET x/$img:v1"
	assert_eq "$(http_header Content-Type)" "$oci_manifest" "x/$img:v1 served as an OCI manifest"
	assert_eq "$(http_header Docker-Content-Digest)" "$digest" "x/$img:v1 Docker-Content-Digest"
	cmp -s "$HTTP_BODY" "$layout/blobs/sha256/${digest#sha256:}" ||
		fail "x/$img:v1 is not the exact bytes pushed"
	ok "x/$img:v1 is the exact bytes pushed"
	for d in $(jq -r '.config.digest, .layers[].digest' "$HTTP_BODY"); do
		size=$(stat -c %s "$layout/blobs/sha256/${d#sha256:}")
		assert_eq "$(http HEAD "$BERTH_URL/v2/x/$img/blobs/$d")" 200 "HEAD x/$img blob ${d:0:19}"
		assert_eq "$(http_header Content-Length)" "$size" "x/$img blob ${d:0:19} Content-Length"
		assert_eq "$(cat "$(repo_path "$BERTH_ROOT" "x/$img")/_layers/sha256/${d#sha256:}/link")" "$d" \
			"x/$img blob ${d:0:19} linked on disk"
	done
done

big_layer=$(jq -r '.layers[0].digest' "$layout/blobs/sha256/${big_digest#sha256:}")
big_blob=$layout/blobs/sha256/${big_layer#sha256:}
big_size=$(stat -c %s "$big_blob")
[ "$big_size" -ge $((100 * 1024 * 1024)) ] || fail "the big layer is only $big_size bytes"
assert_eq "$(sha256_digest "$(blob_path "$BERTH_ROOT" "$big_layer")")" "$big_layer" \
	"the $big_size-byte layer is stored intact"
assert_eq "$(http GET "$BERTH_URL/v2/x/big/blobs/$big_layer" -H 'Range: bytes=50000000-50065535')" 206 \
	"a range of the big layer"
assert_eq "$(http_header Content-Range)" "bytes 50000000-50065535/$big_size" "its Content-Range"
dd if="$big_blob" of="$TEST_TMP/range.expected" iflag=skip_bytes,count_bytes \
	skip=50000000 count=65536 status=none
cmp -s "$HTTP_BODY" "$TEST_TMP/range.expected" || fail "the range has the wrong bytes"
ok "the range has the right bytes"

# --- pull back into another layout ---------------------------------------------

back=$TEST_TMP/back
for img in small big; do
	run "skopeo copy x/$img:v1 back to an OCI layout" skopeo_t copy --src-tls-verify=false \
		"docker://$reg/x/$img:v1" "oci:$back:$img"
	digest=$(oci_manifest_digest "$layout" $img)
	assert_eq "$(oci_manifest_digest "$back" $img)" "$digest" "x/$img:v1 comes back with its digest"
	check_blobs_equal "$layout" "$back" "$digest"
done

# --- inspect, list-tags ---------------------------------------------------------

run "skopeo inspect x/big:v1" skopeo_t inspect --tls-verify=false "docker://$reg/x/big:v1"
last_output >"$TEST_TMP/inspect.json"
assert_eq "$(jq -r .Digest "$TEST_TMP/inspect.json")" "$big_digest" "inspect gives the digest"
assert_eq "$(jq -c .Layers "$TEST_TMP/inspect.json")" \
	"$(jq -c '[.layers[].digest]' "$layout/blobs/sha256/${big_digest#sha256:}")" "inspect gives the layers"
assert_eq "$(jq -r .Os "$TEST_TMP/inspect.json")" linux "inspect reads the config (os)"

skopeo_t inspect --tls-verify=false --config --raw "docker://$reg/x/small:v1" >"$TEST_TMP/config.json" ||
	fail "skopeo inspect --config --raw x/small:v1"
assert_eq "$(sha256_digest "$TEST_TMP/config.json")" \
	"$(jq -r .config.digest "$layout/blobs/sha256/${small_digest#sha256:}")" "the config blob comes back intact"

run "skopeo copy x/small:v1 to x/small:v2 (same registry)" skopeo_t copy \
	--src-tls-verify=false --dest-tls-verify=false \
	"docker://$reg/x/small:v1" "docker://$reg/x/small:v2"
run "skopeo list-tags x/small" skopeo_t list-tags --tls-verify=false "docker://$reg/x/small"
assert_eq "$(last_output | jq -c .Tags)" '["v1","v2"]' "list-tags gives v1 and v2"

# --- another repository, reusing the big blob ------------------------------------

run "skopeo copy x/big:v1 to y/big:v1" skopeo_t copy --src-tls-verify=false --dest-tls-verify=false \
	"docker://$reg/x/big:v1" "docker://$reg/y/big:v1"
assert_eq "$(http HEAD "$BERTH_URL/v2/y/big/manifests/v1" -H "Accept: $oci_manifest")" 200 "HEAD y/big:v1"
assert_eq "$(http_header Docker-Content-Digest)" "$big_digest" "y/big:v1 has x/big's digest"
assert_eq "$(http HEAD "$BERTH_URL/v2/y/big/blobs/$big_layer")" 200 "the big layer is readable in y/big"
assert_eq "$(http_header Content-Length)" "$big_size" "with its size"

# --- converted to Docker schema2 on the way ---------------------------------------

run "skopeo copy --format v2s2 to x/small-docker:v1" skopeo_t copy --dest-tls-verify=false \
	--format v2s2 --digestfile "$TEST_TMP/docker.digest" \
	"oci:$layout:small" "docker://$reg/x/small-docker:v1"
docker_digest=$(cat "$TEST_TMP/docker.digest")
assert_ne "$docker_digest" "$small_digest" "the schema2 manifest is a different one"
assert_eq "$(http GET "$BERTH_URL/v2/x/small-docker/manifests/v1" -H "Accept: $docker_v2")" 200 \
	"GET x/small-docker:v1"
assert_eq "$(http_header Content-Type)" "$docker_v2" "served as Docker schema2"
assert_eq "$(sha256_digest "$HTTP_BODY")" "$docker_digest" "its body hashes to the pushed digest"
assert_eq "$(jq -c '[.layers[].digest]' "$HTTP_BODY")" \
	"$(jq -c '[.layers[].digest]' "$layout/blobs/sha256/${small_digest#sha256:}")" \
	"the schema2 manifest has the same layers"
run "skopeo copy x/small-docker:v1 back" skopeo_t copy --src-tls-verify=false \
	"docker://$reg/x/small-docker:v1" "dir:$TEST_TMP/dir-docker"
assert_eq "$(sha256_digest "$TEST_TMP/dir-docker/manifest.json")" "$docker_digest" \
	"the schema2 manifest comes back intact"

# --- delete ----------------------------------------------------------------------

run "skopeo delete x/small:v1" skopeo_t delete --tls-verify=false "docker://$reg/x/small:v1"
assert_eq "$(http GET "$BERTH_URL/v2/x/small/manifests/$small_digest")" 404 \
	"the deleted manifest is gone by digest"
assert_eq "$(jq -r '.errors[0].code' "$HTTP_BODY")" MANIFEST_UNKNOWN "with MANIFEST_UNKNOWN"
assert_eq "$(http GET "$BERTH_URL/v2/x/small/manifests/v1" -H "Accept: $oci_manifest")" 404 "v1 is gone"
assert_eq "$(http GET "$BERTH_URL/v2/x/small/manifests/v2" -H "Accept: $oci_manifest")" 404 \
	"v2 (same digest) is gone too"
[ ! -e "$(repo_path "$BERTH_ROOT" x/small)/_manifests/revisions/sha256/${small_digest#sha256:}/link" ] ||
	fail "the revision link is still on disk"
ok "the revision link is gone from disk"
run_fails "skopeo inspect of the deleted image fails" skopeo_t inspect --tls-verify=false \
	"docker://$reg/x/small:v1"
assert_eq "$(http GET "$BERTH_URL/v2/x/big/manifests/v1" -H "Accept: $oci_manifest")" 200 \
	"x/big:v1 is still there"

berth_stop

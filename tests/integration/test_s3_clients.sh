#!/usr/bin/env bash
# storage-s3 on a real Ceph RGW with real clients: skopeo pushes and pulls an
# image with a 300 MiB layer through Berth (multipart upload, multipart
# copy), Range reads of it, no multipart upload left behind; then CNCF
# Distribution's own s3 driver (Debian docker-registry) serves the bucket
# Berth wrote, and Berth serves what Distribution wrote, in the same bucket
# and root directory; and podman and Docker push and pull through Berth on
# the bucket.
# ctest-labels: heavy
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=plugins/storage-s3/tests/s3_lib.sh
. "$BERTH_SOURCE_DIR/plugins/storage-s3/tests/s3_lib.sh"

s3_require_ceph
require_cmd skopeo
require_cmd umoci
require_cmd docker-registry
rgw_up
rgw_bucket shared
oci_manifest=application/vnd.oci.image.manifest.v1+json
layout=$TEST_TMP/layout

# --- a 300 MiB layer through Berth ------------------------------------------

# Distribution writes this bucket too and does not keep Berth's repository
# index: the catalog walks the bucket per request (registry.catalog: walk).
S3_BERTH_CATALOG=walk s3_berth_start main "bucket: shared
      rootdirectory: /registry"
reg=$BERTH_ADDR
random_file "$TEST_TMP/big/big.bin" 300
printf 'small file\n' >"$TEST_TMP/hello.txt"
oci_layout_image "$layout" big "$TEST_TMP/big/big.bin" "$TEST_TMP/hello.txt"
rm -rf "$TEST_TMP/big"
big_digest=$(oci_manifest_digest "$layout" big)
big_layer=$(jq -r '.layers[0].digest' "$layout/blobs/sha256/${big_digest#sha256:}")
big_blob=$layout/blobs/sha256/${big_layer#sha256:}
big_size=$(stat -c %s "$big_blob")
[ "$big_size" -ge $((300 * 1024 * 1024)) ] || fail "the big layer is only $big_size bytes"

t0=$(date +%s.%N)
run "skopeo copy oci:big (300 MiB layer) to berth" skopeo_t copy --dest-tls-verify=false \
	--preserve-digests --digestfile "$TEST_TMP/big.digest" "oci:$layout:big" "docker://$reg/x/big:v1"
echo "# push of 300 MiB took $(echo "$(date +%s.%N) - $t0" | bc) s"
assert_eq "$(cat "$TEST_TMP/big.digest")" "$big_digest" "pushed with the layout's digest"
assert_eq "$(s3_req HEAD shared "registry/docker/registry/v2/blobs/sha256/${big_layer:7:2}/${big_layer#sha256:}/data")" 200 \
	"the layer is an object at Distribution's key under rootdirectory"
assert_eq "$(s3_header content-length)" "$big_size" "the object has the layer's size"
assert_match "$(s3_header etag)" '-[0-9]+"?$' "the layer was stored as a multipart object"
assert_eq "$(s3_req GET shared "?uploads=")" 200 "list multipart uploads"
assert_eq "$(grep -c '<Upload>' "$S3_BODY" || true)" 0 "no multipart upload left in progress"

t0=$(date +%s.%N)
run "skopeo copy berth x/big:v1 to an OCI layout" skopeo_t copy --src-tls-verify=false \
	"docker://$reg/x/big:v1" "oci:$TEST_TMP/back:big"
echo "# pull of 300 MiB took $(echo "$(date +%s.%N) - $t0" | bc) s"
cmp -s "$big_blob" "$TEST_TMP/back/blobs/sha256/${big_layer#sha256:}" || fail "the layer came back different"
ok "the 300 MiB layer came back identical"

for range in 0-0 1000-2000 $((10 * 1048576 - 5))-$((10 * 1048576 + 5)) $((big_size - 10))-$((big_size - 1)); do
	first=${range%-*}
	last=${range#*-}
	assert_eq "$(http GET "$BERTH_URL/v2/x/big/blobs/$big_layer" -H "Range: bytes=$range")" 206 "Range $range"
	dd if="$big_blob" of="$TEST_TMP/want" iflag=skip_bytes,count_bytes skip="$first" \
		count=$((last - first + 1)) status=none
	cmp -s "$HTTP_BODY" "$TEST_TMP/want" || fail "Range $range: wrong bytes"
	ok "Range $range: the right bytes"
done
assert_eq "$(http GET "$BERTH_URL/v2/x/big/blobs/$big_layer" -H "Range: bytes=$big_size-")" 416 \
	"a range past the end is refused"

# --- Distribution's s3 driver on the same bucket -----------------------------

# Debian's docker-registry panics at start when AWS_CA_BUNDLE is set
# (LoadCustomCABundleError), and this environment sets it.
reg2_dir=$TEST_TMP/registry2
mkdir -p "$reg2_dir"
reg2_port=$(free_port)
cat >"$reg2_dir/config.yml" <<YAML
version: 0.1
log:
  level: info
storage:
  s3:
    accesskey: $S3_ACCESS
    secretkey: $S3_SECRET
    region: us-east-1
    regionendpoint: $RGW_ENDPOINT
    bucket: shared
    rootdirectory: /registry
    secure: false
    v4auth: true
    chunksize: 5242880
  delete:
    enabled: true
  redirect:
    disable: true
http:
  addr: 127.0.0.1:$reg2_port
YAML
env -u AWS_CA_BUNDLE docker-registry serve "$reg2_dir/config.yml" >"$reg2_dir/log" 2>&1 &
REG2_PID=$!
_SERVER_PIDS+=("$REG2_PID")
_SERVER_LOGS+=("$reg2_dir/log")
_wait_http "http://127.0.0.1:$reg2_port/v2/" "$REG2_PID" "$reg2_dir/log" 30 ||
	{ tail -n 20 "$reg2_dir/log"; fail "docker-registry (s3 driver) did not start"; }
ok "docker-registry with its s3 driver serves the bucket"
reg2=127.0.0.1:$reg2_port

run "docker-registry pulls x/big:v1 that Berth wrote" skopeo_t copy --src-tls-verify=false \
	"docker://$reg2/x/big:v1" "oci:$TEST_TMP/from-dist:big"
cmp -s "$big_blob" "$TEST_TMP/from-dist/blobs/sha256/${big_layer#sha256:}" ||
	fail "docker-registry served a different layer"
ok "docker-registry serves Berth's 300 MiB layer identical"

mkdir -p "$TEST_TMP/d"
seq 1 100000 >"$TEST_TMP/d/numbers"
head -c $((12 * 1024 * 1024)) /dev/urandom >"$TEST_TMP/d/random"
oci_layout_image "$layout" dist "$TEST_TMP/d"
dist_digest=$(oci_manifest_digest "$layout" dist)
run "push through docker-registry" skopeo_t copy --dest-tls-verify=false --preserve-digests \
	"oci:$layout:dist" "docker://$reg2/y/dist:d1"
assert_eq "$(http GET "$BERTH_URL/v2/y/dist/manifests/d1" -H "Accept: $oci_manifest")" 200 \
	"Berth serves the manifest Distribution wrote"
assert_eq "$(http_header Docker-Content-Digest)" "$dist_digest" "with its digest"
run "Berth pulls what Distribution wrote" skopeo_t copy --src-tls-verify=false \
	"docker://$reg/y/dist:d1" "oci:$TEST_TMP/from-berth:dist"
for d in $(oci_blob_digests "$layout" "$dist_digest"); do
	cmp -s "$layout/blobs/sha256/${d#sha256:}" "$TEST_TMP/from-berth/blobs/sha256/${d#sha256:}" ||
		fail "blob $d differs"
done
ok "every blob Distribution wrote comes back identical through Berth"
assert_eq "$(http GET "$BERTH_URL/v2/_catalog")" 200 "Berth's catalog"
assert_eq "$(jq -c .repositories "$HTTP_BODY")" '["x/big","y/dist"]' "lists both registries' repositories"
assert_eq "$(http GET "http://$reg2/v2/_catalog")" 200 "Distribution's catalog"
assert_eq "$(jq -c .repositories "$HTTP_BODY")" '["x/big","y/dist"]' "the same"

_stop_pid "$REG2_PID" 15
_forget_server "$REG2_PID"

# --- podman and Docker through Berth on the bucket ------------------------------

make_context "$TEST_TMP/ctx-pod" pods3
podman_build_scratch "$reg/z/podman:v1" "$TEST_TMP/ctx-pod" --format oci
run "podman push to Berth on RGW" podman_vfs push --tls-verify=false \
	--digestfile "$TEST_TMP/pod.digest" "$reg/z/podman:v1"
pod_digest=$(cat "$TEST_TMP/pod.digest")
run "podman rmi" podman_vfs rmi --all --force
run "podman pull from Berth on RGW" podman_vfs pull --tls-verify=false "$reg/z/podman:v1"
assert_eq "$(podman_vfs image inspect --format '{{.Digest}}' "$reg/z/podman:v1")" "$pod_digest" \
	"podman pulls back the digest it pushed"

dockerd_start
make_context "$TEST_TMP/ctx-docker" dockers3
docker_build_scratch "$reg/z/docker:v1" "$TEST_TMP/ctx-docker"
docker_id=$(docker image inspect --format '{{.Id}}' "$reg/z/docker:v1")
run "docker push to Berth on RGW" docker push "$reg/z/docker:v1"
docker_digest=$(docker image inspect --format '{{index .RepoDigests 0}}' "$reg/z/docker:v1")
docker_digest=${docker_digest#*@}
run "docker rmi" docker rmi "$reg/z/docker:v1"
run "docker pull from Berth on RGW" docker pull "$reg/z/docker@$docker_digest"
assert_eq "$(docker image inspect --format '{{.Id}}' "$reg/z/docker@$docker_digest")" "$docker_id" \
	"docker pulls back the image it pushed"
assert_eq "$(http GET "$BERTH_URL/v2/z/docker/manifests/v1")" 200 "the tag is in the bucket"

berth_stop

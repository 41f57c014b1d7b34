#!/usr/bin/env bash
# podman against Berth: build, push, remove, pull back (by tag and by
# digest); a two-platform image index made with `podman manifest` and pushed
# with --all as an OCI index and as a Docker manifest list, read back with
# curl and pulled per platform.
# ctest-labels: heavy
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

berth_start podman
reg=$BERTH_ADDR
oci_manifest=application/vnd.oci.image.manifest.v1+json
oci_index=application/vnd.oci.image.index.v1+json
docker_list=application/vnd.docker.distribution.manifest.list.v2+json

image_id()
{
	podman_vfs image inspect --format '{{.Id}}' "$1"
}

# --- one image ----------------------------------------------------------------

make_context "$TEST_TMP/ctx-app" podapp
podman_build_scratch "$reg/pod/app:v1" "$TEST_TMP/ctx-app" --format oci
app_id=sha256:$(image_id "$reg/pod/app:v1")

run "podman push pod/app:v1" podman_vfs push --tls-verify=false \
	--digestfile "$TEST_TMP/app.digest" "$reg/pod/app:v1"
app_digest=$(cat "$TEST_TMP/app.digest")
assert_match "$app_digest" '^sha256:[0-9a-f]{64}$' "podman push wrote the digest"
assert_eq "$(http GET "$BERTH_URL/v2/pod/app/manifests/v1" -H "Accept: $oci_manifest")" 200 "GET pod/app:v1"
assert_eq "$(http_header Content-Type)" "$oci_manifest" "pod/app:v1 served as an OCI manifest"
assert_eq "$(http_header Docker-Content-Digest)" "$app_digest" "pod/app:v1 Docker-Content-Digest"
assert_eq "$(sha256_digest "$HTTP_BODY")" "$app_digest" "pod/app:v1 body hashes to its digest"
assert_eq "$(jq -r .config.digest "$HTTP_BODY")" "$app_id" "the pushed config is the image ID"
assert_eq "$(cat "$(repo_path "$BERTH_ROOT" pod/app)/_manifests/tags/v1/current/link")" "$app_digest" \
	"tags/v1/current/link holds the digest"

run "podman rmi everything" podman_vfs rmi --all --force
run_fails "pod/app is gone locally" podman_vfs image exists "$reg/pod/app:v1"

run "podman pull pod/app:v1" podman_vfs pull --tls-verify=false "$reg/pod/app:v1"
assert_eq "sha256:$(image_id "$reg/pod/app:v1")" "$app_id" "pulled pod/app:v1 has the pushed image ID"
assert_eq "$(podman_vfs image inspect --format '{{.Digest}}' "$reg/pod/app:v1")" "$app_digest" \
	"pulled pod/app:v1 has the pushed digest"

run "podman rmi pod/app" podman_vfs rmi --all --force
run "podman pull pod/app by digest" podman_vfs pull --tls-verify=false "$reg/pod/app@$app_digest"
assert_eq "sha256:$(image_id "$reg/pod/app@$app_digest")" "$app_id" "pull by digest gives the image ID"

run_fails "pulling an unknown tag fails" podman_vfs pull --tls-verify=false "$reg/pod/app:nope"
assert_match "$(last_output)" 'manifest unknown|not found' "podman reports the unknown tag"

# --- an index of two platforms --------------------------------------------------

make_context "$TEST_TMP/ctx-amd64" amd64
make_context "$TEST_TMP/ctx-arm64" arm64
podman_build_scratch localhost/multi-amd64:v1 "$TEST_TMP/ctx-amd64" --format oci --arch amd64 --os linux
podman_build_scratch localhost/multi-arm64:v1 "$TEST_TMP/ctx-arm64" --format oci --arch arm64 --os linux
assert_eq "$(podman_vfs image inspect --format '{{.Architecture}}' localhost/multi-arm64:v1)" arm64 \
	"the arm64 image says arm64"
amd64_id=sha256:$(image_id localhost/multi-amd64:v1)
arm64_id=sha256:$(image_id localhost/multi-arm64:v1)

run "podman manifest create" podman_vfs manifest create localhost/multi:v1
run "podman manifest add amd64" podman_vfs manifest add --arch amd64 --os linux \
	localhost/multi:v1 containers-storage:localhost/multi-amd64:v1
run "podman manifest add arm64" podman_vfs manifest add --arch arm64 --os linux \
	localhost/multi:v1 containers-storage:localhost/multi-arm64:v1

# check_index TAG MEDIA_TYPE DIGEST: what Berth serves for an index.
check_index()
{
	local tag=$1 type=$2 digest=$3 d
	assert_eq "$(http GET "$BERTH_URL/v2/pod/multi/manifests/$tag" -H "Accept: $type")" 200 \
		"GET pod/multi:$tag as $type"
	assert_eq "$(http_header Content-Type)" "$type" "pod/multi:$tag Content-Type"
	assert_eq "$(http_header Docker-Content-Digest)" "$digest" "pod/multi:$tag Docker-Content-Digest"
	assert_eq "$(sha256_digest "$HTTP_BODY")" "$digest" "pod/multi:$tag body hashes to its digest"
	cp "$HTTP_BODY" "$TEST_TMP/index-$tag.json"
	assert_eq "$(jq -r .mediaType "$TEST_TMP/index-$tag.json")" "$type" "pod/multi:$tag mediaType"
	assert_eq "$(jq -c '[.manifests[].platform | .os + "/" + .architecture] | sort' \
		"$TEST_TMP/index-$tag.json")" '["linux/amd64","linux/arm64"]' "pod/multi:$tag lists both platforms"
	for d in $(jq -r '.manifests[].digest' "$TEST_TMP/index-$tag.json"); do
		assert_eq "$(http GET "$BERTH_URL/v2/pod/multi/manifests/$d" \
			-H "Accept: $oci_manifest, application/vnd.docker.distribution.manifest.v2+json")" 200 \
			"pod/multi:$tag child ${d:0:19} is there"
		assert_eq "$(sha256_digest "$HTTP_BODY")" "$d" "pod/multi:$tag child ${d:0:19} is intact"
	done
	# By digest the stored bytes are served whatever the Accept header says.
	assert_eq "$(http GET "$BERTH_URL/v2/pod/multi/manifests/$digest")" 200 "GET pod/multi by index digest"
	assert_eq "$(sha256_digest "$HTTP_BODY")" "$digest" "the index by digest is intact"
}

run "podman manifest push --all (OCI index)" podman_vfs manifest push --all --format oci \
	--tls-verify=false --digestfile "$TEST_TMP/oci.digest" \
	localhost/multi:v1 "docker://$reg/pod/multi:oci"
oci_digest=$(cat "$TEST_TMP/oci.digest")
check_index oci "$oci_index" "$oci_digest"
assert_eq "$(http GET "$BERTH_URL/v2/pod/multi/manifests/oci" -H "Accept: $docker_list")" 404 \
	"an OCI index is not served by tag to a client that accepts only Docker lists"
assert_eq "$(jq -r '.errors[0].code' "$HTTP_BODY")" MANIFEST_UNKNOWN "with MANIFEST_UNKNOWN"

run "podman manifest push --all (Docker list)" podman_vfs manifest push --all --format v2s2 \
	--tls-verify=false --digestfile "$TEST_TMP/docker.digest" \
	localhost/multi:v1 "docker://$reg/pod/multi:docker"
docker_digest=$(cat "$TEST_TMP/docker.digest")
assert_ne "$docker_digest" "$oci_digest" "the Docker list is a different manifest"
check_index docker "$docker_list" "$docker_digest"

assert_eq "$(http GET "$BERTH_URL/v2/pod/multi/tags/list")" 200 "GET pod/multi tags/list"
assert_eq "$(jq -c .tags "$HTTP_BODY")" '["docker","oci"]' "pod/multi has both tags"

run "podman rmi everything" podman_vfs rmi --all --force
podman_vfs manifest rm localhost/multi:v1 >/dev/null 2>&1 || true

run "podman pull the index by digest" podman_vfs pull --tls-verify=false "$reg/pod/multi@$oci_digest"
assert_eq "sha256:$(image_id "$reg/pod/multi@$oci_digest")" "$amd64_id" \
	"pulling the index by digest gives the amd64 image"
run "podman pull --arch arm64 pod/multi:oci" podman_vfs pull --tls-verify=false --arch arm64 \
	"$reg/pod/multi:oci"
assert_eq "sha256:$(image_id "$reg/pod/multi:oci")" "$arm64_id" "pulling for arm64 gives the arm64 image"
run "podman pull --arch arm64 the Docker list by digest" podman_vfs pull --tls-verify=false --arch arm64 \
	"$reg/pod/multi@$docker_digest"
assert_eq "sha256:$(image_id "$reg/pod/multi@$docker_digest")" "$arm64_id" \
	"the Docker list by digest gives the arm64 image for arm64"

berth_stop

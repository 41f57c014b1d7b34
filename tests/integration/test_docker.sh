#!/usr/bin/env bash
# Docker Engine against Berth: build images locally, push, remove, pull back
# (by tag and by digest) and compare image IDs, digests and what landed in
# the storage layout.
# ctest-labels: heavy
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

dockerd_start
berth_start docker
reg=$BERTH_ADDR
docker_v2=application/vnd.docker.distribution.manifest.v2+json

# image_id REF / repo_digest REF: what the local engine knows.
image_id()
{
	docker image inspect -f '{{.Id}}' "$1"
}

repo_digest()
{
	docker image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$1" |
		grep "^${1%:*}@" | cut -d@ -f2 || true
}

# check_stored REPO TAG DIGEST: the manifest served by tag is DIGEST, and
# the manifest, its config and its layers are in the storage layout.
check_stored()
{
	local repo=$1 tag=$2 digest=$3 rdir d path
	assert_eq "$(http GET "$BERTH_URL/v2/$repo/manifests/$tag" -H "Accept: $docker_v2")" 200 \
		"GET $repo:$tag"
	assert_eq "$(http_header Content-Type)" "$docker_v2" "$repo:$tag served as a Docker schema2 manifest"
	assert_eq "$(http_header Docker-Content-Digest)" "$digest" "$repo:$tag Docker-Content-Digest"
	assert_eq "$(sha256_digest "$HTTP_BODY")" "$digest" "$repo:$tag body hashes to its digest"
	cp "$HTTP_BODY" "$TEST_TMP/manifest.json"

	rdir=$(repo_path "$BERTH_ROOT" "$repo")
	assert_file "$rdir/_manifests/tags/$tag/current/link" "$repo: tag link on disk"
	assert_eq "$(cat "$rdir/_manifests/tags/$tag/current/link")" "$digest" \
		"$repo: tags/$tag/current/link holds the digest"
	assert_file "$rdir/_manifests/tags/$tag/index/sha256/${digest#sha256:}/link" \
		"$repo: tag index link on disk"
	assert_file "$rdir/_manifests/revisions/sha256/${digest#sha256:}/link" \
		"$repo: revision link on disk"
	for d in $digest $(jq -r '.config.digest, .layers[].digest' "$TEST_TMP/manifest.json"); do
		path=$(blob_path "$BERTH_ROOT" "$d")
		assert_file "$path" "$repo: blob ${d:0:19} stored"
		assert_eq "$(sha256_digest "$path")" "$d" "$repo: blob ${d:0:19} content matches its digest"
		[ "$d" = "$digest" ] && continue
		assert_eq "$(cat "$rdir/_layers/sha256/${d#sha256:}/link")" "$d" \
			"$repo: blob ${d:0:19} linked into the repository"
	done
}

# --- two images, the second built on the first ------------------------------

make_context "$TEST_TMP/ctx-app" app
docker_build_scratch "$reg/team/app:v1" "$TEST_TMP/ctx-app"

mkdir -p "$TEST_TMP/ctx-tool"
echo "tool on top of app" >"$TEST_TMP/ctx-tool/tool.txt"
printf 'FROM %s\nCOPY tool.txt /usr/bin/tool\n' "$reg/team/app:v1" >"$TEST_TMP/ctx-tool/Dockerfile"
docker_build_scratch "$reg/team/tool:v1" "$TEST_TMP/ctx-tool"

app_layers=$(docker image inspect -f '{{json .RootFS.Layers}}' "$reg/team/app:v1")
tool_layers=$(docker image inspect -f '{{json .RootFS.Layers}}' "$reg/team/tool:v1")
assert_eq "$(jq length <<<"$app_layers")" 2 "app has two layers"
assert_eq "$(jq -c '.[0:2]' <<<"$tool_layers")" "$app_layers" "tool shares app's layers"

app_id=$(image_id "$reg/team/app:v1")
tool_id=$(image_id "$reg/team/tool:v1")

run "docker push team/app:v1" docker push "$reg/team/app:v1"
push_digest=$(last_output | sed -n 's/.*digest: \(sha256:[0-9a-f]*\) size.*/\1/p')
app_digest=$(repo_digest "$reg/team/app:v1")
assert_match "$app_digest" '^sha256:[0-9a-f]{64}$' "team/app:v1 has a RepoDigest"
assert_eq "$push_digest" "$app_digest" "docker push reports the RepoDigest"
check_stored team/app v1 "$app_digest"
assert_eq "$(jq -r .config.digest "$TEST_TMP/manifest.json")" "$app_id" \
	"the pushed config is the image ID"

run "docker push team/tool:v1" docker push "$reg/team/tool:v1"
assert_eq "$(last_output | grep -c 'Mounted from team/app')" 2 \
	"docker mounts the two shared layers from team/app"
tool_digest=$(repo_digest "$reg/team/tool:v1")
check_stored team/tool v1 "$tool_digest"

# The same image under a second tag: nothing to upload.
docker tag "$reg/team/app:v1" "$reg/team/app:v2"
run "docker push team/app:v2" docker push "$reg/team/app:v2"
assert_eq "$(last_output | grep -c 'Layer already exists')" 2 "v2 reuses both layers"
assert_eq "$(repo_digest "$reg/team/app:v2")" "$app_digest" "v2 has v1's digest"

assert_eq "$(http GET "$BERTH_URL/v2/team/app/tags/list")" 200 "GET team/app tags/list"
assert_eq "$(jq -c .tags "$HTTP_BODY")" '["v1","v2"]' "team/app has tags v1 and v2"
assert_eq "$(http GET "$BERTH_URL/v2/_catalog")" 200 "GET _catalog"
assert_eq "$(jq -c .repositories "$HTTP_BODY")" '["team/app","team/tool"]' "catalog lists both repositories"

# --- remove locally, pull back ----------------------------------------------

run "docker rmi everything" docker rmi "$reg/team/app:v1" "$reg/team/app:v2" "$reg/team/tool:v1"
run_fails "team/app is gone locally" docker image inspect "$app_id"

run "docker pull team/app:v1" docker pull "$reg/team/app:v1"
assert_eq "$(image_id "$reg/team/app:v1")" "$app_id" "pulled team/app:v1 has the pushed image ID"
assert_eq "$(repo_digest "$reg/team/app:v1")" "$app_digest" "pulled team/app:v1 has the pushed digest"

run "docker pull team/tool:v1" docker pull "$reg/team/tool:v1"
assert_eq "$(image_id "$reg/team/tool:v1")" "$tool_id" "pulled team/tool:v1 has the pushed image ID"
assert_eq "$(repo_digest "$reg/team/tool:v1")" "$tool_digest" "pulled team/tool:v1 has the pushed digest"

run "docker rmi team/app again" docker rmi "$reg/team/app:v1" "$reg/team/tool:v1"
run "docker pull team/app by digest" docker pull "$reg/team/app@$app_digest"
assert_eq "$(image_id "$reg/team/app@$app_digest")" "$app_id" "pull by digest gives the image ID"

run_fails "pulling an unknown tag fails" docker pull "$reg/team/app:nope"
assert_match "$(last_output)" 'not found|manifest unknown' "docker reports the unknown tag"

# --- a 100 MiB incompressible layer ------------------------------------------

mkdir -p "$TEST_TMP/ctx-big"
random_file "$TEST_TMP/ctx-big/big.bin" 100
printf 'FROM scratch\nCOPY big.bin /big.bin\n' >"$TEST_TMP/ctx-big/Dockerfile"
docker_build_scratch "$reg/team/big:v1" "$TEST_TMP/ctx-big"
rm -f "$TEST_TMP/ctx-big/big.bin"
big_id=$(image_id "$reg/team/big:v1")
run "docker push a 100 MiB layer" docker push "$reg/team/big:v1"
big_digest=$(repo_digest "$reg/team/big:v1")
check_stored team/big v1 "$big_digest"
big_layer=$(jq -r '.layers[0].digest' "$TEST_TMP/manifest.json")
big_size=$(stat -c %s "$(blob_path "$BERTH_ROOT" "$big_layer")")
[ "$big_size" -ge $((100 * 1024 * 1024)) ] || fail "the big layer is only $big_size bytes"
ok "the big layer is stored whole ($big_size bytes)"
run "docker rmi team/big" docker rmi "$reg/team/big:v1"
run "docker pull a 100 MiB layer" docker pull "$reg/team/big:v1"
assert_eq "$(image_id "$reg/team/big:v1")" "$big_id" "pulled team/big:v1 has the pushed image ID"

berth_stop
dockerd_stop

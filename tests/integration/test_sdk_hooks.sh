#!/usr/bin/env bash
# The SDK's hello plugins, built out of tree against an installed Berth
# (cc + pkg-config, nothing from the source tree), loaded by a real server
# and observed through real clients: docker push into a frozen repository,
# podman login and skopeo --creds through hello-auth, events in
# hello-notify's file, hello-count run by the CLI and over HTTP, the
# greeting route, pulls blocked by hello-scan, and a whole registry in
# hello-storage's memory.
# ctest-labels: heavy
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_cmd cc pkg-config curl jq skopeo umoci podman

prefix=$TEST_TMP/prefix
plugins=$TEST_TMP/plugins
docker_v2=application/vnd.docker.distribution.manifest.v2+json
oci_manifest=application/vnd.oci.image.manifest.v1+json

# --- install, build the examples out of tree ----------------------------------

run "cmake --install to a fresh prefix" cmake --install "$BERTH_BUILD_DIR" --prefix "$prefix"
mkdir -p "$plugins"
for k in request auth notify route job scan storage; do
	# shellcheck disable=SC2046 # the flags must split
	run "build hello-$k with cc and pkg-config" \
		cc -std=c11 -O2 -Wall -Wextra -Werror -pthread \
		$(PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig pkg-config --cflags --libs berth-plugin) \
		"$prefix/share/berth/sdk/examples/hello-$k/hello_$k.c" -o "$plugins/hello-$k.so"
done
storage_fs=$prefix/lib/berth/plugins/storage-fs.so

# serve NAME PLUGINS_YAML [CURL ARGS...]: a berth whose plugin_path is only
# the out-of-tree builds, declaring PLUGINS_YAML (a `plugins:` list and
# anything else). Like lib.sh's berth_start, which always declares
# storage-fs and waits for an anonymous 200 on /v2/; CURL ARGS are given to
# that wait (credentials, for a registry behind hello-auth).
serve()
{
	local name=$1 yaml=$2 dir port
	shift 2
	dir=$TEST_TMP/berth-$name
	mkdir -p "$dir"
	BERTH_CONFIG=$dir/berth.yaml
	BERTH_LOG=$dir/berth.log
	for _ in 1 2 3; do
		port=$(free_port)
		printf 'listen: 127.0.0.1:%s\nplugin_path: ["%s"]\n%s\n' "$port" "$plugins" "$yaml" \
			>"$BERTH_CONFIG"
		"$BERTH_BIN" serve -c "$BERTH_CONFIG" >>"$BERTH_LOG" 2>&1 &
		BERTH_PID=$!
		_SERVER_PIDS+=("$BERTH_PID")
		_SERVER_LOGS+=("$BERTH_LOG")
		_LOG_OF["$BERTH_PID"]=$BERTH_LOG
		BERTH_ADDR=127.0.0.1:$port
		BERTH_URL=http://$BERTH_ADDR
		if _wait_http "$BERTH_URL/v2/" "$BERTH_PID" "$BERTH_LOG" 60 "$@"; then
			ok "berth $name serves $BERTH_URL"
			return 0
		fi
		_stop_pid "$BERTH_PID" 5
		_forget_server "$BERTH_PID"
		grep -qi 'in use' "$BERTH_LOG" || break
	done
	sed 's/^/#   /' "$BERTH_LOG" | tail -n 40
	fail "berth $name did not answer GET /v2/ with 200"
}

# loaded_from INSTANCE: the .so `berth plugins` says the instance runs.
loaded_from()
{
	"$BERTH_BIN" plugins -c "$BERTH_CONFIG" | awk -v i="$1" '$1 == i {print $NF}'
}

# wait_for_line FILE JQ_FILTER: the first JSON line of FILE that passes the
# filter, waiting up to 15 s (notifiers run on the event thread, after the
# client has its answer).
wait_for_line()
{
	local deadline=$((SECONDS + 15)) line
	while [ $SECONDS -lt $deadline ]; do
		line=$(jq -c "select($2)" "$1" 2>/dev/null | head -n 1) || true
		[ -n "$line" ] && {
			echo "$line"
			return 0
		}
		sleep 0.2
	done
	return 1
}

# Test images: OCI layouts made with umoci; "blocked" carries the
# annotation hello-scan refuses.
mkdir -p "$TEST_TMP/files"
printf 'fine\n' >"$TEST_TMP/files/fine.txt"
printf 'blocked\n' >"$TEST_TMP/files/blocked.txt"
random_file "$TEST_TMP/files/big.bin" 3
layout=$TEST_TMP/layout
oci_layout_image "$layout" fine "$TEST_TMP/files/fine.txt" "$TEST_TMP/files/big.bin"
oci_layout_image "$layout" blocked "$TEST_TMP/files/blocked.txt"
run "annotate the blocked image" umoci config --image "$layout:blocked" \
	--manifest.annotation hello.berth.dev/deny=yes
fine_digest=$(oci_manifest_digest "$layout" fine)
blocked_digest=$(oci_manifest_digest "$layout" blocked)
assert_match "$(jq -r '.annotations["hello.berth.dev/deny"]' \
	"$layout/blobs/sha256/${blocked_digest#sha256:}")" '^yes$' "the blocked manifest has the annotation"

dockerd_start

# --- request, notify, routes, jobs and scan in one registry --------------------

events=$TEST_TMP/events.jsonl
serve hooks "plugins:
  - use: \"$storage_fs\"
    config:
      root: \"$TEST_TMP/berth-hooks/registry\"
  - use: hello-request
  - use: hello-notify
    config:
      path: \"$events\"
  - use: hello-route
  - use: hello-job
  - use: hello-scan
registry:
  delete_enabled: true"
reg=$BERTH_ADDR
hooks_reg=$reg
hooks_pid=$BERTH_PID
hooks_config=$BERTH_CONFIG
hooks_log=$BERTH_LOG
for k in request notify route job scan; do
	assert_eq "$(loaded_from "hello-$k")" "$plugins/hello-$k.so" "hello-$k runs from its out-of-tree build"
done

# hello-request: writes under frozen/ are refused, with the plugin's message.
make_context "$TEST_TMP/ctx" sdk
docker_build_scratch "$reg/frozen/app:1" "$TEST_TMP/ctx"
docker tag "$reg/frozen/app:1" "$reg/other/app:1"
run_fails "docker push frozen/app:1 is refused" docker push "$reg/frozen/app:1"
assert_match "$(last_output)" "repository 'frozen/app' is frozen by hello-request" \
	"docker push shows hello-request's message"
assert_eq "$(http GET "$BERTH_URL/v2/frozen/app/tags/list")" 404 "nothing reached frozen/app"
run "docker push other/app:1" docker push "$reg/other/app:1"
other_digest=$(last_output | sed -n 's/.*digest: \(sha256:[0-9a-f]*\) size.*/\1/p')
assert_match "$other_digest" '^sha256:[0-9a-f]{64}$' "docker push reports other/app's digest"
assert_eq "$(http PUT "$BERTH_URL/v2/frozen/app/manifests/x" -H "Content-Type: $docker_v2" \
	--data-binary '{}')" 403 "a raw manifest PUT to frozen/app answers 403"
assert_eq "$(jq -r '.errors[0].code' "$HTTP_BODY")" DENIED "with the OCI code DENIED"
assert_eq "$(jq -r '.errors[0].message' "$HTTP_BODY")" \
	"repository 'frozen/app' is frozen by hello-request" "and the plugin's message"
assert_eq "$(http DELETE "$BERTH_URL/v2/frozen/app/manifests/$other_digest")" 403 \
	"DELETE in frozen/app answers 403"
assert_eq "$(http GET "$BERTH_URL/v2/other/app/manifests/1" -H "Accept: $docker_v2")" 200 \
	"reads are not frozen"
# after(): one log line per finished request.
grep -q "repository=other/app status=201" "$hooks_log" ||
	fail "hello-request's after() did not log other/app's 201"
ok "hello-request's after() logs method, route, repository and status"

# hello-notify: the push is one JSON line with the digest skopeo sees.
run "skopeo copy fine to notify/app:1" skopeo_t copy --dest-tls-verify=false \
	"oci:$layout:fine" "docker://$reg/notify/app:1"
run "skopeo inspect notify/app:1" skopeo_t inspect --tls-verify=false "docker://$reg/notify/app:1"
inspect_digest=$(last_output | jq -r .Digest)
assert_eq "$inspect_digest" "$fine_digest" "the registry serves the layout's manifest digest"
line=$(wait_for_line "$events" '.type == "push" and .repository == "notify/app"') ||
	fail "no push event for notify/app in $events"
ok "hello-notify wrote a push event for notify/app"
assert_eq "$(jq -r .tag <<<"$line")" 1 "the event has the tag"
assert_eq "$(jq -r .digest <<<"$line")" "$inspect_digest" "the event has the manifest digest"
assert_match "$(jq -r '.id, .time_ms' <<<"$line" | tr '\n' ' ')" '^[0-9]+ [0-9]{13} $' \
	"the event has an id and a time in ms"
line=$(wait_for_line "$events" '.type == "push" and .repository == "other/app"') ||
	fail "no push event for other/app"
assert_eq "$(jq -r .digest <<<"$line")" "$other_digest" "docker's push is an event too"
jq -e -s 'map(select(.repository == "frozen/app" and .type == "push")) | length == 0' \
	"$events" >/dev/null || fail "a refused push produced a push event"
ok "the refused push produced no push event"
jq -e . "$events" >/dev/null || fail "$events holds a line that is not JSON"
ok "every line of the events file is JSON"

# hello-route: the public greeting and the echo.
assert_eq "$(http GET "$BERTH_URL/hello/v1/greet?name=berth")" 200 "GET /hello/v1/greet?name=berth"
assert_eq "$(http_header Content-Type)" application/json "the greeting is JSON"
assert_eq "$(jq -r .greeting "$HTTP_BODY")" "hello, berth" "the greeting greets berth"
assert_eq "$(http GET "$BERTH_URL/hello/v1/greet?name=%22q%22%5C")" 200 "a name with quotes"
assert_eq "$(jq -r .greeting "$HTTP_BODY")" "hello, \"q\"\\" "is escaped into valid JSON"
assert_eq "$(http GET "$BERTH_URL/hello/v1/greet?name=$(head -c 300 /dev/zero | tr '\0' a)")" 400 \
	"a 300-byte name is refused"
head -c 5000 /dev/urandom >"$TEST_TMP/echo.in"
assert_eq "$(http POST "$BERTH_URL/hello/v1/echo" -H 'Content-Type: application/x-test' \
	--data-binary "@$TEST_TMP/echo.in")" 200 "POST /hello/v1/echo"
cmp -s "$HTTP_BODY" "$TEST_TMP/echo.in" || fail "the echo differs from what was sent"
ok "the echo is the body, byte for byte"
assert_eq "$(http_header Content-Type)" application/x-test "the echo keeps the content type"

# hello-job: on demand from the CLI, and over HTTP on the running server.
# count_events TYPE: lines of that type in the events file so far.
count_events()
{
	jq -c --arg t "$1" 'select(.type == $t)' "$events" | wc -l
}
run "berth job run hello-count" "$BERTH_BIN" job run hello-count -c "$hooks_config"
out=$(last_output)
assert_match "$out" "other/app: 1 tag" "hello-count lists other/app"
assert_match "$out" "notify/app: 1 tag" "hello-count lists notify/app"
assert_match "$out" "2 repositories, 2 tags" "hello-count totals"
[[ $out != *"dry run"* ]] || fail "hello-count said dry run without --dry-run"
ok "a real run does not say dry run"
# The CLI's own hello-notify instance gets the job's event before it exits.
line=$(jq -c 'select(.type == "hello.count")' "$events")
assert_eq "$(jq -c '[.source, .detail]' <<<"$line")" '["hello-job",{"repositories":2,"tags":2}]' \
	"the job's hello.count event reached the notifier, from hello-job, with its detail"
run "berth job run hello-count --dry-run" "$BERTH_BIN" job run hello-count --dry-run -c "$hooks_config"
assert_match "$(last_output)" "dry run: nothing to change" "--dry-run reaches the job"
assert_match "$(last_output)" "other/app: 1 tag" "the dry run still reports"
assert_eq "$(count_events hello.count)" 1 "the dry run emitted no event"
run_fails "berth job run of an unknown job fails" "$BERTH_BIN" job run no-such-job -c "$hooks_config"
assert_eq "$(http POST "$BERTH_URL/berth/v1/jobs/hello-count")" 200 "POST /berth/v1/jobs/hello-count"
jq -e . "$HTTP_BODY" >/dev/null || fail "the job endpoint did not answer JSON: $(head -c 300 "$HTTP_BODY")"
ok "the job endpoint answers JSON"
jq -r '.. | strings' "$HTTP_BODY" | grep -q "other/app: 1 tag" ||
	fail "the job's output is not in the answer: $(head -c 300 "$HTTP_BODY")"
ok "the answer holds the job's output"
jq -r '.. | strings' "$HTTP_BODY" | grep -q "dry run" && fail "a real run over HTTP said dry run"
ok "a real run over HTTP does not say dry run"
assert_eq "$(http POST "$BERTH_URL/berth/v1/jobs/hello-count?dry_run=1")" 200 "POST ...?dry_run=1"
jq -r '.. | strings' "$HTTP_BODY" | grep -q "dry run: nothing to change" ||
	fail "the dry run over HTTP did not reach the job: $(head -c 300 "$HTTP_BODY")"
ok "dry_run=1 reaches the job"
deadline=$((SECONDS + 15))
while [ "$(count_events hello.count)" -lt 2 ] && [ $SECONDS -lt $deadline ]; do
	sleep 0.2
done
assert_eq "$(count_events hello.count)" 2 "the job run over HTTP emitted its event"
sleep 1
assert_eq "$(count_events hello.count)" 2 "and the dry run over HTTP none"
assert_eq "$(http POST "$BERTH_URL/berth/v1/jobs/no-such-job")" 404 "an unknown job answers 404"

# hello-scan: pushing the annotated image works, pulling it does not.
run "skopeo copy blocked to scan/blocked:1" skopeo_t copy --dest-tls-verify=false \
	"oci:$layout:blocked" "docker://$reg/scan/blocked:1"
grep -q "pushed scan/blocked@$blocked_digest" "$hooks_log" || fail "hello-scan's on_push did not log"
ok "hello-scan's on_push saw the digest"
run_fails "skopeo copy of the blocked image fails" skopeo_t copy --src-tls-verify=false \
	"docker://$reg/scan/blocked:1" "oci:$TEST_TMP/pulled:blocked"
assert_match "$(last_output)" "manifest $blocked_digest is blocked by hello-scan" \
	"skopeo shows hello-scan's message"
run_fails "docker pull of the blocked image fails" docker pull "$reg/scan/blocked:1"
assert_match "$(last_output)" "blocked by hello-scan" "docker pull shows hello-scan's message"
for ref in 1 "$blocked_digest"; do
	assert_eq "$(http GET "$BERTH_URL/v2/scan/blocked/manifests/$ref" -H "Accept: $oci_manifest")" \
		403 "GET scan/blocked@$ref answers 403"
	assert_eq "$(jq -r '.errors[0].code' "$HTTP_BODY")" DENIED "GET $ref: DENIED"
	assert_eq "$(jq -r '.errors[0].message' "$HTTP_BODY")" \
		"manifest $blocked_digest is blocked by hello-scan" "GET $ref: hello-scan's message"
	assert_eq "$(http HEAD "$BERTH_URL/v2/scan/blocked/manifests/$ref" -H "Accept: $oci_manifest")" \
		403 "HEAD scan/blocked@$ref answers 403"
done
run "skopeo copy fine to scan/fine:1" skopeo_t copy --dest-tls-verify=false \
	"oci:$layout:fine" "docker://$reg/scan/fine:1"
run "other images still pull (skopeo)" skopeo_t copy --src-tls-verify=false \
	"docker://$reg/scan/fine:1" "oci:$TEST_TMP/pulled:fine"
assert_eq "$(oci_manifest_digest "$TEST_TMP/pulled" fine)" "$fine_digest" "the pulled image is the pushed one"
run "docker rmi other/app" docker rmi "$reg/other/app:1" "$reg/frozen/app:1"
run "other images still pull (docker)" docker pull "$reg/other/app:1"
assert_eq "$(http GET "$BERTH_URL/berth/v1/reports/scan/blocked@$blocked_digest")" 200 \
	"GET the blocked manifest's report"
assert_eq "$(jq -c '[.scanner, .digest, .blocked]' "$HTTP_BODY")" \
	"[\"hello-scan\",\"$blocked_digest\",true]" "the report names the scanner, digest and verdict"
assert_eq "$(http GET "$BERTH_URL/berth/v1/reports/scan/fine@$fine_digest")" 200 "GET the fine manifest's report"
assert_eq "$(jq -r .blocked "$HTTP_BODY")" false "the fine manifest is not blocked"
assert_eq "$(http GET "$BERTH_URL/berth/v1/reports/scan/fine@sha256:$(printf '0%.0s' {1..64})")" 404 \
	"no report for a manifest that does not exist"

berth_stop "$hooks_pid"

# --- hello-auth ---------------------------------------------------------------

export HELLO_AUTH_PASSWORD='s3cr3t:with colon'
pw=$HELLO_AUTH_PASSWORD
serve auth "plugins:
  - use: \"$storage_fs\"
    config:
      root: \"$TEST_TMP/berth-auth/registry\"
  - use: hello-auth
    config:
      user: ci
      password: \${HELLO_AUTH_PASSWORD}
      realm: sdk test
  - use: hello-route
  - use: hello-job
  - use: hello-notify
    config:
      path: \"$TEST_TMP/auth-events.jsonl\"" -u "ci:$pw"
reg=$BERTH_ADDR
assert_eq "$(loaded_from hello-auth)" "$plugins/hello-auth.so" "hello-auth runs from its out-of-tree build"
if grep -qF "$pw" "$BERTH_LOG"; then
	fail "the password appears in berth's log"
fi
ok "the password is not logged"

assert_eq "$(http GET "$BERTH_URL/v2/")" 401 "anonymous GET /v2/ answers 401"
assert_eq "$(http_header WWW-Authenticate)" 'Basic realm="sdk test"' "with hello-auth's challenge"
assert_eq "$(jq -r '.errors[0].code' "$HTTP_BODY")" UNAUTHORIZED "and the OCI code UNAUTHORIZED"
assert_eq "$(jq -r '.errors[0].message' "$HTTP_BODY")" "authentication required for registry:base:login" \
	"GET /v2/ asked hello-auth for registry:base:login"
assert_eq "$(http GET "$BERTH_URL/v2/" -u "ci:$pw")" 200 "GET /v2/ with the right credentials"
assert_eq "$(http GET "$BERTH_URL/v2/" -u "ci:wrong")" 401 "GET /v2/ with a wrong password answers 401"
assert_eq "$(http GET "$BERTH_URL/v2/" -u "bob:$pw")" 401 "GET /v2/ as an unknown user answers 401"
assert_eq "$(http GET "$BERTH_URL/v2/" -H 'Authorization: Basic !!!not base64')" 401 \
	"malformed Basic credentials answer 401"
assert_eq "$(http GET "$BERTH_URL/v2/" -H "Authorization: Basic $(head -c 3000 /dev/zero | tr '\0' Q)")" \
	401 "oversized Basic credentials answer 401"
assert_eq "$(http GET "$BERTH_URL/v2/" -H 'Authorization: Bearer abc')" 401 \
	"a Bearer token hello-auth does not know is anonymous: 401"
assert_eq "$(http GET "$BERTH_URL/v2/_catalog")" 401 "anonymous catalog answers 401"
assert_eq "$(http GET "$BERTH_URL/v2/_catalog" -u "ci:$pw")" 200 "the user may list the catalog"

run "podman login with the configured user" podman_vfs login --tls-verify=false \
	--authfile "$TEST_TMP/auth.json" -u ci -p "$pw" "$reg"
run_fails "podman login with a wrong password fails" podman_vfs login --tls-verify=false \
	--authfile "$TEST_TMP/wrong.json" -u ci -p nope "$reg"
run "skopeo copy --dest-creds" skopeo_t copy --dest-tls-verify=false --dest-creds "ci:$pw" \
	"oci:$layout:fine" "docker://$reg/auth/app:1"
run_fails "skopeo copy without credentials fails" skopeo_t copy --dest-tls-verify=false \
	"oci:$layout:fine" "docker://$reg/auth/anon:1"
run "skopeo inspect with the podman login's auth file" skopeo_t inspect --tls-verify=false \
	--authfile "$TEST_TMP/auth.json" "docker://$reg/auth/app:1"
assert_eq "$(last_output | jq -r .Digest)" "$fine_digest" "the pushed image is there"
run_fails "anonymous skopeo inspect fails" skopeo_t inspect --tls-verify=false --no-creds \
	"docker://$reg/auth/app:1"
line=$(wait_for_line "$TEST_TMP/auth-events.jsonl" '.type == "push" and .repository == "auth/app"') ||
	fail "no push event for auth/app"
assert_eq "$(jq -r .identity <<<"$line")" ci "the push event names the user hello-auth authenticated"
jq -e -s 'map(select(.repository == "auth/anon")) | length == 0' "$TEST_TMP/auth-events.jsonl" \
	>/dev/null || fail "the refused anonymous push produced an event"
ok "the refused anonymous push produced no event"

# Jobs over HTTP need registry:jobs:run.
assert_eq "$(http POST "$BERTH_URL/berth/v1/jobs/hello-count")" 401 "an anonymous job run answers 401"
assert_eq "$(jq -r '.errors[0].message' "$HTTP_BODY")" "authentication required for registry:jobs:run" \
	"hello-auth was asked for registry:jobs:run"
assert_eq "$(http POST "$BERTH_URL/berth/v1/jobs/hello-count" -u "ci:$pw")" 200 "the user may run a job"
jq -r '.. | strings' "$HTTP_BODY" | grep -q "auth/app: 1 tag" ||
	fail "the job's output is not in the answer: $(head -c 300 "$HTTP_BODY")"
ok "the job saw auth/app"

# Routes: the public greeting needs nobody; the echo needs the user.
assert_eq "$(http GET "$BERTH_URL/hello/v1/greet")" 200 "the public route answers anonymous clients"
assert_eq "$(jq -r .greeting "$HTTP_BODY")" "hello, world" "with the default name"
assert_eq "$(http GET "$BERTH_URL/hello/v1/greet" -u ci:wrong)" 200 \
	"the public route does not ask the auth hooks, not even about wrong credentials"
assert_eq "$(http POST "$BERTH_URL/hello/v1/echo" --data-binary ping)" 401 \
	"the non-public route answers anonymous clients 401"
assert_eq "$(http_header WWW-Authenticate)" 'Basic realm="sdk test"' "with the challenge"
assert_eq "$(http POST "$BERTH_URL/hello/v1/echo" -u "ci:$pw" --data-binary ping)" 200 \
	"the user may use the non-public route"
assert_eq "$(cat "$HTTP_BODY")" ping "and gets the echo"

berth_stop

# --- hello-storage: a registry in memory --------------------------------------

serve memory "plugins:
  - use: hello-storage
    config:
      max_size: 256MiB"
reg=$BERTH_ADDR
assert_eq "$(loaded_from hello-storage)" "$plugins/hello-storage.so" "hello-storage runs from its out-of-tree build"
run "skopeo push into memory" skopeo_t copy --dest-tls-verify=false \
	"oci:$layout:fine" "docker://$reg/mem/app:1"
run "skopeo pull from memory" skopeo_t copy --src-tls-verify=false \
	"docker://$reg/mem/app:1" "oci:$TEST_TMP/mem-back:fine"
assert_eq "$(oci_manifest_digest "$TEST_TMP/mem-back" fine)" "$fine_digest" "the manifest comes back unchanged"
for d in $(oci_blob_digests "$layout" "$fine_digest"); do
	assert_eq "$(sha256_digest "$TEST_TMP/mem-back/blobs/sha256/${d#sha256:}")" "$d" \
		"blob ${d:0:19} comes back whole"
done
big_layer=$(jq -r '.layers | max_by(.size) | .digest' "$layout/blobs/sha256/${fine_digest#sha256:}")
cp "$layout/blobs/sha256/${big_layer#sha256:}" "$TEST_TMP/big.layer"
assert_eq "$(http GET "$BERTH_URL/v2/mem/app/blobs/$big_layer" -H 'Range: bytes=1000-')" 206 \
	"a ranged blob GET from memory"
cmp -s "$HTTP_BODY" <(tail -c +1001 "$TEST_TMP/big.layer") || fail "the ranged read differs"
ok "the ranged read streams from the right offset"
assert_eq "$(http GET "$BERTH_URL/v2/mem/app/tags/list")" 200 "tags/list from memory"
assert_eq "$(jq -c .tags "$HTTP_BODY")" '["1"]' "the tag is listed"

# Docker Engine against the memory registry too.
app_id=$(docker image inspect -f '{{.Id}}' "$hooks_reg/other/app:1")
run "docker tag for the memory registry" docker tag "$hooks_reg/other/app:1" "$reg/mem/docker:1"
run "docker push into memory" docker push "$reg/mem/docker:1"
run "docker rmi" docker rmi "$reg/mem/docker:1" "$hooks_reg/other/app:1"
run "docker pull from memory" docker pull "$reg/mem/docker:1"
assert_eq "$(docker image inspect -f '{{.Id}}' "$reg/mem/docker:1")" "$app_id" \
	"the image pulled from memory has the pushed image ID"

berth_stop
dockerd_stop

#!/usr/bin/env bash
# auth-token with real clients: Docker Engine, podman and skopeo log in
# through the plugin's own token server (http://127.0.0.1:PORT/auth/token,
# which Docker reaches over plain HTTP as 127.0.0.0/8 is insecure by
# default). A user who may push pushes and pulls; a pull-only user's push
# fails with the server's denial; after docker logout a private pull fails;
# anonymous clients pull a public repository; skopeo copies with
# --src-creds/--dest-creds.
# ctest-labels: heavy
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_cmd openssl jq
dockerd_start

PUSH_PW='push-S3cret:pw'
PULL_PW='pull-only-pw'
SERVICE=berth-clients
dir=$TEST_TMP/auth
mkdir -p "$dir"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/signing.pem" 2>/dev/null ||
	fail "openssl cannot make a signing key"
printf '%s\n' "$PUSH_PW" | "$BERTH_BIN" passwd -f "$dir/users" --groups pushers pusher >/dev/null ||
	fail "berth passwd pusher"
printf '%s\n' "$PULL_PW" | "$BERTH_BIN" passwd --sha512 -f "$dir/users" --groups pullers puller >/dev/null ||
	fail "berth passwd puller"
ok "users written with berth passwd (bcrypt and sha512-crypt)"

# berth_start waits for GET /v2/ to answer 200, which auth forbids: start
# this server here, on the same bookkeeping (the EXIT trap stops it).
auth_berth_start()
{
	local port code
	BERTH_ROOT=$dir/registry
	BERTH_LOG=$dir/berth.log
	BERTH_CONFIG=$dir/berth.yaml
	mkdir -p "$BERTH_ROOT"
	for _ in 1 2 3; do
		port=$(free_port)
		cat >"$BERTH_CONFIG" <<EOF
listen: 127.0.0.1:$port
plugin_path: ["$BERTH_PLUGIN_DIR"]
plugins:
  - use: storage-fs
    config:
      root: "$BERTH_ROOT"
  - use: auth-token
    config:
      realm: "http://127.0.0.1:$port/auth/token"
      service: $SERVICE
      issuer: berth-clients-issuer
      signing_key: "$dir/signing.pem"
      users_file: "$dir/users"
      rules:
        - "team/**    group:pushers             pull,push,delete"
        - "team/**    group:pullers             pull"
        - "public/**  anonymous,authenticated   pull"
        - "public/**  group:pushers             pull,push"
registry:
  delete_enabled: true
EOF
		"$BERTH_BIN" serve -c "$BERTH_CONFIG" >>"$BERTH_LOG" 2>&1 &
		BERTH_PID=$!
		_SERVER_PIDS+=("$BERTH_PID")
		_SERVER_LOGS+=("$BERTH_LOG")
		_LOG_OF[$BERTH_PID]=$BERTH_LOG
		BERTH_ADDR=127.0.0.1:$port
		BERTH_URL=http://$BERTH_ADDR
		for _ in $(seq 1 100); do
			_alive "$BERTH_PID" || break
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BERTH_URL/v2/") || true
			if [ "$code" = 401 ]; then
				ok "berth with auth-token serves $BERTH_URL (GET /v2/ is 401)"
				return 0
			fi
			sleep 0.1
		done
		_stop_pid "$BERTH_PID" 5
		_forget_server "$BERTH_PID"
		grep -qi 'in use' "$BERTH_LOG" || break
	done
	sed 's/^/#   /' "$BERTH_LOG" | tail -n 40
	fail "berth with auth-token did not start"
}

auth_berth_start
reg=$BERTH_ADDR

# docker_login USER PASSWORD / podman_login USER PASSWORD: log in with the
# password on standard input, as CI jobs do.
docker_login()
{
	printf '%s' "$2" | docker login -u "$1" --password-stdin "$reg"
}

podman_login()
{
	printf '%s' "$2" | podman_vfs login --authfile "$authfile" --tls-verify=false -u "$1" \
		--password-stdin "$reg"
}

# token USER:PW SCOPE: a token from the server, for curl checks.
token()
{
	curl -sf -u "$1" "$BERTH_URL/auth/token?service=$SERVICE&scope=$2" | jq -r .token
}

# --- Docker -------------------------------------------------------------------

make_context "$TEST_TMP/ctx-app" authapp
docker_build_scratch "$reg/team/app:v1" "$TEST_TMP/ctx-app"
make_context "$TEST_TMP/ctx-pub" authpub
docker_build_scratch "$reg/public/base:v1" "$TEST_TMP/ctx-pub"
app_id=$(docker image inspect -f '{{.Id}}' "$reg/team/app:v1")

run_fails "docker push before login fails" docker push "$reg/team/app:v1"
run_fails "docker login with a wrong password fails" docker_login pusher wrong
assert_match "$(last_output)" 'unauthorized: invalid username or password' \
	"docker shows the token server's refusal"
run "docker login as pusher" docker_login pusher "$PUSH_PW"
assert_match "$(last_output)" 'Login Succeeded' "docker reports the login"
# Docker keeps the refresh token as identitytoken, not the password.
assert_eq "$(jq -r --arg r "$reg" '.auths[$r].identitytoken | length > 0' "$DOCKER_CONFIG/config.json")" true \
	"docker stored the refresh token as identitytoken"
if grep -q "$PUSH_PW" "$DOCKER_CONFIG/config.json"; then
	fail "docker stored the password"
fi
ok "docker did not store the password"

run "docker push team/app:v1" docker push "$reg/team/app:v1"
push_digest=$(last_output | sed -n 's/.*digest: \(sha256:[0-9a-f]*\) size.*/\1/p')
assert_match "$push_digest" '^sha256:[0-9a-f]{64}$' "docker push reports a digest"
t=$(token "pusher:$PUSH_PW" "repository:team/app:pull")
assert_eq "$(http GET "$BERTH_URL/v2/team/app/manifests/v1" -H "Authorization: Bearer $t" \
	-H 'Accept: application/vnd.docker.distribution.manifest.v2+json')" 200 "team/app:v1 is stored"
assert_eq "$(http_header Docker-Content-Digest)" "$push_digest" "stored digest is the pushed one"
run "docker push public/base:v1" docker push "$reg/public/base:v1"

run "docker rmi" docker rmi "$reg/team/app:v1" "$reg/public/base:v1"
run "docker pull team/app:v1 as pusher" docker pull "$reg/team/app:v1"
assert_eq "$(docker image inspect -f '{{.Id}}' "$reg/team/app:v1")" "$app_id" "pulled image has the pushed ID"

run "docker logout" docker logout "$reg"
run "docker login as puller" docker_login puller "$PULL_PW"
# The server answers 403 DENIED (a known user the policy refuses); Docker
# prints the error code, "denied". New layers: the upload is refused.
make_context "$TEST_TMP/ctx-fresh" authfresh
docker_build_scratch "$reg/team/fresh:v1" "$TEST_TMP/ctx-fresh"
run_fails "docker push of new layers as pull-only user fails" docker push "$reg/team/fresh:v1"
assert_match "$(last_output | tail -n 1)" '^denied' "docker shows the server's denial"
assert_match "$(grep -c "denied repository:team/fresh:push to 'puller'" "$BERTH_LOG")" '^[1-9]' \
	"berth refused puller's upload"
assert_match "$(grep 'path=/v2/team/fresh/blobs/uploads/' "$BERTH_LOG" | tail -n 1)" \
	'status=403 .*error=DENIED identity=puller' "the refusal was 403 DENIED"
# Layers the registry has: the manifest is refused.
run "docker tag team/app:v2" docker tag "$reg/team/app:v1" "$reg/team/app:v2"
run_fails "docker push of a new tag as pull-only user fails" docker push "$reg/team/app:v2"
assert_match "$(last_output | tail -n 1)" '^denied' "docker reports the denial"
t=$(token "pusher:$PUSH_PW" "repository:team/app:pull")
assert_eq "$(http GET "$BERTH_URL/v2/team/app/manifests/v2" -H "Authorization: Bearer $t")" 404 \
	"team/app:v2 was not stored"
run "docker rmi as puller" docker rmi "$reg/team/app:v1" "$reg/team/app:v2" "$reg/team/fresh:v1"
run "docker pull team/app:v1 as puller" docker pull "$reg/team/app:v1"

run "docker logout again" docker logout "$reg"
run "docker rmi before the anonymous pulls" docker rmi "$reg/team/app:v1"
run_fails "docker pull of a private repository after logout fails" docker pull "$reg/team/app:v1"
assert_match "$(last_output)" 'unauthorized|denied|authentication required' "docker reports the refusal"
run "anonymous docker pull of public/base:v1" docker pull "$reg/public/base:v1"

# --- podman -------------------------------------------------------------------

authfile=$TEST_TMP/podman-auth.json
run_fails "podman login with a wrong password fails" podman_login pusher wrong
run "podman login as pusher" podman_login pusher "$PUSH_PW"
assert_match "$(last_output)" 'Login Succeeded' "podman reports the login"
run "podman pull team/app:v1" podman_vfs pull --authfile "$authfile" --tls-verify=false "$reg/team/app:v1"
run "podman tag team/podman:v1" podman_vfs tag "$reg/team/app:v1" "$reg/team/podman:v1"
run "podman push team/podman:v1" podman_vfs push --authfile "$authfile" --tls-verify=false "$reg/team/podman:v1"
t=$(token "puller:$PULL_PW" "repository:team/podman:pull")
assert_eq "$(http GET "$BERTH_URL/v2/team/podman/tags/list" -H "Authorization: Bearer $t")" 200 \
	"puller lists team/podman"
assert_eq "$(jq -r '.tags | join(",")' "$HTTP_BODY")" v1 "team/podman has tag v1"
run "podman logout" podman_vfs logout --authfile "$authfile" "$reg"
run "podman rmi" podman_vfs rmi --all --force
run_fails "podman pull of a private repository without login fails" \
	podman_vfs pull --authfile "$authfile" --tls-verify=false "$reg/team/podman:v1"
run "anonymous podman pull of public/base:v1" \
	podman_vfs pull --authfile "$authfile" --tls-verify=false "$reg/public/base:v1"

# --- skopeo -------------------------------------------------------------------

run "skopeo copy with --src-creds and --dest-creds" skopeo_t copy --src-tls-verify=false \
	--dest-tls-verify=false --src-creds "puller:$PULL_PW" --dest-creds "pusher:$PUSH_PW" \
	"docker://$reg/team/app:v1" "docker://$reg/team/copy:v1"
src=$(skopeo_t inspect --tls-verify=false --creds "puller:$PULL_PW" --format '{{.Digest}}' \
	"docker://$reg/team/app:v1")
dst=$(skopeo_t inspect --tls-verify=false --creds "puller:$PULL_PW" --format '{{.Digest}}' \
	"docker://$reg/team/copy:v1")
assert_match "$src" '^sha256:[0-9a-f]{64}$' "skopeo inspect gives the source digest"
assert_eq "$dst" "$src" "the copy has the source's digest"
run_fails "skopeo copy to a repository the destination user may not push fails" skopeo_t copy \
	--src-tls-verify=false --dest-tls-verify=false --src-creds "puller:$PULL_PW" \
	--dest-creds "puller:$PULL_PW" "docker://$reg/team/app:v1" "docker://$reg/team/nope:v1"
run "anonymous skopeo copy of public/base to a directory" skopeo_t copy --src-tls-verify=false \
	"docker://$reg/public/base:v1" "dir:$TEST_TMP/public-base"
assert_file "$TEST_TMP/public-base/manifest.json" "the public image was copied"
run_fails "anonymous skopeo inspect of a private repository fails" \
	skopeo_t inspect --tls-verify=false "docker://$reg/team/app:v1"

# --- what the server wrote ----------------------------------------------------

for pw in "$PUSH_PW" "$PULL_PW"; do
	if grep -qF "$pw" "$BERTH_LOG"; then
		fail "a password appears in berth's log"
	fi
done
ok "no password in berth's log"
berth_stop

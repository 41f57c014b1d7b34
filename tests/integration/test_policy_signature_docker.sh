#!/usr/bin/env bash
# The policy-signature plugin against Docker Engine: images built and
# pushed with `docker push`, cosign-format signatures made with openssl,
# then `docker pull` of each fixture (each in its own repository): signed,
# unsigned, signed with another key, a replayed signature naming another
# digest, a tag moved after signing, an edited payload, a repository-only
# identity (and one naming another repository), a .sig with one bad and one
# good layer, pulls by digest of a signed and an unsigned image. A refused
# pull must fail with the plugin's reason in docker's error.
# ctest-labels: heavy
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=plugins/policy-signature/tests/cosign_fixtures.sh
. "$BERTH_SOURCE_DIR/plugins/policy-signature/tests/cosign_fixtures.sh"

require_cmd openssl curl jq
[ -f "$BERTH_PLUGIN_DIR/policy-signature.so" ] || fail "no policy-signature plugin (build first)"

key_gen trusted p256
key_gen other p256

frag=$TEST_TMP/policy.yaml
cat >"$frag" <<EOF
plugins:
  - use: policy-signature
    config:
      policies:
        - name: docker
          repositories: ["sig/**"]
          keys: ["$SIG_DIR/trusted.pub"]
        - name: by-repository
          repositories: ["idrepo/**"]
          keys: ["$SIG_DIR/trusted.pub"]
          identity: repository
EOF
berth_start docker-sig "include: \"$frag\""
reg=$BERTH_ADDR
dockerd_start

make_context "$TEST_TMP/ctx-a" alpha
make_context "$TEST_TMP/ctx-b" beta
docker_build_scratch sigtest/a "$TEST_TMP/ctx-a"
docker_build_scratch sigtest/b "$TEST_TMP/ctx-b"

# dpush REPO TAG LOCAL: tag and push with docker; prints the pushed digest.
dpush()
{
	docker tag "$3" "$reg/$1:$2" >/dev/null
	docker push "$reg/$1:$2" >"$TEST_TMP/push.log" 2>&1 ||
		{ sed 's/^/#   /' "$TEST_TMP/push.log"; fail "docker push $1:$2"; }
	grep -o 'digest: sha256:[0-9a-f]\{64\}' "$TEST_TMP/push.log" | tail -n 1 | cut -d' ' -f2
}

# dpull_ok REF / dpull_refused REF TEXT: docker pull from a clean cache.
dpull_ok()
{
	docker rmi -f "$reg/$1" >/dev/null 2>&1 || true
	run "docker pulls $1" docker pull "$reg/$1"
}

dpull_refused()
{
	docker rmi -f "$reg/$1" >/dev/null 2>&1 || true
	run_fails "docker cannot pull $1" docker pull "$reg/$1"
	last_output | grep -qF -- "$2" || {
		last_output | sed 's/^/#   /'
		fail "docker's error for $1 does not say '$2'"
	}
	ok "docker shows why $1 is refused ('$2')"
}

A=$(dpush sig/signed v1 sigtest/a)
assert_match "$A" '^sha256:[0-9a-f]{64}$' "docker push reports the digest"
sign sig/signed "$A" trusted
dpull_ok sig/signed:v1
dpull_ok "sig/signed@$A"
assert_eq "$(pull_status HEAD sig/signed v1)" 200 "HEAD of the signed tag answers 200"

dpush sig/unsigned v1 sigtest/a >/dev/null
dpull_refused sig/unsigned:v1 "has no signature; policy 'docker' requires"
dpull_refused "sig/unsigned@$A" "has no signature"
assert_eq "$(pull_status HEAD sig/unsigned v1)" 403 "HEAD of the unsigned tag answers 403"

dpush sig/wrongkey v1 sigtest/a >/dev/null
sign sig/wrongkey "$A" other
dpull_refused sig/wrongkey:v1 "none valid from a key trusted by policy 'docker'"

B=$(dpush sig/replay v1 sigtest/b)
p=$(payload_file "$A" "$reg/sig/replay")
m=$(sig_manifest_json sig/replay "$(layer_json sig/replay "$p" "$(sign_bytes trusted "$p")")")
assert_eq "$(put_manifest sig/replay "$(echo "$B" | tr : -).sig" "$m")" 201 "replayed signature pushed"
dpull_refused sig/replay:v1 "is for another digest ($A)"

dpush sig/moved v1 sigtest/a >/dev/null
sign sig/moved "$A" trusted
dpull_ok sig/moved:v1
dpush sig/moved v1 sigtest/b >/dev/null
dpull_refused sig/moved:v1 "sig/moved@$B has no signature"
dpull_ok "sig/moved@$A"

dpush sig/edited v1 sigtest/a >/dev/null
p=$(payload_file "$A" "$reg/sig/edited")
s=$(sign_bytes trusted "$p")
sed -i 's/sig\/edited/sig\/forged/' "$p"
m=$(sig_manifest_json sig/edited "$(layer_json sig/edited "$p" "$s")")
assert_eq "$(put_manifest sig/edited "$(echo "$A" | tr : -).sig" "$m")" 201 "edited payload pushed"
dpull_refused sig/edited:v1 "none valid from a key trusted"

dpush sig/multi v1 sigtest/a >/dev/null
p1=$(payload_file "$A" "$reg/sig/multi")
p2=$(payload_file "$A" "$reg/sig/multi")
m=$(sig_manifest_json sig/multi "$(layer_json sig/multi "$p1" "$(sign_bytes other "$p1")")" \
	"$(layer_json sig/multi "$p2" "$(sign_bytes trusted "$p2")")")
assert_eq "$(put_manifest sig/multi "$(echo "$A" | tr : -).sig" "$m")" 201 "two-layer .sig pushed"
dpull_ok sig/multi:v1

dpush idrepo/app v1 sigtest/a >/dev/null
sign idrepo/app "$A" trusted "$reg/idrepo/app"
dpull_ok idrepo/app:v1
dpush idrepo/other v1 sigtest/a >/dev/null
sign idrepo/other "$A" trusted "$reg/idrepo/app"
dpull_refused idrepo/other:v1 "names '$reg/idrepo/app', not what is pulled"

dockerd_stop
berth_stop

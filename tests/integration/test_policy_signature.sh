#!/usr/bin/env bash
# The policy-signature plugin in a real berth: cosign-format signatures made
# here with openssl and pushed with curl, images pushed and pulled with
# skopeo, each fixture in its own repository: signed (P-256, Ed25519, RSA),
# unsigned, signed with another key, a replayed signature naming another
# digest, a tag moved after signing, an edited payload, repository-only and
# exact identities, a .sig with one bad and one good layer, signatures as
# referrers (simplesigning and a Sigstore DSSE bundle), an index signed as a
# whole or per child, pulls by tag and by digest with GET and HEAD. Then
# warn mode, key rotation, the cache seeing a new signature at once, the
# pull.blocked event (through audit-log), the metrics (through
# metrics-prometheus), the admin bypass (hello-auth), bad signature data,
# and config errors with FILE:LINE:COLUMN.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=plugins/policy-signature/tests/cosign_fixtures.sh
. "$BERTH_SOURCE_DIR/plugins/policy-signature/tests/cosign_fixtures.sh"

require_cmd skopeo umoci openssl curl jq
for so in policy-signature storage-fs metrics-prometheus audit-log hello-auth; do
	[ -f "$BERTH_PLUGIN_DIR/$so.so" ] || fail "no plugin at '$BERTH_PLUGIN_DIR/$so.so' (build first)"
done

# --- keys and images ------------------------------------------------------------

key_gen trusted p256
key_gen other p256
key_gen edkey ed25519
key_gen rsakey rsa
key_gen oldkey p256
key_gen newkey p256
key_gen bigcurve p384
ok "keys made with openssl (P-256, Ed25519, RSA 2048, P-384)"

layout=$TEST_TMP/layout
for v in v1 v2 v3; do
	mkdir -p "$TEST_TMP/src-$v"
	printf 'content %s\n' "$v" >"$TEST_TMP/src-$v/hello.txt"
	oci_layout_image "$layout" "$v" "$TEST_TMP/src-$v/hello.txt"
done
V1=$(oci_manifest_digest "$layout" v1)
V2=$(oci_manifest_digest "$layout" v2)
V3=$(oci_manifest_digest "$layout" v3)

audit=$TEST_TMP/audit.log
metrics_addr=127.0.0.1:$(free_port)
frag=$TEST_TMP/policy.yaml
cat >"$frag" <<EOF
plugins:
  - use: policy-signature
    config:
      cache_entries: 64
      policies:
        - name: main
          repositories: ["sig/**"]
          keys: ["$SIG_DIR/trusted.pub", "$SIG_DIR/edkey.pub", "$SIG_DIR/rsakey.pub"]
        - name: by-repository
          repositories: ["idrepo/**"]
          keys: ["$SIG_DIR/trusted.pub"]
          identity: repository
        - name: exact
          repositories: ["exact/*"]
          keys: ["$SIG_DIR/trusted.pub"]
          identity: exact
        - name: observe
          repositories: ["warn/**"]
          mode: warn
          keys: ["$SIG_DIR/trusted.pub"]
        - name: rotation
          repositories: ["rot/**"]
          keys: ["$SIG_DIR/oldkey.pub", "$SIG_DIR/newkey.pub"]
        - name: per-child
          repositories: ["children/**"]
          keys: ["$SIG_DIR/trusted.pub"]
          index: children
        - name: dormant
          repositories: ["dormant/**"]
          mode: off
  - use: metrics-prometheus
    config:
      listen: "$metrics_addr"
  - use: audit-log
    config:
      path: "$audit"
      fsync: always
EOF
berth_start policy "include: \"$frag\""
reg=$BERTH_ADDR
grep -q "policy 'main' trusts Ed25519 key" "$BERTH_LOG" || fail "the log does not name the trusted keys"
ok "the log names each policy's keys and their kinds"

# push REPO TAG IMAGE: skopeo copy from the layout; the digest must be the layout's.
push()
{
	run "skopeo push $1:$2" skopeo_t copy --dest-tls-verify=false --preserve-digests \
		"oci:$layout:$3" "docker://$reg/$1:$2"
}

# pull_ok REPO REF / pull_refused REPO REF TEXT: skopeo copy out, and the
# refusal's text as skopeo shows it.
pull_ok()
{
	rm -rf "$TEST_TMP/out"
	run "skopeo pulls $1:$2" skopeo_t copy --src-tls-verify=false \
		"docker://$reg/$1${2:+:$2}" "oci:$TEST_TMP/out:x"
}

pull_refused()
{
	rm -rf "$TEST_TMP/out"
	run_fails "skopeo cannot pull $1:$2" skopeo_t copy --src-tls-verify=false \
		"docker://$reg/$1:$2" "oci:$TEST_TMP/out:x"
	last_output | grep -qF -- "$3" || {
		last_output | sed 's/^/#   /'
		fail "skopeo's error for $1:$2 does not say '$3'"
	}
	ok "skopeo shows why $1:$2 is refused ('$3')"
}

# expect_served REPO TAG DIGEST: GET and HEAD by tag and by digest answer 200.
expect_served()
{
	local m ref
	for m in GET HEAD; do
		for ref in "$2" "$3"; do
			assert_eq "$(pull_status $m "$1" "$ref")" 200 "$m $1:${ref:0:19} is served"
		done
	done
	assert_eq "$(http_header Docker-Content-Digest)" "$3" "$1 is served with digest ${3:0:19}"
}

# expect_refused REPO REF TEXT: GET and HEAD answer 403 DENIED, GET's message says TEXT.
expect_refused()
{
	assert_eq "$(pull_status HEAD "$1" "$2")" 403 "HEAD $1:${2:0:19} is refused"
	assert_eq "$(pull_status GET "$1" "$2")" 403 "GET $1:${2:0:19} is refused"
	assert_eq "$(error_code)" DENIED "GET $1:${2:0:19} answers DENIED"
	assert_match "$(error_message)" "$3" "GET $1:${2:0:19} says why"
}

# --- signed and unsigned --------------------------------------------------------

push sig/signed v1 v1
sign sig/signed "$V1" trusted
expect_served sig/signed v1 "$V1"
pull_ok sig/signed v1

sigtag=$(echo "$V1" | tr : -).sig
assert_eq "$(pull_status GET sig/signed "$sigtag")" 200 "the .sig manifest itself stays pullable"
sigdig=$(http_header Docker-Content-Digest)
payload=$(jq -r '.layers[0].digest' "$HTTP_BODY")
assert_eq "$(http GET "$BERTH_URL/v2/sig/signed/blobs/$payload")" 200 "the signed payload blob stays pullable"
assert_eq "$(jq -r '.critical.image["docker-manifest-digest"]' "$HTTP_BODY")" "$V1" "the payload names the image"
assert_eq "$(pull_status HEAD sig/signed "$sigdig")" 200 "the .sig manifest is pullable by digest too"
rm -rf "$TEST_TMP/out"
run "skopeo copies the .sig manifest (signatures stay readable by clients)" \
	skopeo_t copy --src-tls-verify=false "docker://$reg/sig/signed:$sigtag" "oci:$TEST_TMP/out:sig"

push sig/unsigned v1 v1
expect_refused sig/unsigned v1 "has no signature"
expect_refused sig/unsigned "$V1" "has no signature; policy 'main' requires"
pull_refused sig/unsigned v1 "has no signature"

push sig/wrongkey v1 v1
sign sig/wrongkey "$V1" other
expect_refused sig/wrongkey v1 "1 signature, none valid from a key trusted by policy 'main'"
pull_refused sig/wrongkey v1 "none valid from a key trusted"

# A valid signature of v1 put where v2's signature belongs.
push sig/replay v2 v2
p=$(payload_file "$V1" "$reg/sig/replay")
m=$(sig_manifest_json sig/replay "$(layer_json sig/replay "$p" "$(sign_bytes trusted "$p")")")
assert_eq "$(put_manifest sig/replay "$(echo "$V2" | tr : -).sig" "$m")" 201 "replayed signature pushed"
expect_refused sig/replay v2 "is for another digest \\($V1\\)"
pull_refused sig/replay v2 "for another digest"

# The tag moves to other content after signing.
push sig/moved app v1
sign sig/moved "$V1" trusted
expect_served sig/moved app "$V1"
push sig/moved app v2
expect_refused sig/moved app "sig/moved@$V2 has no signature"
assert_eq "$(pull_status GET sig/moved "$V1")" 200 "the signed digest is still served by digest"

# The payload edited after signing (the digest and signature annotation kept from the original).
push sig/edited v1 v1
p=$(payload_file "$V1" "$reg/sig/edited")
s=$(sign_bytes trusted "$p")
sed -i 's/sig\/edited/sig\/forged/' "$p"
m=$(sig_manifest_json sig/edited "$(layer_json sig/edited "$p" "$s")")
assert_eq "$(put_manifest sig/edited "$(echo "$V1" | tr : -).sig" "$m")" 201 "edited payload pushed"
expect_refused sig/edited v1 "none valid from a key trusted"
pull_refused sig/edited v1 "none valid"

# One layer signed by an untrusted key, one by the trusted key.
push sig/multi v1 v1
p1=$(payload_file "$V1" "$reg/sig/multi")
p2=$(payload_file "$V1" "$reg/sig/multi:v1")
m=$(sig_manifest_json sig/multi "$(layer_json sig/multi "$p1" "$(sign_bytes other "$p1")")" \
	"$(layer_json sig/multi "$p2" "$(sign_bytes trusted "$p2")")")
assert_eq "$(put_manifest sig/multi "$(echo "$V1" | tr : -).sig" "$m")" 201 "two-layer .sig pushed"
expect_served sig/multi v1 "$V1"
pull_ok sig/multi v1

# Ed25519 and RSA keys.
push sig/ed v1 v1
sign sig/ed "$V1" edkey
expect_served sig/ed v1 "$V1"
push sig/rsa v2 v2
sign sig/rsa "$V2" rsakey
expect_served sig/rsa v2 "$V2"
pull_ok sig/rsa v2

# --- referrers ------------------------------------------------------------------

push sig/referrer v1 v1
expect_refused sig/referrer v1 "has no signature"
sign_referrer sig/referrer "$V1" trusted
expect_served sig/referrer v1 "$V1"
pull_ok sig/referrer v1

push sig/bundle v2 v2
sign_bundle sig/bundle "$V2" trusted
expect_served sig/bundle v2 "$V2"
push sig/bundle-other v2 v2
sign_bundle sig/bundle-other "$V2" other
expect_refused sig/bundle-other v2 "none valid from a key trusted"
# A bundle whose statement names v1, pushed as a referrer of v3.
push sig/bundle-replay v3 v3
push sig/bundle-replay v1 v1
sign_bundle sig/bundle-replay "$V1" trusted
bf=$SIG_LAST_BUNDLE
ld=$(upload_blob sig/bundle-replay "$bf")
m=$(sig_manifest_json sig/bundle-replay \
	"$(printf '{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","size":%d,"digest":"%s"}' "$(stat -c %s "$bf")" "$ld")" \
	-- "$V3" application/vnd.dev.sigstore.bundle.v0.3+json)
assert_eq "$(put_manifest sig/bundle-replay "$(sha256_digest "$m")" "$m")" 201 "replayed bundle pushed as a referrer of v3"
expect_refused sig/bundle-replay v3 "for another digest \\($V1\\)"

# --- identities -----------------------------------------------------------------

push idrepo/app v1 v1
sign idrepo/app "$V1" trusted "$reg/idrepo/app"
expect_served idrepo/app v1 "$V1"
pull_ok idrepo/app v1
push idrepo/other v1 v1
sign idrepo/other "$V1" trusted "$reg/idrepo/app"
expect_refused idrepo/other v1 "names '$reg/idrepo/app', not what is pulled"
pull_refused idrepo/other v1 "not what is pulled"

push exact/app v1 v1
push exact/app v1-again v1
sign exact/app "$V1" trusted "$reg/exact/app:v1"
expect_served exact/app v1 "$V1"
expect_refused exact/app v1-again "names '$reg/exact/app:v1'"
push exact/repo-only v1 v1
sign exact/repo-only "$V1" trusted "$reg/exact/repo-only"
expect_refused exact/repo-only v1 "names '$reg/exact/repo-only'"
assert_eq "$(pull_status GET exact/repo-only "$V1")" 200 "by digest, a repository-only identity passes exact mode"

# --- indexes --------------------------------------------------------------------

# index_json REPO DIGEST...: an OCI index of manifests already in REPO.
index_json()
{
	local repo=$1 items="" d size f
	shift
	for d in "$@"; do
		size=$(stat -c %s "$layout/blobs/sha256/${d#sha256:}")
		items="${items:+$items,}$(printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"platform":{"architecture":"amd64","os":"linux"}}' "$d" "$size")"
	done
	f=$(mktemp "$SIG_DIR/index.XXXXXX")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$items" >"$f"
	echo "$f"
}

put_index()
{
	curl -s -o /dev/null -w '%{http_code}' -X PUT \
		-H 'Content-Type: application/vnd.oci.image.index.v1+json' \
		--data-binary @"$3" "$BERTH_URL/v2/$1/manifests/$2"
}

push sig/multiarch a v1
push sig/multiarch b v2
idx=$(index_json sig/multiarch "$V1" "$V2")
IDX=$(sha256_digest "$idx")
assert_eq "$(put_index sig/multiarch latest "$idx")" 201 "index pushed"
expect_refused sig/multiarch latest "has no signature"
assert_eq "$(pull_status GET sig/multiarch "$V1")" 403 "an unsigned index's child is refused"
sign sig/multiarch "$IDX" trusted
expect_served sig/multiarch latest "$IDX"
expect_served sig/multiarch b "$V2"
assert_eq "$(pull_status GET sig/multiarch "$V1")" 200 "a child of a signed index is served by digest"

push children/app a v1
push children/app b v2
idx=$(index_json children/app "$V1" "$V2")
CIDX=$(sha256_digest "$idx")
assert_eq "$(put_index children/app latest "$idx")" 201 "index pushed to children/app"
sign children/app "$CIDX" trusted
sign children/app "$V1" trusted
expect_refused children/app latest "index $CIDX: child children/app@$V2 has no signature"
sign children/app "$V2" trusted
expect_served children/app latest "$CIDX"

# --- warn mode, rotation, off ---------------------------------------------------

push warn/app v1 v1
expect_served warn/app v1 "$V1"
pull_ok warn/app v1
grep -q "served despite signature policy 'observe' (warn): warn/app@$V1 has no signature" "$BERTH_LOG" ||
	fail "warn mode did not log the unsigned pull"
ok "warn mode serves the unsigned image and logs it"

push rot/old v1 v1
sign rot/old "$V1" oldkey
push rot/new v2 v2
sign rot/new "$V2" newkey
push rot/stranger v3 v3
sign rot/stranger "$V3" other
expect_served rot/old v1 "$V1"
expect_served rot/new v2 "$V2"
expect_refused rot/stranger v3 "none valid from a key trusted by policy 'rotation'"

push dormant/app v1 v1
expect_served dormant/app v1 "$V1"
push free/app v1 v1
expect_served free/app v1 "$V1"

# --- the cache sees new signatures at once --------------------------------------

push sig/late v1 v1
for _ in 1 2 3; do
	assert_eq "$(pull_status GET sig/late v1)" 403 "unsigned sig/late is refused (and cached)"
done
sign sig/late "$V1" other
expect_refused sig/late v1 "none valid"
sign sig/late "$V1" trusted
assert_eq "$(pull_status GET sig/late v1)" 200 "the new signature counts on the very next pull"

push sig/lateref v1 v1
assert_eq "$(pull_status GET sig/lateref v1)" 403 "unsigned sig/lateref is refused (and cached)"
sign_referrer sig/lateref "$V1" trusted
assert_eq "$(pull_status GET sig/lateref v1)" 200 "a new referrer signature counts on the very next pull"

# A signature removed: the .sig tag deleted.
assert_eq "$(http DELETE "$BERTH_URL/v2/sig/late/manifests/$(echo "$V1" | tr : -).sig")" 202 ".sig tag deleted"
assert_eq "$(pull_status GET sig/late v1)" 403 "without its signature the image is refused again"

# --- bad signature data ---------------------------------------------------------

push sig/garbage v1 v1
p=$(mktemp "$SIG_DIR/garbage.XXXXXX")
printf '{"critical":' >"$p"
m=$(sig_manifest_json sig/garbage "$(layer_json sig/garbage "$p" "$(sign_bytes trusted "$p")")" \
	"$(layer_json sig/garbage "$p" "not base64 at all!")" \
	"$(printf '{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":%d,"digest":"%s"}' \
		"$(stat -c %s "$p")" "$(sha256_digest "$p")")")
assert_eq "$(put_manifest sig/garbage "$(echo "$V1" | tr : -).sig" "$m")" 201 "malformed signatures pushed"
expect_refused sig/garbage v1 "is not a cosign image signature"

push sig/wrongtype v1 v1
p=$(mktemp "$SIG_DIR/type.XXXXXX")
printf '{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"%s"},"type":"atomic container signature"},"optional":null}' "$V1" >"$p"
m=$(sig_manifest_json sig/wrongtype "$(layer_json sig/wrongtype "$p" "$(sign_bytes trusted "$p")")")
assert_eq "$(put_manifest sig/wrongtype "$(echo "$V1" | tr : -).sig" "$m")" 201 "signature of another type pushed"
expect_refused sig/wrongtype v1 "not a cosign image signature"

# A payload over max_payload_size (64 KiB) is not read.
push sig/huge v1 v1
p=$(mktemp "$SIG_DIR/huge.XXXXXX")
{ printf '{"critical":{"identity":{"docker-reference":"%s"},"image":{"docker-manifest-digest":"%s"},"type":"cosign container image signature"},"optional":{"pad":"' "$reg/sig/huge" "$V1"
  head -c 70000 /dev/zero | tr '\0' a
  printf '"}}'; } >"$p"
m=$(sig_manifest_json sig/huge "$(layer_json sig/huge "$p" "$(sign_bytes trusted "$p")")")
assert_eq "$(put_manifest sig/huge "$(echo "$V1" | tr : -).sig" "$m")" 201 "oversized payload pushed"
expect_refused sig/huge v1 "larger than max_payload_size"

# --- what operators see: event and metrics --------------------------------------

grep -q '"reason":"sig/unsigned@'"$V1"' has no signature' "$audit" ||
	{ tail -n 5 "$audit" | sed 's/^/#   /'; fail "no pull.blocked line with the reason in the audit log"; }
ok "a refused pull is a pull.blocked event with the reason (audit-log)"
grep -q "pull of sig/unsigned@$V1 blocked by 'policy-signature'" "$BERTH_LOG" ||
	fail "the core did not log the blocked pull"
ok "the core logs the blocked pull"

curl -sf "http://$metrics_addr/metrics" >"$TEST_TMP/metrics.txt" || fail "cannot scrape the metrics"
metric()
{
	grep -E "^$1\{" "$TEST_TMP/metrics.txt" | grep -F "$2" | awk '{s += $2} END {print s + 0}'
}
assert_eq "$(metric berth_signature_verifications_total 'policy="observe",result="warn"')" \
	"$(grep -c "served despite signature policy 'observe'" "$BERTH_LOG")" \
	"each pull served in warn mode is counted once and logged once"
assert_ne "$(metric berth_signature_verifications_total 'result="missing"')" 0 "missing signatures counted"
assert_ne "$(metric berth_signature_verifications_total 'result="invalid"')" 0 "invalid signatures counted"
assert_ne "$(metric berth_signature_verifications_total 'result="valid"')" 0 "valid signatures counted"
assert_ne "$(metric berth_signature_cache_lookups_total 'result="hit"')" 0 "cache hits counted"
blocks=$(metric berth_scan_blocks_total '')
assert_ne "$blocks" 0 "the core counts the blocks too"

berth_stop

# --- the shipped example fragment -------------------------------------------------

BERTH_SIGNING_KEY=$SIG_DIR/trusted.pub BERTH_START_ROOT=$BERTH_ROOT \
	berth_start example "include: \"$BERTH_SOURCE_DIR/conf.d/available/65-policy-signature.yaml\""
reg=$BERTH_ADDR
push prod/app v1 v1
push staging/app v1 v1
expect_refused prod/app v1 "policy 'production' requires"
expect_served staging/app v1 "$V1"
sign prod/app "$V1" trusted "$BERTH_ADDR/prod/app"
expect_served prod/app v1 "$V1"
berth_stop

# --- admin bypass ---------------------------------------------------------------

frag2=$TEST_TMP/bypass.yaml
cat >"$frag2" <<EOF
plugins:
  - use: hello-auth
    config:
      user: admin
      password: s3cret
  - use: policy-signature
    config:
      policies:
        - repositories: ["sig/**"]
          keys: ["$SIG_DIR/trusted.pub"]
          bypass_identities: [admin]
        - repositories: ["strict/**"]
          keys: ["$SIG_DIR/trusted.pub"]
EOF
# berth_start waits for GET /v2/ to answer 200, which needs the credentials.
mkdir -p "$TEST_TMP/curl"
echo 'user = "admin:s3cret"' >"$TEST_TMP/curl/.curlrc"
CURL_HOME=$TEST_TMP/curl BERTH_START_ROOT=$BERTH_ROOT berth_start bypass "include: \"$frag2\""
assert_eq "$(pull_status GET sig/unsigned v1 -u admin:s3cret)" 200 "the bypass identity pulls an unsigned image"
grep -q "by 'admin' bypasses signature policy 'policy-1'" "$BERTH_LOG" || fail "the bypass is not logged"
ok "the bypass is logged"
run "skopeo push strict/app" skopeo_t copy --dest-tls-verify=false --dest-creds admin:s3cret \
	"oci:$layout:v1" "docker://$BERTH_ADDR/strict/app:v1"
assert_eq "$(pull_status GET strict/app v1 -u admin:s3cret)" 403 "without bypass the same identity is refused"
berth_stop

# --- config errors --------------------------------------------------------------

# config_error NAME POLICY_LINES EXPECTED: `berth plugin check --start` (which
# runs create()) refuses the config map with EXPECTED in its message.
config_error()
{
	local f=$TEST_TMP/bad-$1.yaml out rc=0
	printf 'policies:\n%s\n' "$2" >"$f"
	out=$("$BERTH_BIN" plugin check "$BERTH_PLUGIN_DIR/policy-signature.so" --config "$f" \
		--start 2>&1) || rc=$?
	[ $rc -ne 0 ] || fail "config '$1' was accepted"
	[[ $out == *"$3"* ]] || { echo "# $out"; fail "config '$1': message does not say '$3'"; }
	ok "config '$1' refused: $3"
}

trusted_key="    keys: [\"$SIG_DIR/trusted.pub\"]"
config_error unknown-key "  - repositories: [a/**]
$trusted_key
    identiy: exact" "bad-unknown-key.yaml:4:5: policy-signature: policies[1]: unknown key 'identiy'"
config_error mode "  - repositories: [a/**]
$trusted_key
    mode: block" "bad-mode.yaml:4:5: policy-signature: policies[1]: 'mode' is 'block': expected enforce, warn or off"
config_error no-keys "  - repositories: [a/**]" "'keys' is required unless mode is off"
config_error no-repositories "  - keys: [\"$SIG_DIR/trusted.pub\"]" "'repositories' is required"
config_error missing-key-file "  - repositories: [a/**]
    keys: [\"$SIG_DIR/nope.pub\"]" "cannot read key '$SIG_DIR/nope.pub'"
config_error private-key "  - repositories: [a/**]
    keys: [\"$SIG_DIR/trusted.pem\"]" "is not a PEM public key"
config_error p384 "  - repositories: [a/**]
    keys: [\"$SIG_DIR/bigcurve.pub\"]" "on another curve than P-256"
config_error pattern "  - repositories: [\"A/**\"]
$trusted_key" "which no repository name holds"
config_error identity "  - repositories: [a/**]
$trusted_key
    identity: strict" "expected off, repository or exact"
config_error referrers "  - repositories: [a/**]
$trusted_key
    referrers: maybe" "'referrers' is 'maybe': expected true or false"
config_error list-as-mode "  - repositories: [a/**]
$trusted_key
    mode: [enforce]" "'mode' must be a single value"
config_error not-a-map "  - just-a-string" "bad-not-a-map.yaml:2:5: plugin 'plugin': invalid 'policies' item 1: expected a map"
config_error empty "  []" "'policies' lists no policy"

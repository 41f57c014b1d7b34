#!/usr/bin/env bash
# scan-trivy with real clients: Docker Engine builds and pushes an image, a
# Trivy report is put with curl, `docker pull` (by tag and by digest) fails
# with the policy's message, an allowlist change lets it through, unscanned
# images are refused and served as the policy says, and a report copied
# with skopeo as an OCI referrer of the image is imported on its own.
# ctest-labels: heavy
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_cmd curl jq python3 skopeo
data=$BERTH_SOURCE_DIR/plugins/scan-trivy/tests/data
report=$data/spring4shell-jre11.json
trivy_type=application/vnd.aquasec.trivy.report.v1+json
root=$TEST_TMP/registry
events=$TEST_TMP/events.jsonl

# serve_with NAME SCAN_CONFIG_LINES: berth on $root with scan-trivy (its
# config: the given lines) and hello-notify writing to $events.
serve_with()
{
	local name=$1 lines=$2 frag=$TEST_TMP/scan-$1.yaml
	{
		echo "plugins:"
		echo "  - use: scan-trivy"
		echo "    config:"
		printf '%s\n' "$lines" | sed 's/^/      /'
		echo "  - use: hello-notify"
		echo "    config:"
		echo "      path: \"$events\""
	} >"$frag"
	BERTH_START_ROOT=$root berth_start "$name" "include: \"$frag\""
	reg=$BERTH_ADDR
}

image_id()
{
	docker image inspect -f '{{.Id}}' "$1"
}

dockerd_start
serve_with critical 'block_severity: CRITICAL'

# --- an image with a CRITICAL finding ------------------------------------------

make_context "$TEST_TMP/ctx-app" app
docker_build_scratch "$reg/team/app:v1" "$TEST_TMP/ctx-app"
app_id=$(image_id "$reg/team/app:v1")
run "docker push team/app:v1" docker push "$reg/team/app:v1"
digest=$(last_output | sed -n 's/.*digest: \(sha256:[0-9a-f]*\) size.*/\1/p')
assert_match "$digest" '^sha256:[0-9a-f]{64}$' "docker push reports the digest"

status=$(http PUT "$BERTH_URL/berth/v1/scans/team/app@$digest" -H 'Content-Type: application/json' \
	--data-binary "@$report")
assert_eq "$status" 201 "PUT the Trivy report with curl"
assert_eq "$(jq -r .counts.CRITICAL "$HTTP_BODY")" 1 "the summary counts one CRITICAL"
assert_eq "$(http GET "$BERTH_URL/berth/v1/scans/team/app:v1")" 200 "GET the summary by tag"
assert_eq "$(jq -r .digest "$HTTP_BODY")" "$digest" "the tag resolves to the pushed digest"

run "docker rmi team/app:v1" docker rmi "$reg/team/app:v1"
run_fails "docker pull of the vulnerable image fails" docker pull "$reg/team/app:v1"
out=$(last_output)
assert_match "$out" "blocked by scan policy 'default'" "docker shows the policy"
assert_match "$out" '1 CRITICAL vulnerability at or above CRITICAL \(CVE-2022-22965\)' \
	"docker shows the count and the CVE"
assert_match "$out" 'allowlist' "docker shows how to get an exception"
run_fails "docker pull by digest fails too" docker pull "$reg/team/app@$digest"
assert_match "$(last_output)" 'CVE-2022-22965' "the digest pull shows the CVE"

line=$(grep '"type":"pull.blocked"' "$events" | tail -n 1)
assert_eq "$(jq -r .digest <<<"$line")" "$digest" "pull.blocked event names the digest"
assert_eq "$(jq -r .repository <<<"$line")" team/app "pull.blocked event names the repository"
line=$(grep '"type":"scan.completed"' "$events" | tail -n 1)
assert_eq "$(jq -r .detail.counts.CRITICAL <<<"$line")" 1 "scan.completed event carries the counts"

# --- an allowlist change lets it through -------------------------------------

berth_stop
serve_with allowlisted "block_severity: CRITICAL
allowlist: [CVE-2022-22965 until 2999-12-31]"
run "docker pull succeeds once the CVE is allowlisted" docker pull "$reg/team/app:v1"
assert_eq "$(image_id "$reg/team/app:v1")" "$app_id" "the pulled image is the pushed one"
run "docker rmi team/app:v1 again" docker rmi "$reg/team/app:v1"

# --- unscanned images ----------------------------------------------------------

make_context "$TEST_TMP/ctx-other" other
docker_build_scratch "$reg/team/other:v1" "$TEST_TMP/ctx-other"
run "docker push team/other:v1 (no report)" docker push "$reg/team/other:v1"
other_digest=$(last_output | sed -n 's/.*digest: \(sha256:[0-9a-f]*\) size.*/\1/p')
run "docker rmi team/other:v1" docker rmi "$reg/team/other:v1"
run "an unscanned image is served while block_unscanned is off" docker pull "$reg/team/other:v1"
run "docker rmi team/other:v1 again" docker rmi "$reg/team/other:v1"
berth_stop
serve_with unscanned "block_severity: CRITICAL
block_unscanned: true
contact: security@example.com"
run_fails "docker pull of an unscanned image fails with block_unscanned" \
	docker pull "$reg/team/other:v1"
assert_match "$(last_output)" 'no vulnerability report' "docker says the image has no report"
assert_match "$(last_output)" 'security@example.com' "docker names whom to ask"

# --- a report copied with skopeo as a referrer ---------------------------------

assert_match "$other_digest" '^sha256:[0-9a-f]{64}$' "team/other's digest"
other_size=$(stat -c %s "$(blob_path "$root" "$other_digest")")
layout=$TEST_TMP/report-layout
python3 - "$layout" "$report" "$other_digest" "$other_size" "$trivy_type" <<'EOF'
import hashlib, json, os, sys
layout, report, subject, size, ttype = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
def put(b):
    d = hashlib.sha256(b).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", d), "wb") as f:
        f.write(b)
    return {"digest": "sha256:" + d, "size": len(b)}
empty = put(b"{}")
with open(report, "rb") as f:
    layer = put(f.read())
m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
     "artifactType": ttype,
     "config": dict(empty, mediaType="application/vnd.oci.empty.v1+json"),
     "layers": [dict(layer, mediaType=ttype)],
     "subject": {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                 "digest": subject, "size": size}}
man = put(json.dumps(m).encode())
with open(os.path.join(layout, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [dict(man, mediaType=m["mediaType"],
              annotations={"org.opencontainers.image.ref.name": "report"})]}, f)
with open(os.path.join(layout, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
EOF
run "skopeo copies the report artifact to the registry" \
	skopeo_t copy --dest-tls-verify=false --preserve-digests "oci:$layout:report" \
	"docker://$reg/team/other:trivy-report"
assert_eq "$(http GET "$BERTH_URL/berth/v1/scans/team/other@$other_digest")" 200 \
	"GET the summary of team/other"
assert_eq "$(jq -r .scanned "$HTTP_BODY")" true "the referrer was imported"
assert_eq "$(jq -r .imported_via "$HTTP_BODY")" referrer "imported_via is referrer"
assert_eq "$(jq -r .counts.CRITICAL "$HTTP_BODY")" 1 "its counts"
run_fails "now scanned, team/other is refused for its CRITICAL finding" \
	docker pull "$reg/team/other:v1"
assert_match "$(last_output)" 'CVE-2022-22965' "docker shows the CVE of the imported referrer"

berth_stop
serve_with off 'block_severity: none'
run "with the policy off both images pull" docker pull "$reg/team/other:v1"
run "team/app pulls too" docker pull "$reg/team/app:v1"

berth_stop
dockerd_stop

#!/usr/bin/env bash
# Berth on storage-s3 against CNCF Distribution's s3 driver, on the same
# throw-away Ceph RGW in the same run: push and pull throughput of an image
# with one large incompressible layer (skopeo), and the rate of manifest
# GETs (parallel clients). Prints each number and Berth/Distribution ratios.
#
#   BERTH_BUILD_DIR=build bash plugins/storage-s3/bench/bench_s3.sh [LAYER_MIB] [GETS]
#
# Needs ceph-mon ceph-osd radosgw ceph-common docker-registry skopeo umoci jq.
# Both registries and the gateway share this machine's cores, so the numbers
# are end to end, not either registry's ceiling: compare the ratios.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
build=$(realpath "${BERTH_BUILD_DIR:-$src/build}")
mib=${1:-200}
gets=${2:-2000}
work=$(mktemp -d /tmp/berth-bench-s3.XXXXXX)
pids=()
finish()
{
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	bash "$src/tests/integration/ceph_rgw.sh" down "$work/rgw" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap finish EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
wait_up() { for _ in $(seq 1 200); do curl -sf -o /dev/null "$1/v2/" && return 0; sleep 0.1; done; return 1; }

bash "$src/tests/integration/ceph_rgw.sh" up "$work/rgw" >"$work/rgw.log" 2>&1
# shellcheck disable=SC1091
. "$work/rgw/env"
bash "$src/tests/integration/ceph_rgw.sh" bucket "$work/rgw" berth
bash "$src/tests/integration/ceph_rgw.sh" bucket "$work/rgw" dist

bport=$(free_port)
cat >"$work/berth.yaml" <<YAML
listen: 127.0.0.1:$bport
plugin_path: ["$build/plugins"]
logging: {level: warn}
plugins:
  - use: storage-s3
    config:
      endpoint: $RGW_ENDPOINT
      bucket: berth
      access_key: $S3_ACCESS
      secret_key: $S3_SECRET
YAML
"$build/berth" serve -c "$work/berth.yaml" >"$work/berth.log" 2>&1 &
pids+=($!)
dport=$(free_port)
cat >"$work/dist.yml" <<YAML
version: 0.1
log: {level: error}
storage:
  s3: {accesskey: $S3_ACCESS, secretkey: $S3_SECRET, region: us-east-1, regionendpoint: $RGW_ENDPOINT,
       bucket: dist, secure: false, v4auth: true, chunksize: 10485760}
  redirect: {disable: true}
http: {addr: 127.0.0.1:$dport}
YAML
env -u AWS_CA_BUNDLE docker-registry serve "$work/dist.yml" >"$work/dist.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$bport" && wait_up "http://127.0.0.1:$dport"

cat >"$work/policy.json" <<'JSON'
{"default": [{"type": "insecureAcceptAnything"}]}
JSON
head -c $((mib * 1024 * 1024)) /dev/urandom >"$work/layer.bin"
umoci init --layout "$work/oci" >/dev/null
umoci new --image "$work/oci:img" >/dev/null
umoci insert --image "$work/oci:img" "$work/layer.bin" /layer.bin >/dev/null
rm -f "$work/layer.bin"
sk() { skopeo --policy "$work/policy.json" "$@" >/dev/null; }

declare -A push pull rate
for reg in berth:$bport dist:$dport; do
	name=${reg%%:*}
	addr=127.0.0.1:${reg#*:}
	t=$(now)
	sk copy --dest-tls-verify=false "oci:$work/oci:img" "docker://$addr/bench/img:v1"
	push[$name]=$(echo "$mib / ($(now) - $t)" | bc -l)
	t=$(now)
	sk copy --src-tls-verify=false "docker://$addr/bench/img:v1" "oci:$work/back-$name:img"
	pull[$name]=$(echo "$mib / ($(now) - $t)" | bc -l)
	rate[$name]=$(python3 - "$addr" "$gets" <<'PY'
import http.client, sys, threading, time
addr, n = sys.argv[1], int(sys.argv[2])
host, port = addr.split(":")
per = n // 8
def run():
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    for _ in range(per):
        c.request("GET", "/v2/bench/img/manifests/v1",
                  headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status
t = time.monotonic()
ts = [threading.Thread(target=run) for _ in range(8)]
[x.start() for x in ts]; [x.join() for x in ts]
print("%.1f" % (per * 8 / (time.monotonic() - t)))
PY
)
	rm -rf "$work/back-$name"
done
printf '%-28s %10s %14s %8s\n' "" Berth Distribution ratio
printf '%-28s %10.1f %14.1f %8.2f\n' "push MiB/s ($mib MiB layer)" "${push[berth]}" "${push[dist]}" \
	"$(echo "${push[berth]} / ${push[dist]}" | bc -l)"
printf '%-28s %10.1f %14.1f %8.2f\n' "pull MiB/s" "${pull[berth]}" "${pull[dist]}" \
	"$(echo "${pull[berth]} / ${pull[dist]}" | bc -l)"
printf '%-28s %10.1f %14.1f %8.2f\n' "manifest GET/s (8 clients)" "${rate[berth]}" "${rate[dist]}" \
	"$(echo "${rate[berth]} / ${rate[dist]}" | bc -l)"

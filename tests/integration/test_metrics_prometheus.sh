#!/usr/bin/env bash
# The metrics-prometheus plugin scraped by a real Prometheus: skopeo pushes
# and pulls, counted against the access log; the exposition checked by
# promtool; exact values read back through Prometheus's query API; the
# bearer token on both listeners; /metrics on the main port only when
# main_port is set; a custom path, namespace_cap, storage_refresh, pulls
# refused by a scan gate (hello-scan) and listen: off.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_cmd skopeo umoci prometheus promtool curl jq python3 ss
plugin_so=$BERTH_PLUGIN_DIR/metrics-prometheus.so
[ -f "$plugin_so" ] || fail "no plugin at '$plugin_so' (build first)"

oci_manifest=application/vnd.oci.image.manifest.v1+json
buckets="0.001 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30 60 +Inf"
berth_version=$("$BERTH_BIN" version | awk '{print $NF}')

# --- helpers ------------------------------------------------------------------

# metrics_start NAME CONFIG_LINES [PLUGINS]: berth_start with the plugin on
# its own free loopback port. CONFIG_LINES are extra keys of the plugin's
# config, one per line ("listen:" is set here unless CONFIG_LINES sets it);
# PLUGINS, more entries of the plugins: list. Exports METRICS_ADDR.
metrics_start()
{
	local name=$1 lines=${2:-} more=${3:-} frag
	frag=$TEST_TMP/metrics-$name.yaml
	METRICS_ADDR=127.0.0.1:$(free_port)
	{
		echo "plugins:"
		echo "  - use: metrics-prometheus"
		echo "    config:"
		[[ $lines == *listen:* ]] || echo "      listen: \"$METRICS_ADDR\""
		[ -z "$lines" ] || printf '%s\n' "$lines" | sed 's/^/      /'
		[ -z "$more" ] || printf '%s\n' "$more"
	} >"$frag"
	export METRICS_ADDR
	berth_start "$name" "include: \"$frag\""
}

# scrape URL OUT [CURL ARGS...]: prints the status; body in OUT, headers in
# OUT.headers.
scrape()
{
	local url=$1 out=$2
	shift 2
	curl -sS --max-time 10 -o "$out" -D "$out.headers" -w '%{http_code}' "$@" "$url"
}

# A small reader of the text exposition format, so that a value does not
# depend on the order in which the plugin writes labels.
cat >"$TEST_TMP/expo.py" <<'EOF'
import re
import sys

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+-?\d+)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            if m:
                yield m.group(1), dict(LABEL.findall(m.group(2) or "")), m.group(3)


def number(text):
    v = float(text)
    return str(int(v)) if v.is_integer() else repr(v)


cmd, path = sys.argv[1], sys.argv[2]
if cmd == "value":
    # value FILE NAME [K=V...]: the sum of the matching samples, nothing
    # when none matches.
    name = sys.argv[3]
    want = dict(a.split("=", 1) for a in sys.argv[4:])
    found, total = False, 0.0
    for n, labels, v in samples(path):
        if n == name and all(labels.get(k) == w for k, w in want.items()):
            found, total = True, total + float(v)
    if found:
        print(number(repr(total)))
elif cmd == "label":
    # label FILE NAME LABEL [K=V...]: the distinct values of LABEL.
    name, label = sys.argv[3], sys.argv[4]
    want = dict(a.split("=", 1) for a in sys.argv[5:])
    seen = []
    for n, labels, v in samples(path):
        if n == name and all(labels.get(k) == w for k, w in want.items()):
            if label in labels and labels[label] not in seen:
                seen.append(labels[label])
    print("\n".join(seen))
elif cmd == "families":
    # families FILE: "NAME TYPE" per # TYPE line, and "NAME help" per
    # # HELP line.
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            p = line.split(None, 3)
            if len(p) >= 3 and p[0] == "#" and p[1] == "TYPE":
                print(p[2], p[3].strip() if len(p) > 3 else "")
            elif len(p) >= 3 and p[0] == "#" and p[1] == "HELP":
                print(p[2], "help")
EOF

expo()
{
	python3 "$TEST_TMP/expo.py" "$@"
}

# num_cmp A OP B: numeric comparison (OP is one of > >= == <=); an empty A
# is false.
num_cmp()
{
	[ -n "$1" ] || return 1
	awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
		a += 0; b += 0
		if (op == ">") exit !(a > b)
		if (op == ">=") exit !(a >= b)
		if (op == "==") exit !(a == b)
		if (op == "<=") exit !(a <= b)
		exit 2
	}'
}

assert_num()
{
	if num_cmp "$1" "$2" "$3"; then
		ok "$4"
	else
		fail "$4: got '$1', expected $2 $3"
	fi
}

# log_count REGEX: access lines of BERTH_LOG matching the extended REGEX
# (written against "method=M path=P status=S").
log_count()
{
	grep -cE "$1" "$BERTH_LOG" || true
}

# listening_sockets PID: how many TCP sockets PID listens on.
listening_sockets()
{
	ss -Hltnp | grep -c "pid=$1," || true
}

# --- prometheus ---------------------------------------------------------------

# prom_start TARGET: a Prometheus scraping TARGET every second as job
# "berth", on its own loopback port. Exports PROM_URL and PROM_PID.
prom_start()
{
	local dir=$TEST_TMP/prometheus port
	mkdir -p "$dir"
	cat >"$dir/prom.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: berth
    metrics_path: /metrics
    static_configs:
      - targets: ["$1"]
EOF
	PROM_LOG=$dir/prometheus.log
	for _ in 1 2 3; do
		port=$(free_port)
		(cd "$dir" && exec prometheus --config.file="$dir/prom.yml" \
			--storage.tsdb.path="$dir/tsdb" \
			--web.listen-address="127.0.0.1:$port") >>"$PROM_LOG" 2>&1 &
		PROM_PID=$!
		_SERVER_PIDS+=("$PROM_PID")
		_SERVER_LOGS+=("$PROM_LOG")
		PROM_URL=http://127.0.0.1:$port
		if _wait_http "$PROM_URL/-/ready" "$PROM_PID" "$PROM_LOG" 60; then
			export PROM_URL PROM_PID
			ok "prometheus is ready on $PROM_URL"
			return 0
		fi
		_stop_pid "$PROM_PID" 10
		_forget_server "$PROM_PID"
		grep -qi 'in use' "$PROM_LOG" || break
	done
	sed 's/^/#   /' "$PROM_LOG" | tail -n 40
	fail "prometheus did not become ready"
}

prom_stop()
{
	_stop_pid "$PROM_PID" 15
	_forget_server "$PROM_PID"
	[ "$_STOP_KILLED" -eq 0 ] || fail "prometheus did not stop within 15 s of SIGTERM"
	! _alive "$PROM_PID" || fail "prometheus is still running"
	ok "prometheus stopped"
}

prom_query()
{
	curl -sS --max-time 10 --get --data-urlencode "query=$1" "$PROM_URL/api/v1/query"
}

# prom_value EXPR: the value of EXPR's only series; nothing when there is
# none, "many" when there are several.
prom_value()
{
	prom_query "$1" | jq -r 'if .status != "success" then "error: \(.error)"
		elif (.data.result | length) == 0 then ""
		elif (.data.result | length) > 1 then "many"
		else .data.result[0].value[1] end'
}

# prom_label EXPR LABEL: LABEL of EXPR's series, one per line.
prom_label()
{
	prom_query "$1" | jq -r --arg l "$2" '.data.result[].metric[$l] // empty'
}

# --- the main instance and Prometheus ----------------------------------------

# notify-webhook with an endpoint that is down (every event fails once and
# goes to the dead letters) and retention (reporting only), so their
# families are scraped too.
metrics_start main "main_port: true
storage_refresh: 1s" "  - use: notify-webhook
    config:
      queue_dir: \"$TEST_TMP/webhook\"
      endpoints:
        - name: down
          url: http://127.0.0.1:1/events
          max_attempts: 1
  - use: retention
    config:
      enforce: false
      policies:
        - name: all
          repositories: [\"**\"]
          keep_last_pushed: 100"
reg=$BERTH_ADDR
main_pid=$BERTH_PID
_wait_http "http://$METRICS_ADDR/metrics" "$BERTH_PID" "$BERTH_LOG" 10 ||
	fail "the plugin's listener $METRICS_ADDR does not answer GET /metrics with 200"
ok "the plugin serves http://$METRICS_ADDR/metrics"
assert_eq "$(listening_sockets "$BERTH_PID")" 2 "berth listens on the registry port and the plugin's"

prom_start "$METRICS_ADDR"
deadline=$((SECONDS + 30))
up=
while [ $SECONDS -lt $deadline ]; do
	up=$(prom_value 'up{job="berth"}')
	[ "$up" = 1 ] && break
	sleep 0.5
done
assert_eq "$up" 1 "prometheus scrapes the plugin (up{job=\"berth\"} == 1)"

# --- traffic --------------------------------------------------------------------

layout=$TEST_TMP/layout
mkdir -p "$TEST_TMP/src/etc"
printf 'metrics image\n' >"$TEST_TMP/src/hello.txt"
seq 1 3000 >"$TEST_TMP/src/etc/numbers"
oci_layout_image "$layout" app "$TEST_TMP/src/etc" "$TEST_TMP/src/hello.txt"
app_digest=$(oci_manifest_digest "$layout" app)
assert_match "$app_digest" '^sha256:[0-9a-f]{64}$' "umoci made the image"
# Config and layers: what a push uploads and a pull downloads.
image_bytes=0
for d in $(oci_blob_digests "$layout" "$app_digest" | tail -n +2); do
	image_bytes=$((image_bytes + $(stat -c %s "$layout/blobs/sha256/${d#sha256:}")))
done

run "skopeo copy oci:app to team/app:v1" skopeo_t copy --dest-tls-verify=false \
	--preserve-digests "oci:$layout:app" "docker://$reg/team/app:v1"
run "skopeo copy oci:app to other/tool:v1" skopeo_t copy --dest-tls-verify=false \
	--preserve-digests "oci:$layout:app" "docker://$reg/other/tool:v1"
K=3
for ((i = 1; i <= K; i++)); do
	run "skopeo copy team/app:v1 back ($i of $K)" skopeo_t copy --src-tls-verify=false \
		"docker://$reg/team/app:v1" "dir:$TEST_TMP/pull-$i"
done
assert_eq "$(http HEAD "$BERTH_URL/v2/team/app/manifests/v1" -H "Accept: $oci_manifest")" 200 \
	"HEAD team/app:v1"
assert_eq "$(http GET "$BERTH_URL/v2/team/app/manifests/nosuchtag")" 404 "GET an unknown manifest"

# A garbage collection (nothing to free within the grace period): its
# families must be there, its run counted.
assert_eq "$(http POST "$BERTH_URL/berth/v1/jobs/gc")" 200 "POST /berth/v1/jobs/gc"
assert_eq "$(http POST "$BERTH_URL/berth/v1/jobs/retention")" 200 "POST /berth/v1/jobs/retention"

# The access line is written when a response is done: wait for the last one.
deadline=$((SECONDS + 10))
while [ "$(log_count ' access method=GET path=/v2/team/app/manifests/nosuchtag status=404 ')" = 0 ]; do
	[ $SECONDS -lt $deadline ] || fail "no access line for the unknown manifest"
	sleep 0.1
done

mpath='path=/v2/[^ ]+/manifests/[^/ ]+'
team_pulls=$(log_count " access method=GET path=/v2/team/[^ ]+/manifests/[^/ ]+ status=200 ")
other_pulls=$(log_count " access method=GET path=/v2/other/[^ ]+/manifests/[^/ ]+ status=200 ")
mget_2xx=$(log_count " access method=GET $mpath status=2[0-9][0-9] ")
mget_4xx=$(log_count " access method=GET $mpath status=4[0-9][0-9] ")
mget_all=$(log_count " access method=GET $mpath status=[0-9]+ ")
mhead_2xx=$(log_count " access method=HEAD $mpath status=2[0-9][0-9] ")
echo "# access log: $team_pulls manifest GETs 200 in team/, $other_pulls in other/," \
	"manifest GET 2xx $mget_2xx, 4xx $mget_4xx, HEAD 2xx $mhead_2xx"
assert_num "$team_pulls" ">=" "$K" "each of the $K skopeo pulls GETs the manifest (log: $team_pulls)"

blobs_dir=$BERTH_ROOT/docker/registry/v2/blobs
n_blobs=$(find "$blobs_dir" -type f -name data | wc -l)
blob_bytes=$(find "$blobs_dir" -type f -name data -printf '%s\n' | awk '{s += $1} END {print s + 0}')
assert_num "$n_blobs" ">=" 3 "the registry holds the image's blobs ($n_blobs files)"

# --- the scrape, read directly ---------------------------------------------------

# Events reach the plugin through the queue and storage usage is refreshed
# every second: wait until the scrape has caught up with the traffic. The
# webhook endpoint that is down fails and dead-letters each event on its own
# thread, counting both before the event leaves its queue: wait until the
# last event (the gc run's) is dead-lettered, then for an empty queue.
own=$TEST_TMP/own.txt
deadline=$((SECONDS + 20))
while :; do
	gc_dead=0
	grep -qsF gc.completed "$TEST_TMP/webhook/down/dead-letter.jsonl" && gc_dead=1
	code=$(scrape "http://$METRICS_ADDR/metrics" "$own") || code=000
	if [ "$code" = 200 ] &&
		[ "$gc_dead" = 1 ] && [ "$(expo value "$own" berth_webhook_queue_depth endpoint=down)" = 0 ] &&
		[ "$(expo value "$own" berth_manifest_pulls_total namespace=team)" = "$team_pulls" ] &&
		[ "$(expo value "$own" berth_manifest_pushes_total namespace=other)" = 1 ] &&
		[ "$(expo value "$own" berth_http_requests_total route=manifest method=GET code=4xx)" = "$mget_4xx" ] &&
		num_cmp "$(expo value "$own" berth_storage_objects)" ">=" "$n_blobs"; then
		break
	fi
	[ $SECONDS -lt $deadline ] || break
	sleep 0.5
done
after_traffic=$(date +%s.%N)
assert_eq "$code" 200 "GET /metrics on the plugin's listener"
ctype=$(grep -i '^content-type:' "$own.headers" | tail -n 1 | sed 's/^[^:]*: *//' | tr -d '\r')
assert_match "$ctype" '^text/plain' "the scrape is text/plain ($ctype)"
assert_match "$ctype" 'version=0\.0\.4' "the scrape declares format version 0.0.4"

rc=0
promtool check metrics <"$own" >"$TEST_TMP/promtool.out" 2>&1 || rc=$?
if [ -s "$TEST_TMP/promtool.out" ]; then
	echo "# promtool check metrics says:"
	sed 's/^/#   /' "$TEST_TMP/promtool.out"
fi
[ $rc -eq 0 ] || fail "promtool check metrics exits $rc"
ok "promtool check metrics accepts the scrape"

# Every family of the contract that exists once there has been traffic, with
# its type and help. The core's counters without labels must be there at 0
# before their first increment: otherwise the series starts at 1 and the
# alerts' increase() never sees that first event.
expo families "$own" >"$TEST_TMP/families.txt"
while read -r fam type; do
	grep -qx "$fam $type" "$TEST_TMP/families.txt" ||
		fail "no '# TYPE $fam $type' (got: $(grep "^$fam " "$TEST_TMP/families.txt" | grep -v ' help$' || echo none))"
	grep -qx "$fam help" "$TEST_TMP/families.txt" || fail "no '# HELP $fam'"
done <<'EOF'
berth_http_requests_total counter
berth_http_request_duration_seconds histogram
berth_http_request_bytes_total counter
berth_http_response_bytes_total counter
berth_manifest_pulls_total counter
berth_manifest_pushes_total counter
berth_uploads_in_progress gauge
berth_auth_failures_total counter
berth_auth_denials_total counter
berth_events_dropped_total counter
berth_events_queue_depth gauge
berth_storage_used_bytes gauge
berth_storage_available_bytes gauge
berth_storage_total_bytes gauge
berth_storage_objects gauge
berth_build_info gauge
berth_plugin_info gauge
process_resident_memory_bytes gauge
process_virtual_memory_bytes gauge
process_cpu_seconds_total counter
process_open_fds gauge
process_max_fds gauge
process_start_time_seconds gauge
berth_jobs_runs_total counter
berth_gc_runs_total counter
berth_gc_blobs_deleted_total counter
berth_gc_bytes_freed_total counter
berth_gc_layer_links_deleted_total counter
berth_gc_uploads_purged_total counter
berth_gc_last_success_timestamp_seconds gauge
berth_webhook_queue_depth gauge
berth_webhook_deliveries_total counter
berth_webhook_failures_total counter
berth_webhook_dead_letters_total counter
berth_retention_runs_total counter
EOF
ok "every family of the contract has # HELP and # TYPE with its type"

# Label values stay inside the contract's sets.
for r in $(expo label "$own" berth_http_requests_total route); do
	[[ " blob manifest upload tags catalog referrers base plugin admin other " == *" $r "* ]] ||
		fail "berth_http_requests_total has route=\"$r\", not one of the contract's"
done
for c in $(expo label "$own" berth_http_requests_total code); do
	[[ " 2xx 3xx 4xx 5xx " == *" $c "* ]] || fail "berth_http_requests_total has code=\"$c\""
done
for m in $(expo label "$own" berth_http_requests_total method); do
	[[ " GET HEAD PUT POST PATCH DELETE OTHER " == *" $m "* ]] ||
		fail "berth_http_requests_total has method=\"$m\""
done
ok "route, code and method labels are from the contract's sets"

les=$(expo label "$own" berth_http_request_duration_seconds_bucket le route=manifest method=GET |
	awk '$1 == "+Inf" {print; next} {printf "%g\n", $1}' | tr '\n' ' ')
assert_eq "${les% }" "$buckets" "the duration histogram has the contract's buckets"
inf=$(expo value "$own" berth_http_request_duration_seconds_bucket route=manifest method=GET le=+Inf)
cnt=$(expo value "$own" berth_http_request_duration_seconds_count route=manifest method=GET)
assert_eq "$inf" "$cnt" "its +Inf bucket equals its _count"
assert_eq "$cnt" "$mget_all" "it observed every manifest GET of the access log"
assert_ne "$(expo value "$own" berth_http_request_duration_seconds_sum route=manifest method=GET)" "" \
	"it has a _sum"

# --- the same, through Prometheus ----------------------------------------------

deadline=$((SECONDS + 30))
ts=
while [ $SECONDS -lt $deadline ]; do
	ts=$(prom_value 'timestamp(up{job="berth"})')
	num_cmp "$ts" ">" "$after_traffic" && break
	sleep 0.5
done
num_cmp "$ts" ">" "$after_traffic" || fail "prometheus has not scraped since the traffic (last: '$ts')"
ok "prometheus scraped after the traffic"

assert_eq "$(prom_value 'berth_manifest_pulls_total{job="berth",namespace="team"}')" "$team_pulls" \
	"berth_manifest_pulls_total{namespace=\"team\"} == $team_pulls manifest GETs of the log"
v=$(prom_value 'berth_manifest_pulls_total{job="berth",namespace="other"}')
assert_eq "${v:-0}" "$other_pulls" "berth_manifest_pulls_total{namespace=\"other\"} == $other_pulls"
assert_eq "$(prom_value 'berth_manifest_pushes_total{job="berth",namespace="team"}')" 1 \
	"berth_manifest_pushes_total{namespace=\"team\"} == 1"
assert_eq "$(prom_value 'berth_manifest_pushes_total{job="berth",namespace="other"}')" 1 \
	"berth_manifest_pushes_total{namespace=\"other\"} == 1"
assert_eq "$(prom_value 'count(berth_manifest_pushes_total{job="berth"})')" 2 \
	"two namespaces pushed, two series"
v=$(prom_value 'sum(berth_pull_failures_total{job="berth"})')
assert_eq "${v:-0}" 0 "no pull failures"
v=$(prom_value 'berth_http_requests_total{job="berth",route="manifest",method="GET",code="4xx"}')
assert_num "$v" ">=" 1 "berth_http_requests_total{route=\"manifest\",method=\"GET\",code=\"4xx\"} >= 1"
assert_eq "$v" "$mget_4xx" "... and equals the log's $mget_4xx manifest GETs answered 4xx"
assert_eq "$(prom_value 'berth_http_requests_total{job="berth",route="manifest",method="GET",code="2xx"}')" \
	"$mget_2xx" "berth_http_requests_total{route=\"manifest\",method=\"GET\",code=\"2xx\"} == $mget_2xx"
assert_eq "$(prom_value 'berth_http_requests_total{job="berth",route="manifest",method="HEAD",code="2xx"}')" \
	"$mhead_2xx" "berth_http_requests_total{route=\"manifest\",method=\"HEAD\",code=\"2xx\"} == $mhead_2xx"
v=$(prom_value 'sum(berth_http_requests_total{job="berth",route="upload"})')
assert_num "$v" ">" 0 "uploads are counted under route=\"upload\""
assert_num "$(prom_value 'berth_http_request_bytes_total{job="berth",route="upload"}')" ">=" "$image_bytes" \
	"berth_http_request_bytes_total{route=\"upload\"} >= the $image_bytes bytes of one image"
assert_num "$(prom_value 'berth_http_response_bytes_total{job="berth",route="blob"}')" ">=" "$image_bytes" \
	"berth_http_response_bytes_total{route=\"blob\"} >= the $image_bytes bytes of one image"
assert_eq "$(prom_value 'count(berth_http_request_duration_seconds_bucket{job="berth",route="manifest",method="GET"})')" \
	15 "berth_http_request_duration_seconds_bucket has 15 buckets for manifest GETs"
assert_eq "$(prom_value 'berth_http_request_duration_seconds_count{job="berth",route="manifest",method="GET"}')" \
	"$mget_all" "berth_http_request_duration_seconds_count{route=\"manifest\",method=\"GET\"} == $mget_all"

v=$(prom_value 'berth_storage_used_bytes{job="berth"}')
assert_num "$v" ">" 0 "berth_storage_used_bytes > 0"
assert_num "$v" ">=" "$blob_bytes" "berth_storage_used_bytes >= the $blob_bytes bytes of blob files"
assert_num "$(prom_value 'berth_storage_objects{job="berth"}')" ">=" "$n_blobs" \
	"berth_storage_objects >= the $n_blobs blobs on disk"
assert_num "$(prom_value 'berth_storage_available_bytes{job="berth"}')" ">" 0 "berth_storage_available_bytes > 0"
assert_num "$(prom_value 'berth_storage_total_bytes{job="berth"}')" ">=" \
	"$(prom_value 'berth_storage_available_bytes{job="berth"}')" "berth_storage_total_bytes >= available"

assert_eq "$(prom_value 'berth_gc_runs_total{job="berth",result="ok"}')" 1 "berth_gc_runs_total{result=\"ok\"} == 1"
assert_eq "$(prom_value 'berth_gc_blobs_deleted_total{job="berth"}')" 0 \
	"berth_gc_blobs_deleted_total == 0 (everything is within the grace period)"
assert_num "$(prom_value 'berth_gc_last_success_timestamp_seconds{job="berth"}')" ">=" \
	"$(stat -c %Y "$BERTH_CONFIG")" "berth_gc_last_success_timestamp_seconds is this run's"

# The pushes' events failed once each against the endpoint that is down.
v=$(prom_value 'berth_webhook_dead_letters_total{job="berth",endpoint="down"}')
assert_num "${v:-0}" ">=" 2 "berth_webhook_dead_letters_total{endpoint=\"down\"} counts the failed events"
assert_eq "$(prom_value 'berth_webhook_failures_total{job="berth",endpoint="down"}')" "$v" \
	"one failure per dead letter with max_attempts 1"
v=$(prom_value 'sum(berth_retention_runs_total{job="berth"})')
assert_eq "$v" 1 "berth_retention_runs_total counts the run"

assert_eq "$(prom_value 'berth_build_info{job="berth"}')" 1 "berth_build_info == 1"
assert_eq "$(prom_label 'berth_build_info{job="berth"}' version)" "$berth_version" \
	"berth_build_info{version=\"$berth_version\"}"
assert_eq "$(prom_value 'berth_plugin_info{job="berth",plugin="metrics-prometheus"}')" 1 \
	"berth_plugin_info{plugin=\"metrics-prometheus\"} == 1"
assert_eq "$(prom_value 'berth_plugin_info{job="berth",plugin="storage-fs"}')" 1 \
	"berth_plugin_info{plugin=\"storage-fs\"} == 1"

assert_eq "$(prom_value 'berth_uploads_in_progress{job="berth"}')" 0 "berth_uploads_in_progress == 0 once pushes end"
assert_eq "$(prom_value 'berth_events_dropped_total{job="berth"}')" 0 "berth_events_dropped_total == 0"
assert_ne "$(prom_value 'berth_events_queue_depth{job="berth"}')" "" "berth_events_queue_depth is scraped"
assert_eq "$(prom_value 'berth_auth_failures_total{job="berth"}')" 0 "berth_auth_failures_total == 0"
assert_eq "$(prom_value 'berth_auth_denials_total{job="berth"}')" 0 "berth_auth_denials_total == 0"

rss=$(prom_value 'process_resident_memory_bytes{job="berth"}')
assert_num "$rss" ">" 0 "process_resident_memory_bytes > 0"
assert_num "$(prom_value 'process_virtual_memory_bytes{job="berth"}')" ">=" "$rss" \
	"process_virtual_memory_bytes >= resident"
assert_num "$(prom_value 'process_cpu_seconds_total{job="berth"}')" ">=" 0 "process_cpu_seconds_total is scraped"
assert_num "$(prom_value 'process_open_fds{job="berth"}')" ">" 0 "process_open_fds > 0"
assert_num "$(prom_value 'process_max_fds{job="berth"}')" ">=" \
	"$(prom_value 'process_open_fds{job="berth"}')" "process_max_fds >= open fds"
start=$(prom_value 'process_start_time_seconds{job="berth"}')
assert_num "$start" "<=" "$(date +%s)" "process_start_time_seconds is not in the future"
assert_num "$start" ">=" "$(($(stat -c %Y "$BERTH_CONFIG") - 5))" \
	"process_start_time_seconds is when this berth started"

# --- /metrics on the main port ---------------------------------------------------

main=$TEST_TMP/main-port.txt
assert_eq "$(scrape "$BERTH_URL/metrics" "$main")" 200 "main_port: true: GET /metrics on the registry port"
scrape "http://$METRICS_ADDR/metrics" "$own" >/dev/null
expo families "$own" | grep -v ' help$' | sort >"$TEST_TMP/own.families"
expo families "$main" | grep -v ' help$' | sort >"$TEST_TMP/main.families"
if ! diff -u "$TEST_TMP/own.families" "$TEST_TMP/main.families" >"$TEST_TMP/families.diff"; then
	sed 's/^/#   /' "$TEST_TMP/families.diff"
	fail "the main port's /metrics has other families than the plugin's listener"
fi
ok "the main port's /metrics has the same $(wc -l <"$TEST_TMP/main.families") families"
assert_eq "$(expo value "$main" berth_manifest_pulls_total namespace=team)" "$team_pulls" \
	"and the same pull count"
deadline=$((SECONDS + 5))
while :; do
	scrape "http://$METRICS_ADDR/metrics" "$own" >/dev/null || true
	v=$(expo value "$own" berth_http_requests_total route=plugin method=GET code=2xx)
	num_cmp "$v" ">=" 1 || [ $SECONDS -ge $deadline ] || { sleep 0.2; continue; }
	break
done
assert_num "$v" ">=" 1 "the main port's GET /metrics is counted under route=\"plugin\""

prom_stop
berth_stop "$main_pid"

# --- bearer token ------------------------------------------------------------------

metrics_start token "main_port: true
bearer_token: s3cret"
# The listener answers 401 until it is up, so wait with the token.
_wait_http "http://$METRICS_ADDR/metrics" "$BERTH_PID" "$BERTH_LOG" 10 -H 'Authorization: Bearer s3cret' ||
	fail "the plugin's listener does not answer with the token"
for where in "http://$METRICS_ADDR" "$BERTH_URL"; do
	out=$TEST_TMP/token.txt
	assert_eq "$(scrape "$where/metrics" "$out")" 401 "$where/metrics without a token: 401"
	assert_eq "$(scrape "$where/metrics" "$out" -H 'Authorization: Bearer wrong')" 401 \
		"$where/metrics with a wrong token: 401"
	assert_eq "$(scrape "$where/metrics" "$out" -H 'Authorization: Bearer s3cret2')" 401 \
		"$where/metrics with the token plus a character: 401"
	assert_eq "$(scrape "$where/metrics" "$out" -H 'Authorization: Basic czNjcmV0')" 401 \
		"$where/metrics with the token as Basic: 401"
	assert_eq "$(scrape "$where/metrics" "$out" -H 'Authorization: Bearer s3cret')" 200 \
		"$where/metrics with Authorization: Bearer s3cret: 200"
	assert_eq "$(expo value "$out" berth_build_info)" 1 "and it is the scrape"
done
assert_eq "$(grep -c s3cret "$BERTH_LOG" || true)" 0 "the token is not in berth's log"
berth_stop

# --- main_port false, a custom path, namespace_cap, a long storage_refresh,
# --- pulls refused by a scan gate ------------------------------------------------

# hello-scan refuses manifests that carry its annotation: 403 and a
# pull.blocked event.
oci_layout_image "$layout" blocked "$TEST_TMP/src/hello.txt"
run "annotate the blocked image" umoci config --image "$layout:blocked" \
	--manifest.annotation hello.berth.dev/deny=yes

metrics_start plain "main_port: false
path: /prom
namespace_cap: 2
storage_refresh: 1h" "  - use: hello-scan"
reg=$BERTH_ADDR
_wait_http "http://$METRICS_ADDR/prom" "$BERTH_PID" "$BERTH_LOG" 10 ||
	fail "the plugin's listener does not answer GET /prom with 200"
ok "path: /prom is served on the plugin's listener"
assert_eq "$(http GET "$BERTH_URL/metrics")" 404 "main_port: false: GET /metrics on the registry port is 404"

# Storage usage is recomputed on its schedule, never per scrape: with a 1 h
# period, whatever the first scrape showed stays after the pushes below.
sleep 2
plain=$TEST_TMP/plain.txt
scrape "http://$METRICS_ADDR/prom" "$plain" >/dev/null
objects_before=$(expo value "$plain" berth_storage_objects)
used_before=$(expo value "$plain" berth_storage_used_bytes)

# A repository without '/' is its own namespace; past the cap of 2, the
# rest share "_other".
for repo in solo a/x b/x c/x; do
	run "skopeo copy oci:app to $repo:v1" skopeo_t copy --dest-tls-verify=false \
		"oci:$layout:app" "docker://$reg/$repo:v1"
done
deadline=$((SECONDS + 15))
while :; do
	scrape "http://$METRICS_ADDR/prom" "$plain" >/dev/null || true
	[ "$(expo value "$plain" berth_manifest_pushes_total)" = 4 ] && break
	[ $SECONDS -lt $deadline ] || break
	sleep 0.5
done
assert_eq "$(expo value "$plain" berth_manifest_pushes_total)" 4 "four pushes counted"
assert_eq "$(expo value "$plain" berth_manifest_pushes_total namespace=solo)" 1 \
	"a repository without '/' is its own namespace"
assert_eq "$(expo value "$plain" berth_manifest_pushes_total namespace=a)" 1 "namespace a is tracked"
assert_eq "$(expo value "$plain" berth_manifest_pushes_total namespace=_other)" 2 \
	"past namespace_cap: 2, b and c are counted as _other"
assert_eq "$(expo label "$plain" berth_manifest_pushes_total namespace | LC_ALL=C sort | tr '\n' ' ')" \
	"_other a solo " "no series for b or c"

run "skopeo copy oci:blocked to a/blocked:v1" skopeo_t copy --dest-tls-verify=false \
	"oci:$layout:blocked" "docker://$reg/a/blocked:v1"
assert_eq "$(http GET "$BERTH_URL/v2/a/blocked/manifests/v1" -H "Accept: $oci_manifest")" 403 \
	"GET of the blocked manifest: 403"
assert_eq "$(http HEAD "$BERTH_URL/v2/a/blocked/manifests/v1" -H "Accept: $oci_manifest")" 403 \
	"HEAD of the blocked manifest: 403"
assert_eq "$(http GET "$BERTH_URL/v2/a/x/manifests/v1" -H "Accept: $oci_manifest")" 200 \
	"GET of an image the gate lets through: 200"
# The events' counts, and the refused GET's, counted after its answer.
deadline=$((SECONDS + 15))
while :; do
	scrape "http://$METRICS_ADDR/prom" "$plain" >/dev/null || true
	[ "$(expo value "$plain" berth_scan_blocks_total namespace=a)" = 2 ] &&
		[ "$(expo value "$plain" berth_manifest_pulls_total namespace=a)" = 1 ] &&
		[ "$(expo value "$plain" berth_pull_failures_total namespace=a)" = 1 ] &&
		[ "$(expo value "$plain" berth_http_requests_total route=manifest method=GET code=4xx)" = 1 ] &&
		break
	[ $SECONDS -lt $deadline ] || break
	sleep 0.5
done
assert_eq "$(expo value "$plain" berth_scan_blocks_total namespace=a)" 2 \
	"berth_scan_blocks_total{namespace=\"a\"} == 2 (a pull.blocked event for the GET and the HEAD)"
assert_eq "$(expo value "$plain" berth_pull_failures_total namespace=a)" 1 \
	"berth_pull_failures_total{namespace=\"a\"} == 1 (the GET answered 403; a HEAD is no pull)"
assert_eq "$(expo value "$plain" berth_manifest_pulls_total namespace=a)" 1 \
	"berth_manifest_pulls_total{namespace=\"a\"} == 1 (the refused GET is no pull)"
assert_eq "$(expo value "$plain" berth_http_requests_total route=manifest method=GET code=4xx)" 1 \
	"the 403 counts as a 4xx manifest GET"
assert_eq "$(expo value "$plain" berth_storage_objects)" "$objects_before" \
	"storage_refresh: 1h: berth_storage_objects unchanged by pushes ('${objects_before:-absent}')"
assert_eq "$(expo value "$plain" berth_storage_used_bytes)" "$used_before" \
	"storage_refresh: 1h: berth_storage_used_bytes unchanged by pushes ('${used_before:-absent}')"
berth_stop

# --- listen: off -----------------------------------------------------------------

metrics_start off "listen: \"off\"
main_port: true"
assert_eq "$(scrape "$BERTH_URL/metrics" "$TEST_TMP/off.txt")" 200 \
	"listen: off with main_port: true still answers on the registry port"
assert_eq "$(expo value "$TEST_TMP/off.txt" berth_build_info)" 1 "with the scrape"
assert_eq "$(listening_sockets "$BERTH_PID")" 1 "listen: off: berth listens on its registry port only"
berth_stop

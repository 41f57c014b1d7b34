#!/usr/bin/env bash
# The benchmark (bench/run) in its smoke profile: tiny data, one short run
# of every workload against Berth, Distribution and nginx. It asserts only
# that each workload ran and produced numbers for each server, never a
# speed, so the harness cannot rot while its numbers stay out of CI.
# ctest-labels: heavy
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_cmd wrk nginx docker-registry skopeo openssl curl jq
[ -x "$BERTH_BIN" ] || fail "no berth binary at '$BERTH_BIN' (build first)"

json=$TEST_TMP/bench.json
run "bench/run --smoke" env BERTH_BIN="$BERTH_BIN" BERTH_PLUGIN_DIR="$BERTH_PLUGIN_DIR" \
	bash "$BERTH_SOURCE_DIR/bench/run" --smoke --data "$TEST_TMP/data" --json "$json"
out=$(last_output)
assert_file "$json" "the run wrote its JSON"
assert_eq "$(jq -r '.profile' "$json")" smoke "the JSON names the profile"
assert_eq "$(jq -c '.notes' "$json")" '[]' "no workload stopped early"
assert_match "$out" 'profile smoke \(SIZES SHRUNK' "the output says the sizes are shrunk"
assert_match "$out" 'fsync ON in column' "the output says whether fsync is on"

# has METRIC SERVER...: every server has one positive number for METRIC.
has()
{
	local key=$1 s v
	shift
	for s in "$@"; do
		v=$(jq -r --arg k "$key" --arg s "$s" '.metrics[$k].runs[$s] // [] |
			map(select(type == "number" and . > 0)) | length' "$json")
		assert_eq "$v" 1 "$key: a number for $s"
	done
}

pulls=(berth distribution nginx)
pushes=(berth berth-nofsync distribution)
has manifest.rps.c32 "${pulls[@]}"
has manifest.p99.c32 "${pulls[@]}"
has blob.get.x1 "${pulls[@]}"
has blob.get.x8 "${pulls[@]}"
has blob.range "${pulls[@]}"
has push.mono "${pushes[@]}"
has push.chunked "${pushes[@]}"
has push.sha256 openssl
for m in skopeo.push.many skopeo.pull.many skopeo.push.big skopeo.pull.big \
	concurrent.push concurrent.pull memory.idle memory.peak memory.after memory.anon \
	memory.anon.after fds.idle fds.peak; do
	has "$m" "${pushes[@]}"
done
for m in scale.start scale.catalog.first scale.catalog.warm scale.tags.first scale.tags.warm; do
	has "$m.10" berth distribution
	has "$m.200" berth distribution
done

# Each target of issue 7 is evaluated (met or missed, never silently absent).
assert_eq "$(jq '[.targets[] | select(.met == true or .met == false)] | length' "$json")" \
	"$(jq '.targets | length' "$json")" "every target is marked met or missed"
for t in 'manifest GET 32 conns >= 20x Distribution' 'manifest GET 32 conns >= 0.5x nginx' \
	'blob GET 1 client >= 0.9x nginx sendfile' \
	'blob push monolithic, fsync on (default) >= 0.8x openssl sha256' \
	'idle RSS <= 8 MiB' "idle RSS <= 1/4 of Distribution's" \
	'catalog first page independent of size (200 vs 10)' \
	'start time independent of size (200 vs 10)'; do
	assert_eq "$(jq --arg t "$t" '[.targets[] | select(.target == $t)] | length' "$json")" 1 \
		"target evaluated: $t"
done
assert_match "$out" 'targets met, [0-9]+ missed' "the table ends with the count of targets"

# --only runs one workload, and a bad name is a usage error.
run "bench/run --smoke --only scale" env BERTH_BIN="$BERTH_BIN" \
	bash "$BERTH_SOURCE_DIR/bench/run" --smoke --only scale --data "$TEST_TMP/data" \
	--json "$TEST_TMP/only.json"
assert_eq "$(jq -r '.metrics | keys | map(select(startswith("scale.") | not)) | length' \
	"$TEST_TMP/only.json")" 0 "--only scale measures nothing else"
run_fails "bench/run --only nonsense is refused" bash "$BERTH_SOURCE_DIR/bench/run" --only nonsense

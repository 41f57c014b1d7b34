#!/usr/bin/env bash
# Helpers for tests/integration/test_storage_s3*.sh, sourced after lib.sh:
# a throw-away Ceph RGW (tests/integration/ceph_rgw.sh), Berth on
# storage-s3, and signed S3 requests with curl as an independent client.

S3_RGW_SCRIPT=$BERTH_SOURCE_DIR/tests/integration/ceph_rgw.sh
RGW_BASE=

# The cluster goes down before lib.sh's cleanup stops the servers and
# removes the test's folder (where the cluster lives).
s3_cleanup()
{
	local rc=$?
	# errexit would end the trap at "(exit 1)", before cleanup ran.
	set +e
	[ -z "$RGW_BASE" ] || bash "$S3_RGW_SCRIPT" down "$RGW_BASE" >/dev/null 2>&1
	(exit $rc)
	cleanup
}
trap s3_cleanup EXIT

# s3_require_ceph: skip (77) without the Ceph packages, fail under CI.
s3_require_ceph()
{
	local why
	why=$(bash "$S3_RGW_SCRIPT" check) && return 0
	if [ -n "${CI:-}" ]; then
		fail "Ceph packages missing under CI ($why): .ci/setup must install ceph-mon ceph-osd radosgw ceph-common"
	fi
	echo "# skipped: $why (install ceph-mon ceph-osd radosgw ceph-common)"
	exit 77
}

# rgw_up: start the cluster; exports RGW_BASE RGW_ENDPOINT S3_ACCESS S3_SECRET.
rgw_up()
{
	RGW_BASE=$TEST_TMP/rgw
	bash "$S3_RGW_SCRIPT" up "$RGW_BASE" >"$TEST_TMP/rgw-up.log" 2>&1 ||
		{ tail -n 30 "$TEST_TMP/rgw-up.log"; fail "Ceph RGW did not start"; }
	# shellcheck disable=SC1091
	. "$RGW_BASE/env"
	export RGW_BASE RGW_ENDPOINT S3_ACCESS S3_SECRET
	ok "Ceph RGW serves $RGW_ENDPOINT"
}

rgw_bucket()
{
	bash "$S3_RGW_SCRIPT" bucket "$RGW_BASE" "$1" || fail "cannot create bucket $1"
}

# s3_req METHOD BUCKET KEY[?QUERY] [ENDPOINT]: a signed request; prints the
# status, keeps the body in S3_BODY and the headers in S3_HEADERS.
# (Set here: s3_req runs in $(...), whose assignments do not come back.)
S3_BODY=$TEST_TMP/s3.body
S3_HEADERS=$TEST_TMP/s3.headers
s3_req()
{
	local method=$1 bucket=$2 key=$3 ep=${4:-$RGW_ENDPOINT} head=() url
	# A bucket's own query (?uploads) goes on the bucket, not on "bucket/".
	case $key in
	\?*) url=$ep/$bucket$key ;;
	*) url=$ep/$bucket/$key ;;
	esac
	[ "$method" = HEAD ] && head=(-I)
	curl -s -o "$S3_BODY" -D "$S3_HEADERS" -w '%{http_code}' "${head[@]}" -X "$method" \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_ACCESS:$S3_SECRET" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$url"
}

# s3_header NAME: a header of the last s3_req answer.
s3_header()
{
	tr -d '\r' <"$S3_HEADERS" | awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" \
		'BEGIN{FS=": "} tolower($1)==n {sub(/^[^:]*: /, ""); print; exit}'
}

# s3_berth_start NAME CONFIG_LINES [EXTRA_YAML]: Berth on storage-s3 with the
# RGW's endpoint and keys plus CONFIG_LINES (indented 6 spaces, as under
# config:). Exports what berth_start does.
s3_berth_start()
{
	local name=$1 cfg=$2 extra=${3:-} dir port
	dir=$TEST_TMP/berth-$name
	mkdir -p "$dir"
	BERTH_CONFIG=$dir/berth.yaml
	BERTH_LOG=$dir/berth.log
	for _ in 1 2 3; do
		port=${S3_BERTH_PORT:-$(free_port)}
		cat >"$BERTH_CONFIG" <<YAML
listen: 127.0.0.1:$port
plugin_path: ["$BERTH_PLUGIN_DIR"]
plugins:
  - use: storage-s3
    config:
      endpoint: ${S3_BERTH_ENDPOINT:-$RGW_ENDPOINT}
      access_key: $S3_ACCESS
      secret_key: \${S3_TEST_SECRET}
      retry_backoff: 50ms
      $cfg
registry:
  delete_enabled: true
  tag_delete_enabled: true
  catalog: ${S3_BERTH_CATALOG:-index}
$extra
YAML
		S3_TEST_SECRET=${S3_BERTH_SECRET:-$S3_SECRET} "$BERTH_BIN" serve -c "$BERTH_CONFIG" >>"$BERTH_LOG" 2>&1 &
		BERTH_PID=$!
		_SERVER_PIDS+=("$BERTH_PID")
		_SERVER_LOGS+=("$BERTH_LOG")
		_LOG_OF[$BERTH_PID]=$BERTH_LOG
		BERTH_ADDR=127.0.0.1:$port
		BERTH_URL=http://$BERTH_ADDR
		if _wait_http "$BERTH_URL/v2/" "$BERTH_PID" "$BERTH_LOG" 60; then
			export BERTH_ADDR BERTH_URL BERTH_LOG BERTH_CONFIG BERTH_PID
			ok "berth $name on storage-s3 serves $BERTH_URL"
			return 0
		fi
		_stop_pid "$BERTH_PID" 5
		_forget_server "$BERTH_PID"
		grep -qi 'in use' "$BERTH_LOG" || break
	done
	sed 's/^/#   /' "$BERTH_LOG" | tail -n 40
	fail "berth $name on storage-s3 did not answer GET /v2/ with 200"
}

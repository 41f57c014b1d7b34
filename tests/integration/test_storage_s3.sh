#!/usr/bin/env bash
# storage-s3 against a real Ceph RGW: the generic storage conformance suite
# (the one storage-fs passes) plus the driver's own checks, then what a
# client and the operator see when the store fails: wrong credentials, a
# missing bucket, an endpoint that is down, and a gateway killed in the
# middle of an upload, which the client then finishes once it is back.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=plugins/storage-s3/tests/s3_lib.sh
. "$BERTH_SOURCE_DIR/plugins/storage-s3/tests/s3_lib.sh"

s3_require_ceph
rgw_up
rgw_bucket conformance
rgw_bucket errors

# --- the storage suite ----------------------------------------------------------

conf_bin=$BERTH_BUILD_DIR/plugins/storage-s3/test_storage_s3_conformance
[ -x "$conf_bin" ] || fail "no $conf_bin (build the test_storage_s3_conformance target)"
S3_TEST_ENDPOINT=$RGW_ENDPOINT S3_TEST_BUCKET=conformance S3_TEST_ACCESS=$S3_ACCESS \
	S3_TEST_SECRET=$S3_SECRET "$conf_bin" >"$TEST_TMP/conformance.log" 2>&1 ||
	{ grep -v '^\[storage-s3\]' "$TEST_TMP/conformance.log" | tail -n 30; fail "storage conformance on RGW"; }
ok "storage conformance on RGW: $(tail -n 1 "$TEST_TMP/conformance.log")"
assert_eq "$(s3_req GET conformance "?uploads=")" 200 "list the multipart uploads left"
assert_eq "$(grep -c '<Upload>' "$S3_BODY" || true)" 0 "cancelled and failed writes left no multipart upload"

# --- TLS to the store: the CA from ca_file, or verification off ----------------

tls=$TEST_TMP/tls
mkdir -p "$tls/tmp"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=test CA" \
	-keyout "$tls/ca.key" -out "$tls/ca.pem" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tls/srv.key" \
	-out "$tls/srv.csr" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\n' >"$tls/ext"
openssl x509 -req -in "$tls/srv.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
	-days 2 -extfile "$tls/ext" -out "$tls/srv.pem" >/dev/null 2>&1 || fail "cannot make certificates"
tls_port=$(free_port)
cat >"$tls/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $tls/nginx.pid;
error_log $tls/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $tls/tmp/body;
    proxy_temp_path $tls/tmp/proxy;
    fastcgi_temp_path $tls/tmp/fastcgi;
    uwsgi_temp_path $tls/tmp/uwsgi;
    scgi_temp_path $tls/tmp/scgi;
    server {
        listen 127.0.0.1:$tls_port ssl;
        ssl_certificate $tls/srv.pem;
        ssl_certificate_key $tls/srv.key;
        client_max_body_size 0;
        location / {
            proxy_pass $RGW_ENDPOINT;
            proxy_set_header Host \$http_host;
            proxy_request_buffering off;
        }
    }
}
CONF
if command -v nginx >/dev/null 2>&1; then
	nginx -c "$tls/nginx.conf" -p "$tls" >"$tls/stderr" 2>&1 &
	tls_pid=$!
	_SERVER_PIDS+=("$tls_pid")
	for _ in $(seq 1 100); do
		curl -s -o /dev/null --cacert "$tls/ca.pem" "https://127.0.0.1:$tls_port/" && break
		sleep 0.1
	done
	S3_BERTH_ENDPOINT=https://127.0.0.1:$tls_port s3_berth_start tls-ca "bucket: errors
      ca_file: $tls/ca.pem"
	assert_eq "$(http POST "$BERTH_URL/v2/tls/blobs/uploads/?digest=sha256:$(printf tls | sha256sum | cut -d' ' -f1)" \
		-H "Content-Type: application/octet-stream" --data-binary tls)" 201 "a push over TLS trusting ca_file"
	berth_stop
	S3_BERTH_ENDPOINT=https://127.0.0.1:$tls_port s3_berth_start tls-system "bucket: errors
      retries: 0"
	assert_eq "$(http GET "$BERTH_URL/v2/tls/manifests/v1")" 500 \
		"the system CAs do not trust the store: 500 at once, not 503 (no retry mends it)"
	assert_match "$(jq -r '.errors[0].message' "$HTTP_BODY")" "SSL certificate problem" \
		"the client is told the certificate is not trusted"
	berth_stop
	S3_BERTH_ENDPOINT=https://127.0.0.1:$tls_port s3_berth_start tls-off "bucket: errors
      tls_verify: false"
	assert_eq "$(http HEAD "$BERTH_URL/v2/tls/blobs/sha256:$(printf tls | sha256sum | cut -d' ' -f1)")" 200 \
		"with tls_verify off the same store is read"
	berth_stop
	_stop_pid "$tls_pid" 10
	_forget_server "$tls_pid"
elif [ -n "${CI:-}" ]; then
	fail "nginx missing under CI"
else
	echo "# skipped the TLS checks: no nginx"
fi

# --- wrong credentials ----------------------------------------------------------

S3_BERTH_SECRET=not-the-secret-0123456789 s3_berth_start wrongkey "bucket: errors"
grep -q "bucket 'errors' is not usable yet: .*SignatureDoesNotMatch" "$BERTH_LOG" ||
	fail "no start-up error about the credentials in the log"
ok "the log says at start that the store refuses the credentials"
assert_eq "$(http POST "$BERTH_URL/v2/app/blobs/uploads/")" 500 "an upload fails with 500"
assert_match "$(jq -r '.errors[0].message' "$HTTP_BODY")" "refused access \(403" \
	"the client is told the store refused access"
assert_eq "$(http GET "$BERTH_URL/v2/app/manifests/v1")" 500 "a pull fails with 500, not 404"
assert_eq "$(http GET "$BERTH_URL/v2/_catalog")" 500 "the catalog fails with 500"
assert_match "$(jq -r '.errors[0].message' "$HTTP_BODY")" "SignatureDoesNotMatch" \
	"the catalog error names the store's error code"
grep -q "not-the-secret" "$BERTH_LOG" && fail "the secret key is in the log"
ok "the secret key never appears in the log"
berth_stop

# --- missing bucket -------------------------------------------------------------

s3_berth_start nobucket "bucket: no-such-bucket"
grep -q "bucket 'no-such-bucket' does not exist" "$BERTH_LOG" || fail "no start-up error about the bucket"
ok "the log says at start that the bucket does not exist"
assert_eq "$(http POST "$BERTH_URL/v2/app/blobs/uploads/")" 500 "an upload fails with 500"
assert_match "$(jq -r '.errors[0].message' "$HTTP_BODY")" "bucket 'no-such-bucket' does not exist" \
	"the client is told the bucket does not exist"
berth_stop

# --- endpoint down --------------------------------------------------------------

S3_BERTH_ENDPOINT=http://127.0.0.1:$(free_port) s3_berth_start down "bucket: errors
      retries: 2"
grep -q "cannot reach the object store" "$BERTH_LOG" || fail "no start-up error about the endpoint"
ok "the log says at start that the store cannot be reached"
assert_eq "$(http GET "$BERTH_URL/v2/app/manifests/v1")" 503 "a pull gets 503 (try again later)"
assert_match "$(jq -r '.errors[0].message' "$HTTP_BODY")" "cannot reach the object store at http://127.0.0.1:" \
	"the client is told the store is unreachable"
assert_eq "$(http POST "$BERTH_URL/v2/app/blobs/uploads/")" 503 "an upload gets 503"
grep -q "cannot reach the object store" "$BERTH_LOG" || fail "failures not logged"
berth_stop

# --- a gateway killed in the middle of an upload --------------------------------

gw=$(bash "$S3_RGW_SCRIPT" gateway "$RGW_BASE" b) || fail "second gateway did not start"
S3_BERTH_ENDPOINT=$gw s3_berth_start crash "bucket: errors
      part_size: 5MiB
      retries: 1"
crash_url=$BERTH_URL
crash_log=$BERTH_LOG
crash_pid=$BERTH_PID
s3_berth_start witness "bucket: errors"
witness_url=$BERTH_URL
head -c $((9 * 1024 * 1024)) /dev/urandom >"$TEST_TMP/blob"
digest=sha256:$(sha256sum "$TEST_TMP/blob" | cut -d' ' -f1)
head -c $((4 * 1024 * 1024)) "$TEST_TMP/blob" >"$TEST_TMP/part1"
tail -c +$((4 * 1024 * 1024 + 1)) "$TEST_TMP/blob" >"$TEST_TMP/part2"

assert_eq "$(http POST "$crash_url/v2/app/blobs/uploads/")" 202 "upload started through the doomed gateway"
loc=$(http_header Location)
assert_eq "$(http PATCH "$crash_url$loc" -H "Content-Range: 0-$((4 * 1024 * 1024 - 1))" \
	-H "Content-Type: application/octet-stream" --data-binary "@$TEST_TMP/part1")" 202 "first chunk stored"
bash "$S3_RGW_SCRIPT" kill "$RGW_BASE" b
ok "gateway b killed"
status=$(http PATCH "$crash_url$loc" -H "Content-Range: $((4 * 1024 * 1024))-$((9 * 1024 * 1024 - 1))" \
	-H "Content-Type: application/octet-stream" --data-binary "@$TEST_TMP/part2")
assert_eq "$status" 503 "the second chunk fails with 503 while the gateway is down"
assert_match "$(jq -r '.errors[0].message' "$HTTP_BODY")" "cannot reach the object store" \
	"the client is told why"
grep -q "cannot reach the object store at $gw" "$crash_log" || fail "the crash is not in the log"
ok "the log names the unreachable gateway"
assert_eq "$(http HEAD "$witness_url/v2/app/blobs/$digest")" 404 "no blob is visible"
assert_eq "$(http GET "$witness_url$loc")" 204 "the upload is still there, seen from the other gateway"
assert_eq "$(http_header Range)" "0-$((4 * 1024 * 1024 - 1))" "holding exactly the first chunk"

bash "$S3_RGW_SCRIPT" restart "$RGW_BASE" b || fail "gateway b did not come back"
ok "gateway b is back"
assert_eq "$(http PATCH "$crash_url$loc" -H "Content-Range: $((4 * 1024 * 1024))-$((9 * 1024 * 1024 - 1))" \
	-H "Content-Type: application/octet-stream" --data-binary "@$TEST_TMP/part2")" 202 "the client resends the chunk"
assert_eq "$(http PUT "$crash_url$loc?digest=$digest")" 201 "and finishes the upload"
assert_eq "$(http GET "$witness_url/v2/app/blobs/$digest")" 200 "the blob is served"
cmp -s "$HTTP_BODY" "$TEST_TMP/blob" || fail "the blob's bytes differ"
ok "the blob has the exact bytes pushed"

# A monolithic upload cut by the crash leaves nothing half-visible.
head -c $((40 * 1024 * 1024)) /dev/urandom >"$TEST_TMP/big"
big=sha256:$(sha256sum "$TEST_TMP/big" | cut -d' ' -f1)
curl -s -o "$TEST_TMP/mono.body" -w '%{http_code}' --limit-rate 8M -X POST \
	-H "Content-Type: application/octet-stream" --data-binary "@$TEST_TMP/big" \
	"$crash_url/v2/app/blobs/uploads/?digest=$big" >"$TEST_TMP/mono.status" &
mono=$!
sleep 2
bash "$S3_RGW_SCRIPT" kill "$RGW_BASE" b
wait $mono || true
assert_match "$(cat "$TEST_TMP/mono.status")" '^(5[0-9][0-9]|000)$' "the cut monolithic upload fails"
assert_eq "$(http HEAD "$witness_url/v2/app/blobs/$big")" 404 "and nothing of it is visible"
assert_eq "$(s3_req HEAD errors "docker/registry/v2/blobs/sha256/${big:7:2}/${big#sha256:}/data")" 404 \
	"no blob object in the bucket"
berth_stop
berth_stop "$crash_pid"

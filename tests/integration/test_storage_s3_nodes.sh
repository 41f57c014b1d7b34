#!/usr/bin/env bash
# Stateless nodes: two Berth processes on one RGW bucket behind nginx as a
# round-robin load balancer. A push whose requests land on both nodes
# completes; a tag pushed through one node is pulled through the other at
# once; concurrent pushes of one tag through both nodes leave one answer
# that both give; deletes and tag moves are seen by the other node at once;
# a node killed in the middle of a chunked upload lets the client finish
# through the other.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=plugins/storage-s3/tests/s3_lib.sh
. "$BERTH_SOURCE_DIR/plugins/storage-s3/tests/s3_lib.sh"

s3_require_ceph
require_cmd nginx
require_cmd skopeo
require_cmd umoci
rgw_up
rgw_bucket nodes
oci_manifest=application/vnd.oci.image.manifest.v1+json

s3_berth_start a "bucket: nodes"
a_url=$BERTH_URL a_addr=$BERTH_ADDR a_pid=$BERTH_PID a_log=$BERTH_LOG
s3_berth_start b "bucket: nodes"
b_url=$BERTH_URL b_addr=$BERTH_ADDR b_pid=$BERTH_PID b_log=$BERTH_LOG

# --- nginx in front ---------------------------------------------------------------

ng=$TEST_TMP/nginx
mkdir -p "$ng/tmp"
lb_port=$(free_port)
cat >"$ng/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $ng/nginx.pid;
error_log $ng/error.log;
events { worker_connections 256; }
http {
    access_log $ng/access.log;
    client_body_temp_path $ng/tmp/body;
    proxy_temp_path $ng/tmp/proxy;
    fastcgi_temp_path $ng/tmp/fastcgi;
    uwsgi_temp_path $ng/tmp/uwsgi;
    scgi_temp_path $ng/tmp/scgi;
    upstream berth {
        server $a_addr max_fails=1 fail_timeout=30s;
        server $b_addr max_fails=1 fail_timeout=30s;
    }
    server {
        listen 127.0.0.1:$lb_port;
        client_max_body_size 0;
        location / {
            proxy_pass http://berth;
            proxy_http_version 1.1;
            proxy_set_header Host \$http_host;
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_read_timeout 300s;
        }
    }
}
CONF
nginx -c "$ng/nginx.conf" -p "$ng" >"$ng/stderr" 2>&1 &
NGINX_PID=$!
_SERVER_PIDS+=("$NGINX_PID")
_SERVER_LOGS+=("$ng/error.log")
_wait_http "http://127.0.0.1:$lb_port/v2/" "$NGINX_PID" "$ng/error.log" 30 || fail "nginx did not start"
ok "nginx balances 127.0.0.1:$lb_port over both nodes"
lb=127.0.0.1:$lb_port
lb_url=http://$lb

# --- a push spread over both nodes --------------------------------------------------

layout=$TEST_TMP/layout
random_file "$TEST_TMP/src/layer.bin" 24
printf 'config of the spread image\n' >"$TEST_TMP/src/hello.txt"
oci_layout_image "$layout" img "$TEST_TMP/src/layer.bin" "$TEST_TMP/src/hello.txt"
img_digest=$(oci_manifest_digest "$layout" img)
run "skopeo push through nginx" skopeo_t copy --dest-tls-verify=false --preserve-digests \
	"oci:$layout:img" "docker://$lb/spread/img:v1"
na=$(grep -c 'path=/v2/spread/img/blobs/uploads' "$a_log" || true)
nb=$(grep -c 'path=/v2/spread/img/blobs/uploads' "$b_log" || true)
[ "$na" -gt 0 ] && [ "$nb" -gt 0 ] || fail "upload requests did not reach both nodes (a: $na, b: $nb)"
ok "upload requests of one push reached both nodes (a: $na, b: $nb)"
for u in "$a_url" "$b_url" "$lb_url"; do
	assert_eq "$(http GET "$u/v2/spread/img/manifests/v1" -H "Accept: $oci_manifest")" 200 "pull v1 via $u"
	assert_eq "$(http_header Docker-Content-Digest)" "$img_digest" "same digest via $u"
done
run "skopeo pull through nginx" skopeo_t copy --src-tls-verify=false "docker://$lb/spread/img:v1" "oci:$TEST_TMP/back:img"
for d in $(oci_blob_digests "$layout" "$img_digest"); do
	cmp -s "$layout/blobs/sha256/${d#sha256:}" "$TEST_TMP/back/blobs/sha256/${d#sha256:}" || fail "blob $d differs"
done
ok "every blob came back identical through nginx"

# --- a manifest of our own, pushed through one node ---------------------------------

# manifest_for SEED: a small OCI manifest whose config blob is pushed to
# repository "tags" through node a; prints the manifest's file.
manifest_for()
{
	local seed=$1 cfg cdig f=$TEST_TMP/manifest-$1.json
	cfg=$TEST_TMP/config-$seed.json
	printf '{"architecture":"amd64","os":"linux","seed":"%s"}' "$seed" >"$cfg"
	cdig=sha256:$(sha256sum "$cfg" | cut -d' ' -f1)
	[ "$(http POST "$a_url/v2/tags/blobs/uploads/?digest=$cdig" -H "Content-Type: application/octet-stream" \
		--data-binary "@$cfg")" = 201 ] || fail "config blob $seed not pushed"
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[]}' \
		"$oci_manifest" "$cdig" "$(stat -c %s "$cfg")" >"$f"
	echo "$f"
}
m1=$(manifest_for one)
m2=$(manifest_for two)
d1=sha256:$(sha256sum "$m1" | cut -d' ' -f1)
d2=sha256:$(sha256sum "$m2" | cut -d' ' -f1)

assert_eq "$(http PUT "$a_url/v2/tags/manifests/now" -H "Content-Type: $oci_manifest" --data-binary "@$m1")" 201 \
	"tag pushed through node a"
assert_eq "$(http GET "$b_url/v2/tags/manifests/now" -H "Accept: $oci_manifest")" 200 "pulled through node b at once"
assert_eq "$(http_header Docker-Content-Digest)" "$d1" "node b gives the new digest"

# A tag moved through b is seen moved by a at once (nothing stale is cached).
assert_eq "$(http GET "$a_url/v2/tags/manifests/now" -H "Accept: $oci_manifest")" 200 "node a reads the tag"
assert_eq "$(http PUT "$b_url/v2/tags/manifests/now" -H "Content-Type: $oci_manifest" --data-binary "@$m2")" 201 \
	"tag moved through node b"
assert_eq "$(http GET "$a_url/v2/tags/manifests/now" -H "Accept: $oci_manifest")" 200 "node a reads it again"
assert_eq "$(http_header Docker-Content-Digest)" "$d2" "node a sees the moved tag at once"
assert_eq "$(http DELETE "$a_url/v2/tags/manifests/now")" 202 "tag deleted through node a"
assert_eq "$(http GET "$b_url/v2/tags/manifests/now" -H "Accept: $oci_manifest")" 404 "node b no longer serves it"
assert_eq "$(http GET "$b_url/v2/tags/tags/list")" 200 "node b's tag list"
assert_eq "$(jq -c ".tags // []" "$HTTP_BODY")" "[]" "lists no tag"

# --- concurrent pushes of one tag through both nodes -------------------------------

for round in 1 2 3 4 5; do
	curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $oci_manifest" --data-binary "@$m1" \
		"$a_url/v2/tags/manifests/race" >"$TEST_TMP/race-a" &
	ra=$!
	curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $oci_manifest" --data-binary "@$m2" \
		"$b_url/v2/tags/manifests/race" >"$TEST_TMP/race-b" &
	rb=$!
	wait $ra $rb
	[ "$(cat "$TEST_TMP/race-a")$(cat "$TEST_TMP/race-b")" = 201201 ] ||
		fail "round $round: concurrent pushes answered $(cat "$TEST_TMP/race-a") and $(cat "$TEST_TMP/race-b")"
	http GET "$a_url/v2/tags/manifests/race" -H "Accept: $oci_manifest" >/dev/null
	ga=$(http_header Docker-Content-Digest)
	http GET "$b_url/v2/tags/manifests/race" -H "Accept: $oci_manifest" >/dev/null
	gb=$(http_header Docker-Content-Digest)
	[ "$ga" = "$gb" ] || fail "round $round: node a says $ga, node b says $gb"
	[ "$ga" = "$d1" ] || [ "$ga" = "$d2" ] || fail "round $round: the tag names $ga, pushed by nobody"
	cmp -s "$HTTP_BODY" "$([ "$ga" = "$d1" ] && echo "$m1" || echo "$m2")" || fail "round $round: body is not $ga"
done
ok "5 rounds of concurrent pushes of one tag: both nodes agree on one of the pushed manifests"

# --- a node killed in the middle of a chunked upload ---------------------------------

head -c $((11 * 1024 * 1024)) /dev/urandom >"$TEST_TMP/blob"
digest=sha256:$(sha256sum "$TEST_TMP/blob" | cut -d' ' -f1)
head -c $((6 * 1024 * 1024)) "$TEST_TMP/blob" >"$TEST_TMP/c1"
tail -c +$((6 * 1024 * 1024 + 1)) "$TEST_TMP/blob" >"$TEST_TMP/c2"
assert_eq "$(http POST "$a_url/v2/crash/blobs/uploads/")" 202 "upload started on node a"
loc=$(http_header Location)
assert_eq "$(http PATCH "$a_url$loc" -H "Content-Range: 0-$((6 * 1024 * 1024 - 1))" \
	-H "Content-Type: application/octet-stream" --data-binary "@$TEST_TMP/c1")" 202 "first chunk through node a"
kill -KILL "$a_pid"
_stop_pid "$a_pid" 5
_forget_server "$a_pid"
ok "node a killed (SIGKILL)"
assert_eq "$(http GET "$lb_url$loc")" 204 "the client asks nginx where the upload stands"
assert_eq "$(http_header Range)" "0-$((6 * 1024 * 1024 - 1))" "node b knows the first chunk"
assert_eq "$(http PATCH "$lb_url$loc" -H "Content-Range: $((6 * 1024 * 1024))-$((11 * 1024 * 1024 - 1))" \
	-H "Content-Type: application/octet-stream" --data-binary "@$TEST_TMP/c2")" 202 "second chunk through nginx"
assert_eq "$(http PUT "$lb_url$loc?digest=$digest")" 201 "upload finished through nginx"
assert_eq "$(http GET "$lb_url/v2/crash/blobs/$digest")" 200 "the blob is served"
cmp -s "$HTTP_BODY" "$TEST_TMP/blob" || fail "the blob's bytes differ"
ok "the blob has the exact bytes pushed"
# The access line is written when the response is done: wait for it.
deadline=$((SECONDS + 10))
until grep -q "path=/v2/crash/blobs/uploads/.*status=201" "$b_log"; do
	[ $SECONDS -lt $deadline ] || fail "node b did not finish the upload"
	sleep 0.1
done
ok "node b finished the upload node a began"

_stop_pid "$NGINX_PID" 10
_forget_server "$NGINX_PID"
berth_stop "$b_pid"

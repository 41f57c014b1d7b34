#!/usr/bin/env bash
# Berth over TLS with a certificate from a test CA: curl, openssl s_client,
# skopeo (--dest-cert-dir / --src-cert-dir) and Docker (certs.d) all verify
# it; TLS 1.0 and 1.1 are refused, 1.2 and 1.3 accepted.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_cmd openssl
certs=$TEST_TMP/certs
mkdir -p "$certs/client"

# --- a CA and a server certificate for 127.0.0.1 --------------------------------

run "make a test CA" openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
	-keyout "$certs/ca.key" -out "$certs/ca.crt" -subj "/CN=Berth test CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
run "make a server key and request" openssl req -newkey rsa:2048 -nodes \
	-keyout "$certs/server.key" -out "$certs/server.csr" -subj "/CN=127.0.0.1"
cat >"$certs/server.ext" <<'EOF'
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
EOF
run "sign the server certificate" openssl x509 -req -days 2 -in "$certs/server.csr" \
	-CA "$certs/ca.crt" -CAkey "$certs/ca.key" -CAcreateserial \
	-extfile "$certs/server.ext" -out "$certs/server.crt"
cp "$certs/ca.crt" "$certs/client/ca.crt"

berth_start tls "tls: {cert: \"$certs/server.crt\", key: \"$certs/server.key\"}"
BERTH_CURL_ARGS=(--cacert "$certs/ca.crt")
reg=$BERTH_ADDR
assert_match "$BERTH_URL" '^https://' "berth is reached over https"

# --- curl -----------------------------------------------------------------------

assert_eq "$(http GET "$BERTH_URL/v2/")" 200 "GET /v2/ over https, verified against the CA"
assert_eq "$(http_header Docker-Distribution-API-Version)" registry/2.0 "API version header over https"
run_fails "curl without the CA refuses the certificate" curl -sS --max-time 10 -o /dev/null "$BERTH_URL/v2/"
code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://$reg/v2/" 2>/dev/null) || true
assert_ne "$code" 200 "plain http to the TLS port gets no registry answer"
for v in 1.2 1.3; do
	assert_eq "$(http GET "$BERTH_URL/v2/" --tlsv$v --tls-max $v)" 200 "curl with TLS $v only"
done
# SECLEVEL=0 so that the client itself offers TLS 1.1: the refusal must be
# the server's.
run_fails "curl with TLS 1.1 only is refused" curl -sS --max-time 10 -o /dev/null \
	--cacert "$certs/ca.crt" --tlsv1.1 --tls-max 1.1 --ciphers 'DEFAULT:@SECLEVEL=0' "$BERTH_URL/v2/"

# --- openssl s_client -------------------------------------------------------------

# s_client PROTO [ADDR]: a handshake with only PROTO enabled.
s_client()
{
	openssl s_client -connect "${2:-$reg}" -"$1" -cipher 'DEFAULT:@SECLEVEL=0' \
		-CAfile "$certs/ca.crt" -verify_return_error -brief </dev/null
}

for p in tls1_2 tls1_3; do
	run "s_client -$p is accepted" s_client $p
	v=${p#tls}
	assert_match "$(last_output)" "Protocol version: TLSv${v/_/.}" "the handshake used TLS ${v/_/.}"
	assert_match "$(last_output)" 'Verification: OK' "the certificate verifies for 127.0.0.1"
done

# TLS 1.2 offers only forward-secret AEAD suites: a client offering only RSA
# key transport or CBC gets no handshake, one offering ECDHE with GCM does.
for c in AES128-SHA AES256-GCM-SHA384 ECDHE-RSA-AES128-SHA; do
	run_fails "TLS 1.2 with only $c offered is refused" \
		openssl s_client -connect "$reg" -tls1_2 -cipher "$c:@SECLEVEL=0" -CAfile "$certs/ca.crt" \
		-brief </dev/null
done
for c in ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-CHACHA20-POLY1305; do
	run "TLS 1.2 with $c is accepted" openssl s_client -connect "$reg" -tls1_2 -cipher "$c" \
		-CAfile "$certs/ca.crt" -verify_return_error -brief </dev/null
	assert_match "$(last_output)" "Ciphersuite: $c" "the handshake used $c"
done

# A control server proves this openssl can still speak the old versions;
# where it cannot, the refusal below would prove nothing.
for p in tls1 tls1_1; do
	cport=$(free_port)
	openssl s_server -accept "127.0.0.1:$cport" -cert "$certs/server.crt" -key "$certs/server.key" \
		-"$p" -cipher 'DEFAULT:@SECLEVEL=0' -naccept 1 -quiet >"$TEST_TMP/s_server-$p.log" 2>&1 &
	control=$!
	_SERVER_PIDS+=("$control")
	control_ok=0
	for ((i = 0; i < 50; i++)); do
		if s_client "$p" "127.0.0.1:$cport" >/dev/null 2>&1; then
			control_ok=1
			break
		fi
		_alive "$control" || break
		sleep 0.1
	done
	_stop_pid "$control" 5
	_forget_server "$control"
	if [ $control_ok -eq 1 ]; then
		run_fails "s_client -$p is refused" s_client $p
	else
		ok "s_client -$p is refused # SKIP this openssl cannot speak it at all"
	fi
done

# --- skopeo with a certificate directory ---------------------------------------------

mkdir -p "$TEST_TMP/src"
printf 'over tls\n' >"$TEST_TMP/src/tls.txt"
random_file "$TEST_TMP/src/blob.bin" 4
oci_layout_image "$TEST_TMP/layout" app "$TEST_TMP/src"
digest=$(oci_manifest_digest "$TEST_TMP/layout" app)

# Before anything is put under /etc/docker/certs.d, which containers/image
# also reads.
run_fails "skopeo without the CA refuses the certificate" skopeo_t copy \
	"oci:$TEST_TMP/layout:app" "docker://$reg/tls/app:v1"
assert_match "$(last_output)" 'x509|certificate' "skopeo says why"
run "skopeo copy --dest-cert-dir (push over https)" skopeo_t copy --dest-cert-dir "$certs/client" \
	--preserve-digests "oci:$TEST_TMP/layout:app" "docker://$reg/tls/app:v1"
run "skopeo copy --src-cert-dir (pull over https)" skopeo_t copy --src-cert-dir "$certs/client" \
	"docker://$reg/tls/app:v1" "oci:$TEST_TMP/back:app"
assert_eq "$(oci_manifest_digest "$TEST_TMP/back" app)" "$digest" "the image comes back with its digest"
for d in $(oci_blob_digests "$TEST_TMP/layout" "$digest"); do
	cmp -s "$TEST_TMP/layout/blobs/sha256/${d#sha256:}" "$TEST_TMP/back/blobs/sha256/${d#sha256:}" ||
		fail "blob $d differs after the round trip"
done
ok "every blob is identical after the round trip"

# --- Docker with /etc/docker/certs.d ---------------------------------------------------

dockerd_start
[ -d /etc/docker/certs.d ] || cleanup_add /etc/docker/certs.d
cleanup_add "/etc/docker/certs.d/$reg"
mkdir -p "/etc/docker/certs.d/$reg"
cp "$certs/ca.crt" "/etc/docker/certs.d/$reg/ca.crt"

make_context "$TEST_TMP/ctx" tls
docker_build_scratch "$reg/tls/docker:v1" "$TEST_TMP/ctx"
docker_id=$(docker image inspect -f '{{.Id}}' "$reg/tls/docker:v1")
# The server speaks only TLS, so a push that works went over https.
run "docker push over https" docker push "$reg/tls/docker:v1"
pushed=$(last_output | sed -n 's/.*digest: \(sha256:[0-9a-f]*\) size.*/\1/p')
assert_eq "$(http HEAD "$BERTH_URL/v2/tls/docker/manifests/v1" \
	-H 'Accept: application/vnd.docker.distribution.manifest.v2+json')" 200 "the pushed manifest is there"
assert_eq "$(http_header Docker-Content-Digest)" "$pushed" "with the digest docker reported"
run "docker rmi" docker rmi "$reg/tls/docker:v1"
run "docker pull over https" docker pull "$reg/tls/docker:v1"
assert_eq "$(docker image inspect -f '{{.Id}}' "$reg/tls/docker:v1")" "$docker_id" \
	"the pulled image has the pushed image ID"

berth_stop
dockerd_stop

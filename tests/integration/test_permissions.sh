#!/usr/bin/env bash
# Files whose permissions give the registry away are named at start: a TLS
# private key other users can read, a storage root other users can write.
# With tight permissions there is no such warning.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_cmd openssl
certs=$TEST_TMP/certs
mkdir -p "$certs"
run "make a self-signed certificate" openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$certs/key.pem" -out "$certs/cert.pem"

chmod 644 "$certs/key.pem"
root=$TEST_TMP/open-root
mkdir -p "$root"
chmod 777 "$root"
BERTH_START_ROOT=$root berth_start loose "tls: {cert: \"$certs/cert.pem\", key: \"$certs/key.pem\"}"
assert_match "$(cat "$BERTH_LOG")" "the private key '$certs/key.pem' can be read by other users \\(mode 0644\\); chmod 600 it" \
	"a readable private key is named at start"
assert_match "$(cat "$BERTH_LOG")" "storage root '$root' can be written by other users \\(mode 0777\\); chmod go-w it" \
	"a world-writable storage root is named at start"
berth_stop

chmod 600 "$certs/key.pem"
chmod 700 "$root"
BERTH_START_ROOT=$root berth_start tight "tls: {cert: \"$certs/cert.pem\", key: \"$certs/key.pem\"}"
if grep -q "can be read by other users\|can be written by other users" "$BERTH_LOG"; then
	fail "a warning with tight permissions: $(grep 'other users' "$BERTH_LOG")"
fi
ok "no warning when the key is 0600 and the root 0700"
berth_stop

#!/usr/bin/env bash
# A serving Berth maps no library it has no use for: every shared library
# costs its relocated pages at start, whether or not a request ever needs
# it (docs/benchmarks.md, "Idle RSS"). libssl: TLS is libmicrohttpd's
# GnuTLS, the core only hashes with libcrypto. libm: nothing in the core
# needs it (a sanitizer runtime links it itself, so that half is for
# release builds only).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

berth_start idle
maps=$(cat "/proc/$BERTH_PID/maps")
assert_match "$maps" 'libmicrohttpd\.so' "the server's maps list its libraries"

if [[ $maps =~ /libssl\.so[^[:space:]]* ]]; then
	fail "berth without tls: maps ${BASH_REMATCH[0]}"
fi
ok "berth without tls: maps no libssl"

if [[ $maps =~ (lib[at]san|libubsan|libclang_rt)[^[:space:]]* ]] ||
	nm -D "$BERTH_BIN" 2>/dev/null | grep -q ' __asan_init'; then
	ok "a sanitizer build: its runtime links libm, not checked"
elif [[ $maps =~ /libm\.so[^[:space:]]* ]]; then
	fail "berth maps ${BASH_REMATCH[0]}"
else
	ok "berth maps no libm"
fi
berth_stop

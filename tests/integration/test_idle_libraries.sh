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

# gcc's sanitizer runtimes are shared libraries, clang's are linked in.
if [[ $maps =~ /lib(asan|ubsan)\.so ]] || grep -qa AddressSanitizer "$BERTH_BIN"; then
	echo "# a sanitizer build: its runtime links libm, so libm is not checked"
elif [[ $maps =~ /libm\.so[^[:space:]]* ]]; then
	fail "berth maps ${BASH_REMATCH[0]}"
else
	ok "berth maps no libm"
fi
berth_stop

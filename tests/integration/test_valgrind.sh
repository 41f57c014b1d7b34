#!/usr/bin/env bash
# The API and bad-input suites again, with the server under valgrind's
# memcheck: any invalid read or write, use of uninitialised memory in a
# branch, or bad free makes the server exit 99 instead of 0 at the clean
# stop each suite ends with, and the suite fails. (Leaks are LeakSanitizer's
# job in the sanitizer build; valgrind does not run sanitized binaries, so
# there this test is skipped.)
# ctest-labels: heavy
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_cmd valgrind
if grep -q "AddressSanitizer" "$BERTH_BIN" 2>/dev/null; then
	skip_test "the server is built with sanitizers; valgrind runs on the plain build"
fi

export BERTH_VALGRIND=1
# valgrind's own messages, apart from the servers' logs.
export BERTH_VALGRIND_LOGS=$TEST_TMP/valgrind
for suite in test_api.py test_bad_input.py; do
	out=$TEST_TMP/$suite.out
	if python3 "$BERTH_SOURCE_DIR/tests/integration/$suite" >"$out" 2>&1; then
		ok "$suite passes with the server under valgrind ($(grep -c '^ok' "$out") checks)"
	else
		sed 's/^/#   /' "$out" | tail -n 60
		for v in "$BERTH_VALGRIND_LOGS"/valgrind-*.log; do
			[ -s "$v" ] && sed "s|^|# $v: |" "$v" | tail -n 40
		done
		fail "$suite under valgrind"
	fi
done

# Shared helpers for the integration tests: servers, real clients, test
# images and checks. Sourced by tests/integration/test_*.sh.
#
# ctest passes BERTH_BIN, BERTH_PLUGIN_DIR, BERTH_SOURCE_DIR and
# BERTH_BUILD_DIR; run by hand, they default to the tree's build/.
#
# Every test gets its own temporary directory, its own ports and its own
# servers; the EXIT trap stops every server a test started (CI fails when a
# process is left behind) and removes what the test wrote outside its
# directory. Each check prints "ok - ..." or "not ok - ...".
#
# Exit status: 0 passed, 1 failed, 77 skipped (a client is missing outside
# CI; under CI=true a missing client is a failure, so a broken .ci/setup
# cannot turn the suite green by skipping it).

set -euo pipefail

BERTH_SOURCE_DIR=${BERTH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BERTH_BUILD_DIR=${BERTH_BUILD_DIR:-$BERTH_SOURCE_DIR/build}
BERTH_BIN=${BERTH_BIN:-$BERTH_BUILD_DIR/berth}
BERTH_PLUGIN_DIR=${BERTH_PLUGIN_DIR:-$BERTH_BUILD_DIR/plugins}
# Configs live in the test's directory: hand berth absolute paths.
BERTH_SOURCE_DIR=$(realpath -m "$BERTH_SOURCE_DIR")
BERTH_BUILD_DIR=$(realpath -m "$BERTH_BUILD_DIR")
BERTH_BIN=$(realpath -m "$BERTH_BIN")
BERTH_PLUGIN_DIR=$(realpath -m "$BERTH_PLUGIN_DIR")
export BERTH_SOURCE_DIR BERTH_BUILD_DIR BERTH_BIN BERTH_PLUGIN_DIR

TEST_NAME=$(basename "$0" .sh)
# containerd puts unix sockets under dockerd's exec-root: keep paths well
# below the 108-byte sun_path limit even when TMPDIR is deep.
_tmp_base=${TMPDIR:-/tmp}
[ ${#_tmp_base} -le 40 ] || _tmp_base=/tmp
TEST_TMP=$(mktemp -d "$_tmp_base/berth-$TEST_NAME.XXXXXX")
unset _tmp_base
# cleanup is defined below; the traps only run it when the test ends.
trap cleanup EXIT
# Only top-level commands (no errtrace): a command substitution that fails
# on purpose must not be reported.
trap '_ERR_AT="line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM
# Clients (skopeo, podman, docker build) spool layers through TMPDIR.
mkdir -p "$TEST_TMP/tmp"
export TMPDIR=$TEST_TMP/tmp

CHECKS_PASSED=0
_FAIL_REPORTED=0
_ERR_AT=
_SERVER_PIDS=()         # every berth and docker-registry this test started
_SERVER_LOGS=()
declare -A _LOG_OF      # a berth's pid -> its log
_CLEANUP_PATHS=()       # files or directories written outside TEST_TMP
_CMD_SEQ=0
DOCKERD_PID=

# --- checks -----------------------------------------------------------------

ok()
{
	CHECKS_PASSED=$((CHECKS_PASSED + 1))
	echo "ok - $*"
}

fail()
{
	_FAIL_REPORTED=1
	echo "not ok - $*"
	exit 1
}

skip_test()
{
	echo "skip - $*"
	exit 77
}

assert_eq()
{
	if [ "$1" == "$2" ]; then
		ok "$3"
	else
		fail "$3: got '$1', expected '$2'"
	fi
}

assert_ne()
{
	if [ "$1" != "$2" ]; then
		ok "$3"
	else
		fail "$3: got '$1', expected anything else"
	fi
}

# assert_match VALUE REGEX MSG (bash extended regex)
assert_match()
{
	if [[ $1 =~ $2 ]]; then
		ok "$3"
	else
		fail "$3: '$1' does not match /$2/"
	fi
}

assert_file()
{
	if [ -f "$1" ]; then
		ok "$2"
	else
		fail "$2: no file '$1'"
	fi
}

# run MSG CMD...: run a client, keep its output in a file, show the output
# only when it fails.
run()
{
	local msg=$1 out rc=0
	shift
	_CMD_SEQ=$((_CMD_SEQ + 1))
	out=$TEST_TMP/cmd-$_CMD_SEQ.log
	"$@" >"$out" 2>&1 || rc=$?
	if [ $rc -ne 0 ]; then
		echo "# \$ $*"
		sed 's/^/#   /' "$out" | tail -n 60
		fail "$msg (exit $rc)"
	fi
	ok "$msg"
}

# run_fails MSG CMD...: the client must fail.
run_fails()
{
	local msg=$1 out rc=0
	shift
	_CMD_SEQ=$((_CMD_SEQ + 1))
	out=$TEST_TMP/cmd-$_CMD_SEQ.log
	"$@" >"$out" 2>&1 || rc=$?
	if [ $rc -eq 0 ]; then
		echo "# \$ $*"
		sed 's/^/#   /' "$out" | tail -n 30
		fail "$msg (succeeded, expected a failure)"
	fi
	ok "$msg"
}

# The output of the last run/run_fails.
last_output()
{
	cat "$TEST_TMP/cmd-$_CMD_SEQ.log"
}

# require_cmd CMD...: skip (or fail under CI) when a client is missing.
require_cmd()
{
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 && continue
		[ "${CI:-}" = true ] && fail "'$c' is not installed (run .ci/setup)"
		skip_test "'$c' is not installed (run .ci/setup)"
	done
}

require_root()
{
	[ "$(id -u)" -eq 0 ] && return 0
	[ "${CI:-}" = true ] && fail "$TEST_NAME needs root"
	skip_test "$TEST_NAME needs root"
}

# --- processes --------------------------------------------------------------

# A child that exited but was not waited for is a zombie: kill -0 still
# succeeds on it, so look at its state.
_alive()
{
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "${st%% *}" != Z ]
}

# _stop_pid PID SECONDS: SIGTERM, wait up to SECONDS, then SIGKILL. Sets
# _STOP_RC to the exit status and _STOP_KILLED=1 when SIGKILL was needed.
_stop_pid()
{
	local pid=$1 secs=$2 i
	_STOP_RC=0
	_STOP_KILLED=0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < secs * 10; i++)); do
		_alive "$pid" || break
		sleep 0.1
	done
	if _alive "$pid"; then
		_STOP_KILLED=1
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || _STOP_RC=$?
}

_forget_server()
{
	local i
	for i in "${!_SERVER_PIDS[@]}"; do
		[ "${_SERVER_PIDS[$i]}" = "$1" ] && unset "_SERVER_PIDS[$i]"
	done
	return 0
}

# free_port: a loopback port nobody listens on right now.
free_port()
{
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# _wait_http URL PID LOG SECONDS [curl args]: until URL answers 200.
_wait_http()
{
	local url=$1 pid=$2 log=$3 deadline=$((SECONDS + $4)) code
	shift 4
	while [ $SECONDS -lt $deadline ]; do
		_alive "$pid" || return 1
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" 2>/dev/null) || true
		[ "$code" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}

# --- berth ------------------------------------------------------------------

# berth_start NAME [EXTRA_YAML]: a fresh server with its own storage root.
# EXTRA_YAML is appended to the config (tls:, logging:, ...); with a tls:
# key the server is reached over https. Exports BERTH_ADDR, BERTH_URL,
# BERTH_ROOT, BERTH_LOG, BERTH_CONFIG, BERTH_PID. Set BERTH_START_ROOT to
# serve an existing root instead of a new one.
berth_start()
{
	local name=$1 extra=${2:-} dir port scheme=http
	[ -x "$BERTH_BIN" ] || fail "no berth binary at '$BERTH_BIN' (build first)"
	[ -d "$BERTH_PLUGIN_DIR" ] || fail "no plugin directory '$BERTH_PLUGIN_DIR'"
	dir=$TEST_TMP/berth-$name
	mkdir -p "$dir"
	BERTH_ROOT=${BERTH_START_ROOT:-$dir/registry}
	mkdir -p "$BERTH_ROOT"
	BERTH_CONFIG=$dir/berth.yaml
	BERTH_LOG=$dir/berth.log
	[[ $extra == *tls:* ]] && scheme=https
	# A port found free can be taken before berth binds it (another test
	# running in parallel): try again with a new one.
	for _ in 1 2 3; do
		port=$(free_port)
		cat >"$BERTH_CONFIG" <<EOF
listen: 127.0.0.1:$port
plugin_path: ["$BERTH_PLUGIN_DIR"]
plugins:
  - use: storage-fs
    config:
      root: "$BERTH_ROOT"
registry:
  delete_enabled: true
  tag_delete_enabled: true
limits:
  max_manifest_size: 4MiB
$extra
EOF
		"$BERTH_BIN" serve -c "$BERTH_CONFIG" >>"$BERTH_LOG" 2>&1 &
		BERTH_PID=$!
		_SERVER_PIDS+=("$BERTH_PID")
		_SERVER_LOGS+=("$BERTH_LOG")
		_LOG_OF[$BERTH_PID]=$BERTH_LOG
		BERTH_ADDR=127.0.0.1:$port
		BERTH_URL=$scheme://$BERTH_ADDR
		if _wait_http "$BERTH_URL/v2/" "$BERTH_PID" "$BERTH_LOG" 60 -k; then
			export BERTH_ADDR BERTH_URL BERTH_ROOT BERTH_LOG BERTH_CONFIG BERTH_PID
			ok "berth $name serves $BERTH_URL"
			return 0
		fi
		_stop_pid "$BERTH_PID" 5
		_forget_server "$BERTH_PID"
		grep -qi 'in use' "$BERTH_LOG" || break
	done
	sed 's/^/#   /' "$BERTH_LOG" | tail -n 40
	fail "berth $name did not answer GET /v2/ with 200"
}

# berth_stop [PID]: SIGTERM must make the server exit 0 within 30 s (with
# ASan, a leak report makes that exit non-zero).
# shellcheck disable=SC2120 # PID is optional
berth_stop()
{
	local pid=${1:-$BERTH_PID} log
	log=${_LOG_OF[$pid]:-$BERTH_LOG}
	_stop_pid "$pid" 30
	_forget_server "$pid"
	[ "$_STOP_KILLED" -eq 0 ] || fail "berth (pid $pid) did not stop within 30 s of SIGTERM"
	if [ "$_STOP_RC" -ne 0 ]; then
		sed 's/^/#   /' "$log" | tail -n 60
		fail "berth (pid $pid) exited $_STOP_RC after SIGTERM"
	fi
	ok "berth stops cleanly on SIGTERM"
	# A sanitizer that only reports (recovering builds) still fails the test.
	if grep -qE 'runtime error:|AddressSanitizer|LeakSanitizer' "$log"; then
		grep -E -A 20 'runtime error:|AddressSanitizer|LeakSanitizer' "$log" |
			head -n 60 | sed 's/^/#   /'
		fail "the sanitizers reported errors in berth's log"
	fi
	ok "no sanitizer report in berth's log"
}

# --- CNCF Distribution (Debian's docker-registry) ---------------------------

# registry2_start NAME ROOT: docker-registry on its own loopback port, serving
# ROOT. Exports REG2_ADDR, REG2_URL, REG2_PID, REG2_LOG.
registry2_start()
{
	local name=$1 root=$2 dir port
	require_cmd docker-registry
	dir=$TEST_TMP/registry2-$name
	mkdir -p "$dir"
	REG2_LOG=$dir/registry.log
	for _ in 1 2 3; do
		port=$(free_port)
		cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: "$root"
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
		docker-registry serve "$dir/config.yml" >>"$REG2_LOG" 2>&1 &
		REG2_PID=$!
		_SERVER_PIDS+=("$REG2_PID")
		_SERVER_LOGS+=("$REG2_LOG")
		REG2_ADDR=127.0.0.1:$port
		REG2_URL=http://$REG2_ADDR
		if _wait_http "$REG2_URL/v2/" "$REG2_PID" "$REG2_LOG" 30; then
			export REG2_ADDR REG2_URL REG2_PID REG2_LOG
			ok "docker-registry $name serves $REG2_URL"
			return 0
		fi
		_stop_pid "$REG2_PID" 5
		_forget_server "$REG2_PID"
		grep -qi 'in use' "$REG2_LOG" || break
	done
	sed 's/^/#   /' "$REG2_LOG" | tail -n 40
	fail "docker-registry $name did not start"
}

registry2_stop()
{
	_stop_pid "$REG2_PID" 15
	_forget_server "$REG2_PID"
}

# --- Docker Engine ----------------------------------------------------------

# The docker.io package's client matches its daemon; a machine image may
# carry a newer client elsewhere on PATH whose defaults (BuildKit) differ.
if [ -x /usr/bin/docker ]; then
	DOCKER_CLI=/usr/bin/docker
else
	DOCKER_CLI=docker
fi

# A client that hangs is stopped here, so the test still reports and cleans
# up, instead of being killed by ctest's timeout.
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-300}

docker()
{
	timeout -k 10 "$CLIENT_TIMEOUT" "$DOCKER_CLI" "$@"
}

# dockerd_start: a private dockerd (no bridge, no iptables, vfs) with its
# own data root, exec root, socket and client config. Exports DOCKER_HOST
# and DOCKER_CONFIG.
dockerd_start()
{
	local dir=$TEST_TMP/docker
	require_root
	require_cmd dockerd containerd "$DOCKER_CLI"
	mkdir -p "$dir/data" "$dir/exec" "$dir/config"
	# An empty daemon.json so a machine's /etc/docker/daemon.json cannot
	# conflict with the flags.
	echo '{}' >"$dir/daemon.json"
	dockerd --config-file "$dir/daemon.json" \
		--iptables=false --ip6tables=false --bridge=none \
		--storage-driver=vfs \
		--data-root "$dir/data" --exec-root "$dir/exec" \
		--pidfile "$dir/docker.pid" \
		-H "unix://$dir/docker.sock" >"$dir/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	DOCKERD_LOG=$dir/dockerd.log
	export DOCKER_HOST=unix://$dir/docker.sock
	export DOCKER_CONFIG=$dir/config
	export DOCKER_BUILDKIT=0
	local deadline=$((SECONDS + 60))
	while [ $SECONDS -lt $deadline ]; do
		_alive "$DOCKERD_PID" || break
		docker info >/dev/null 2>&1 && {
			ok "dockerd started"
			return 0
		}
		sleep 0.1
	done
	sed 's/^/#   /' "$DOCKERD_LOG" | tail -n 40
	fail "dockerd did not start"
}

dockerd_stop()
{
	local cpid
	[ -n "$DOCKERD_PID" ] || return 0
	_stop_pid "$DOCKERD_PID" 30
	DOCKERD_PID=
	# dockerd stops the containerd it started; make sure of it.
	cpid=$(cat "$TEST_TMP/docker/exec/containerd/containerd.pid" 2>/dev/null) || true
	if [ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null; then
		kill -TERM "$cpid" 2>/dev/null || true
		sleep 1
		kill -KILL "$cpid" 2>/dev/null || true
	fi
	return 0
}

# --- podman and skopeo ------------------------------------------------------

_containers_conf()
{
	[ -f "$TEST_TMP/registries.conf" ] && return 0
	# No search registries, no short names: every reference is explicit.
	cat >"$TEST_TMP/registries.conf" <<'EOF'
unqualified-search-registries = []
short-name-mode = "disabled"
EOF
	cat >"$TEST_TMP/policy.json" <<'EOF'
{"default": [{"type": "insecureAcceptAnything"}]}
EOF
	export CONTAINERS_REGISTRIES_CONF=$TEST_TMP/registries.conf
}

# podman_vfs ARGS...: podman with storage under the test's directory.
podman_vfs()
{
	require_cmd podman
	_containers_conf
	mkdir -p "$TEST_TMP/podman/root" "$TEST_TMP/podman/run" "$TEST_TMP/podman/tmp"
	timeout -k 10 "$CLIENT_TIMEOUT" podman --root "$TEST_TMP/podman/root" --runroot "$TEST_TMP/podman/run" \
		--tmpdir "$TEST_TMP/podman/tmp" --storage-driver vfs \
		--cgroup-manager cgroupfs --events-backend file "$@"
}

# skopeo_t ARGS...: skopeo with the test's registries.conf and an accept-all
# signature policy.
skopeo_t()
{
	require_cmd skopeo
	_containers_conf
	timeout -k 10 "$CLIENT_TIMEOUT" skopeo --policy "$TEST_TMP/policy.json" \
		--registries-conf "$TEST_TMP/registries.conf" "$@"
}

# --- images -----------------------------------------------------------------

# random_file PATH MIB: incompressible content, so the layer stays that big.
random_file()
{
	mkdir -p "$(dirname "$1")"
	head -c $(($2 * 1024 * 1024)) /dev/urandom >"$1"
}

# make_context DIR SEED: a build context with a few small files whose
# content depends on SEED, and a Dockerfile "FROM scratch" that copies them
# in two layers.
make_context()
{
	local dir=$1 seed=$2
	mkdir -p "$dir/files/etc" "$dir/files/data"
	printf 'hello from %s\n' "$seed" >"$dir/files/hello.txt"
	printf 'name=%s\nversion=1\n' "$seed" >"$dir/files/etc/app.conf"
	seq 1 2000 | sed "s/^/$seed line /" >"$dir/files/data/lines.txt"
	cat >"$dir/Dockerfile" <<'EOF'
FROM scratch
COPY files/hello.txt files/etc /etc/
COPY files/data /data/
EOF
}

# docker_build_scratch TAG DIR: the classic builder on a FROM scratch
# context (no container runs, so no network is needed).
docker_build_scratch()
{
	run "docker build $1" docker build -q -t "$1" "$2"
}

# podman_build_scratch TAG DIR [ARGS...]
podman_build_scratch()
{
	local tag=$1 dir=$2
	shift 2
	run "podman build $tag" podman_vfs build "$@" -t "$tag" -f "$dir/Dockerfile" "$dir"
}

# oci_layout_image LAYOUT TAG SRC... : an OCI image made with umoci, one
# layer per SRC (a file or directory inserted at /<basename>).
oci_layout_image()
{
	local layout=$1 tag=$2 src
	shift 2
	require_cmd umoci
	[ -f "$layout/oci-layout" ] || run "umoci init $layout" umoci init --layout "$layout"
	run "umoci new $tag" umoci new --image "$layout:$tag"
	for src in "$@"; do
		run "umoci insert $(basename "$src") into $tag" \
			umoci insert --image "$layout:$tag" "$src" "/$(basename "$src")"
	done
}

# oci_manifest_digest LAYOUT TAG: the manifest digest an OCI layout's
# index.json gives for TAG.
oci_manifest_digest()
{
	jq -r --arg t "$2" '.manifests[] |
		select(.annotations["org.opencontainers.image.ref.name"] == $t) |
		.digest' "$1/index.json"
}

# oci_blob_digests LAYOUT DIGEST: the manifest, its config and layers.
oci_blob_digests()
{
	local hex=${2#sha256:}
	echo "$2"
	jq -r '.config.digest, .layers[].digest' "$1/blobs/sha256/$hex"
}

# --- HTTP -------------------------------------------------------------------

# Extra curl arguments for BERTH_URL (test_tls sets --cacert).
BERTH_CURL_ARGS=()

# http METHOD URL [CURL ARGS...]: prints the status; body and headers go to
# $HTTP_BODY and $HTTP_HEADERS (fixed paths, so that they are known after a
# call in a command substitution).
HTTP_BODY=$TEST_TMP/http.body
HTTP_HEADERS=$TEST_TMP/http.headers
http()
{
	local method=$1 url=$2
	shift 2
	local m=(-X "$method")
	[ "$method" = HEAD ] && m=(-I)
	curl -sS --max-time 120 "${m[@]}" -o "$HTTP_BODY" -D "$HTTP_HEADERS" \
		-w '%{http_code}' "${BERTH_CURL_ARGS[@]}" "$@" "$url"
}

# http_header NAME: a header of the last http response (no CR).
http_header()
{
	grep -i "^$1:" "$HTTP_HEADERS" | tail -n 1 | sed 's/^[^:]*: *//' | tr -d '\r'
}

sha256_digest()
{
	echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"
}

# blob_path ROOT DIGEST: where the storage layout keeps a blob.
blob_path()
{
	local alg=${2%%:*} hex=${2#*:}
	echo "$1/docker/registry/v2/blobs/$alg/${hex:0:2}/$hex/data"
}

# repo_path ROOT NAME
repo_path()
{
	echo "$1/docker/registry/v2/repositories/$2"
}

# --- cleanup ----------------------------------------------------------------

# cleanup_add PATH: remove PATH when the test ends (for files a client reads
# from a fixed place, such as /etc/docker/certs.d).
cleanup_add()
{
	_CLEANUP_PATHS+=("$1")
}

cleanup()
{
	local rc=$? pid log p
	trap - EXIT
	set +e
	if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ $_FAIL_REPORTED -eq 0 ]; then
		echo "not ok - $TEST_NAME stopped with status $rc${_ERR_AT:+ at $_ERR_AT}"
	fi
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		for log in "${_SERVER_LOGS[@]}"; do
			[ -f "$log" ] || continue
			echo "# --- last lines of $log"
			tail -n 30 "$log" | cut -c 1-400 | sed 's/^/#   /'
		done
		if [ -n "$DOCKERD_PID" ] && [ -f "$TEST_TMP/docker/dockerd.log" ]; then
			echo "# --- last lines of dockerd.log"
			tail -n 15 "$TEST_TMP/docker/dockerd.log" | sed 's/^/#   /'
		fi
	fi
	for pid in "${_SERVER_PIDS[@]}"; do
		_stop_pid "$pid" 10
	done
	dockerd_stop
	for p in "${_CLEANUP_PATHS[@]}"; do
		rm -rf -- "$p"
	done
	if [ "${BERTH_KEEP_TMP:-0}" = 1 ]; then
		echo "# kept $TEST_TMP"
	else
		# Never follow a mount out of the test's directory.
		findmnt -rn -o TARGET | grep "^$TEST_TMP/" | sort -r |
			while read -r p; do umount -l "$p"; done
		rm -rf -- "$TEST_TMP"
	fi
	if [ $rc -eq 0 ]; then
		echo "# $TEST_NAME: $CHECKS_PASSED checks passed"
	fi
	exit $rc
}


#!/usr/bin/env bash
# The plugin SDK as an in-house plugin author meets it: install Berth to a
# prefix, copy each example out of the installed tree, build it with CMake
# (find_package(Berth)) and one with plain cc + pkg-config, knowing nothing
# but the prefix; check that each exports only berth_plugin_entry; then
# load all of them with `berth plugins` and `berth config check`.
# test_sdk_hooks.sh drives the same out-of-tree builds with real traffic.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_cmd cmake cc pkg-config nm

examples=(request auth notify route job scan storage)
prefix=$TEST_TMP/prefix

# --- install ------------------------------------------------------------------

run "cmake --install to a fresh prefix" cmake --install "$BERTH_BUILD_DIR" --prefix "$prefix"
for f in include/berth/plugin.h include/berth/error.h bin/berth \
	lib/cmake/Berth/BerthConfig.cmake lib/cmake/Berth/BerthConfigVersion.cmake \
	lib/cmake/Berth/BerthPlugin.cmake lib/pkgconfig/berth-plugin.pc \
	lib/berth/plugins/storage-fs.so share/berth/sdk/README.md; do
	assert_file "$prefix/$f" "installed $f"
done
# Nothing but the ABI is public.
assert_eq "$(cd "$prefix/include/berth" && printf '%s ' *)" "error.h plugin.h " \
	"only plugin.h and error.h are installed under include/berth"
for k in "${examples[@]}"; do
	run "installed example hello-$k matches the source" \
		diff -r "$BERTH_SOURCE_DIR/sdk/examples/hello-$k" "$prefix/share/berth/sdk/examples/hello-$k"
done

version=$("$BERTH_BIN" version | awk '{print $2}')
assert_match "$version" '^[0-9]+\.[0-9]+\.[0-9]+' "berth version prints a version"

# --- pkg-config ---------------------------------------------------------------

# pc ARGS...: pkg-config seeing only the prefix, without its trailing blank.
pc()
{
	PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig pkg-config "$@" | sed 's/ *$//'
}
run "pkg-config validates berth-plugin.pc" pc --validate berth-plugin
assert_eq "$(pc --modversion berth-plugin)" "$version" "berth-plugin.pc has Berth's version"
assert_eq "$(pc --cflags berth-plugin)" "-I$prefix/include -fvisibility=hidden -fPIC" \
	"pkg-config --cflags: the installed headers, hidden visibility, PIC"
assert_eq "$(pc --libs berth-plugin)" "-shared" "pkg-config --libs: -shared"
assert_eq "$(pc --variable=pluginsdir berth-plugin)" "$prefix/lib/berth/plugins" \
	"pkg-config pluginsdir is the installed plugin directory"

# --- the examples, out of tree ------------------------------------------------

# exports FILE: the dynamic symbols FILE defines, one per line.
exports()
{
	nm -D --defined-only "$1" | awk '{print $3}' | sort
}

oot=$TEST_TMP/out-of-tree
mkdir -p "$oot"
for k in "${examples[@]}"; do
	src=$oot/hello-$k
	cp -r "$prefix/share/berth/sdk/examples/hello-$k" "$src"
	# Only the prefix: no package registry, no source tree to fall back on.
	run "configure hello-$k against the prefix" \
		cmake -S "$src" -B "$src/build" -DCMAKE_PREFIX_PATH="$prefix" \
		-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_C_FLAGS=-Werror
	assert_eq "$(sed -n 's/^Berth_DIR:PATH=//p' "$src/build/CMakeCache.txt")" \
		"$prefix/lib/cmake/Berth" "hello-$k found Berth's package in the prefix"
	run "build hello-$k without warnings" cmake --build "$src/build" --verbose
	assert_match "$(last_output)" "-fvisibility=hidden" "hello-$k is compiled with hidden visibility"
	assert_match "$(last_output)" "-Wall -Wextra" "hello-$k is compiled with -Wall -Wextra"
	so=$src/build/hello-$k.so
	assert_file "$so" "hello-$k.so built (no lib prefix)"
	assert_eq "$(exports "$so")" berth_plugin_entry "hello-$k.so exports only berth_plugin_entry"
	# The install rule of berth_add_plugin.
	run "install hello-$k" cmake --install "$src/build" --prefix "$oot/installed"
	assert_file "$oot/installed/lib/berth/plugins/hello-$k.so" "hello-$k installs into lib/berth/plugins"
done

# Plain cc with pkg-config, as the .pc file's own comment shows.
mkdir -p "$oot/cc"
cp "$prefix/share/berth/sdk/examples/hello-request/hello_request.c" "$oot/cc/"
# shellcheck disable=SC2046 # the flags must split
run "cc \$(pkg-config --cflags --libs berth-plugin) hello_request.c" \
	cc -std=c11 -O2 -Wall -Wextra -Werror $(pc --cflags --libs berth-plugin) \
	"$oot/cc/hello_request.c" -o "$oot/cc/hello-request.so"
assert_eq "$(exports "$oot/cc/hello-request.so")" berth_plugin_entry \
	"the pkg-config build exports only berth_plugin_entry"

# The check does catch a plugin that exports more than its entry.
cat >"$oot/cc/leaky.c" <<'EOF'
#include <berth/plugin.h>
__attribute__((visibility("default"))) int leaked_helper(void);
int leaked_helper(void) { return 1; }
static const berth_plugin d = { BERTH_PLUGIN_HEADER, .name = "leaky" };
BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void) { return &d; }
EOF
# shellcheck disable=SC2046
run "build a plugin that exports a helper" cc $(pc --cflags --libs berth-plugin) \
	"$oot/cc/leaky.c" -o "$oot/cc/leaky.so"
assert_eq "$(exports "$oot/cc/leaky.so" | tr '\n' ' ')" "berth_plugin_entry leaked_helper " \
	"the symbol check sees an extra export"

# --- the package's version check ---------------------------------------------

mkdir -p "$oot/too-new"
cp "$prefix/share/berth/sdk/examples/hello-route/hello_route.c" "$oot/too-new/"
cat >"$oot/too-new/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.18)
project(too-new LANGUAGES C)
find_package(Berth 99.0 REQUIRED)
berth_add_plugin(too-new hello_route.c)
EOF
run_fails "find_package(Berth 99.0) is refused" \
	cmake -S "$oot/too-new" -B "$oot/too-new/build" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
assert_match "$(last_output)" 'requested version "99\.0"' "cmake says which version was asked for"
assert_match "$(last_output)" "prefix/lib/cmake/Berth/BerthConfig.cmake, version: $version" \
	"and which one it found"

mkdir -p "$oot/no-install"
cp "$prefix/share/berth/sdk/examples/hello-route/hello_route.c" "$oot/no-install/"
cat >"$oot/no-install/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.18)
project(no-install LANGUAGES C)
find_package(Berth 0.1 REQUIRED)
berth_add_plugin(quiet NO_INSTALL hello_route.c)
add_library(by-hand MODULE hello_route.c)
target_link_libraries(by-hand PRIVATE Berth::plugin)
EOF
run "configure a project using NO_INSTALL and Berth::plugin" \
	cmake -S "$oot/no-install" -B "$oot/no-install/build" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
run "build it" cmake --build "$oot/no-install/build"
run "install it" cmake --install "$oot/no-install/build" --prefix "$oot/no-install/p"
[ ! -e "$oot/no-install/p/lib/berth/plugins/quiet.so" ] || fail "NO_INSTALL installed quiet.so"
ok "NO_INSTALL keeps the plugin out of the install"

# --- each one through `berth plugin check` -----------------------------------

# check_plugin KIND YAML: load hello-KIND.so alone, validate YAML as its
# config, and run create, start, stop, destroy once.
check_plugin()
{
	printf '%s\n' "$2" >"$TEST_TMP/check-$1.yaml"
	run "berth plugin check hello-$1 --start" "$BERTH_BIN" plugin check \
		"$oot/hello-$1/build/hello-$1.so" --config "$TEST_TMP/check-$1.yaml" --start
	last_output >"$TEST_TMP/check-$1.out"
	assert_match "$(cat "$TEST_TMP/check-$1.out")" "name: +hello-$1"$'\n'"version: +0\\.1\\.0" \
		"hello-$1's descriptor: name and version"
	assert_match "$(cat "$TEST_TMP/check-$1.out")" "lifecycle: +create, start, stop and destroy ran" \
		"hello-$1 is created, started, stopped and destroyed"
}
check_plugin request 'frozen_prefix: "x/"'
assert_match "$(cat "$TEST_TMP/check-request.out")" "request: +priority 0, before, after" \
	"hello-request provides before and after"
check_plugin auth $'user: ci\npassword: pw\nrealm: check'
assert_match "$(cat "$TEST_TMP/check-auth.out")" "auth: +priority 0, authenticate, authorize, challenge" \
	"hello-auth provides the three auth hooks"
assert_match "$(cat "$TEST_TMP/check-auth.out")" "password +string +required secret" \
	"hello-auth's password is a required secret"
check_plugin notify "path: \"$TEST_TMP/check-events.jsonl\""
assert_file "$TEST_TMP/check-events.jsonl" "hello-notify opens its file at create()"
check_plugin route '{}'
assert_match "$(cat "$TEST_TMP/check-route.out")" "route: +GET /hello/v1/greet \\(public\\)" \
	"hello-route's greeting is public"
assert_match "$(cat "$TEST_TMP/check-route.out")" "route: +POST /hello/v1/echo"$'\n' \
	"hello-route's echo is not"
check_plugin job '{}'
assert_match "$(cat "$TEST_TMP/check-job.out")" "job: +hello-count" "hello-job declares hello-count"
check_plugin scan 'deny_annotation: x.example/deny'
check_plugin storage 'max_size: 16MiB'

# What create() refuses, the check reports with the plugin's message.
printf 'user: ci\npassword: pw\nrealm: say "hi"\n' >"$TEST_TMP/bad-realm.yaml"
run_fails "hello-auth refuses a realm with quotes" "$BERTH_BIN" plugin check \
	"$oot/hello-auth/build/hello-auth.so" --config "$TEST_TMP/bad-realm.yaml" --start
assert_match "$(last_output)" "hello-auth: 'realm' may not hold quotes" "with its own message"
printf 'path: "%s/no/such/dir/events"\n' "$TEST_TMP" >"$TEST_TMP/bad-path.yaml"
run_fails "hello-notify refuses a file it cannot open" "$BERTH_BIN" plugin check \
	"$oot/hello-notify/build/hello-notify.so" --config "$TEST_TMP/bad-path.yaml" --start
assert_match "$(last_output)" "hello-notify: cannot open '.*/no/such/dir/events': No such file or directory" \
	"naming the file and the reason"

# --- loading them -------------------------------------------------------------

# The hook plugins at once, in a declared order that differs from their
# priority order, one of them twice; storage-fs from the build tree.
plugin_path=
for k in "${examples[@]}"; do
	plugin_path+="\"$oot/hello-$k/build\", "
done
cat >"$TEST_TMP/berth.yaml" <<EOF
listen: 127.0.0.1:5000
plugin_path: [$plugin_path"$BERTH_PLUGIN_DIR"]
plugins:
  - use: storage-fs
    config:
      root: "$TEST_TMP/registry"
  - use: hello-notify
    priority: 20
    config:
      path: "$TEST_TMP/events.jsonl"
  - use: hello-request
    name: freeze-release
    priority: 10
    config:
      frozen_prefix: "release/"
  - use: hello-auth
    priority: -5
    config:
      user: ci
      password: not-shown-anywhere
      realm: sdk test
  - use: hello-request
    priority: 10
  - use: hello-route
  - use: hello-job
  - use: hello-scan
    priority: -5
  - use: hello-request
    name: freeze-early
    priority: -1
    config:
      frozen_prefix: "early/"
EOF

run "berth plugins loads every out-of-tree example" "$BERTH_BIN" plugins -c "$TEST_TMP/berth.yaml"
last_output >"$TEST_TMP/plugins.out"
# Each line: INSTANCE PLUGIN VERSION ABI KINDS PRIORITY FILE.
listed()
{
	awk -v i="$1" '$1 == i' "$TEST_TMP/plugins.out"
}
for k in notify auth route job scan; do
	line=$(listed "hello-$k")
	assert_match "$line" "hello-$k +0\.1\.0 +1\.0 " "berth plugins lists hello-$k with its version and ABI"
	assert_eq "$(awk '{print $NF}' <<<"$line")" "$oot/hello-$k/build/hello-$k.so" \
		"hello-$k is loaded from its out-of-tree build"
done
assert_eq "$(awk '{print $NF}' <<<"$(listed freeze-release)")" \
	"$oot/hello-request/build/hello-request.so" "a second instance of hello-request, same .so"
assert_match "$(listed hello-auth)" " auth " "hello-auth's kind is auth"
assert_match "$(listed hello-scan)" " scan " "hello-scan's kind is scan"
assert_match "$(listed hello-notify)" " notify " "hello-notify's kind is notify"
assert_match "$(listed hello-route)" " routes " "hello-route's kind is routes"
assert_match "$(listed hello-job)" " jobs " "hello-job's kind is jobs"
assert_match "$(listed freeze-release)" " request +10 " "freeze-release: kind request, priority 10"
# Each chain in the order it runs: priority, then declared order.
chain()
{
	sed -n "s/^$1: //p" "$TEST_TMP/plugins.out"
}
assert_eq "$(chain 'request hooks')" "freeze-early(-1), freeze-release(10), hello-request(10)" \
	"berth plugins shows the request chain by priority, ties in declared order"
assert_eq "$(chain 'auth hooks')" "hello-auth(-5)" "berth plugins shows the auth chain"
assert_eq "$(chain 'scan hooks')" "hello-scan" "berth plugins shows the scan chain"
assert_eq "$(chain routes)" "GET /hello/v1/greet (hello-route), POST /hello/v1/echo (hello-route)" \
	"berth plugins shows hello-route's routes"

run "berth job list shows hello-count" "$BERTH_BIN" job list -c "$TEST_TMP/berth.yaml"
assert_match "$(last_output)" "hello-count +hello-job +on demand +print each repository" \
	"hello-count runs on demand, from the hello-job instance"
{ cat "$TEST_TMP/berth.yaml"; printf 'jobs:\n  hello-count:\n    schedule: "every 1h"\n'; } \
	>"$TEST_TMP/scheduled.yaml"
run "berth job list with a schedule from the config" "$BERTH_BIN" job list -c "$TEST_TMP/scheduled.yaml"
assert_match "$(last_output)" "hello-count +hello-job +every 1h " "the operator schedules hello-count"

run "berth config check accepts the examples' config" "$BERTH_BIN" config check -c "$TEST_TMP/berth.yaml"
out=$(last_output)
assert_match "$out" "ok \(1 file, 9 plugin instances\)" "config check counts the nine instances"
assert_match "$out" "frozen_prefix" "config check shows hello-request's config"
[[ $out != *not-shown-anywhere* ]] || fail "config check printed hello-auth's password"
ok "config check does not print the secret password"
assert_match "$out" 'password: \*+' "config check masks the password"

# Each schema is enforced: an unknown key, with the file and line.
sed 's/frozen_prefix: "release\/"/frozen_prefx: "release\/"/' "$TEST_TMP/berth.yaml" >"$TEST_TMP/typo.yaml"
run_fails "config check refuses a key hello-request does not declare" \
	"$BERTH_BIN" config check -c "$TEST_TMP/typo.yaml"
assert_match "$(last_output)" "typo\.yaml:[0-9]+:[0-9]+: .*unknown key 'frozen_prefx'.*frozen_prefix" \
	"the error names file, line, the key and the right one"
grep -v 'password:' "$TEST_TMP/berth.yaml" >"$TEST_TMP/nopass.yaml"
run_fails "config check refuses hello-auth without its required password" \
	"$BERTH_BIN" config check -c "$TEST_TMP/nopass.yaml"
assert_match "$(last_output)" "password" "the error names the missing key"

# The memory storage replaces storage-fs; two storages are refused.
cat >"$TEST_TMP/memory.yaml" <<EOF
listen: 127.0.0.1:5000
plugin_path: ["$oot/hello-storage/build"]
plugins:
  - use: hello-storage
    config:
      max_size: 64MiB
EOF
run "berth config check accepts hello-storage alone" "$BERTH_BIN" config check -c "$TEST_TMP/memory.yaml"
assert_match "$(last_output)" "hello-storage" "config check lists hello-storage"
run "berth plugins lists hello-storage" "$BERTH_BIN" plugins -c "$TEST_TMP/memory.yaml"
assert_match "$(last_output)" "hello-storage +hello-storage +0\.1\.0 +1\.0 +storage " \
	"hello-storage's kind is storage"
cat >>"$TEST_TMP/memory.yaml" <<EOF
  - use: "$BERTH_PLUGIN_DIR/storage-fs.so"
    config:
      root: "$TEST_TMP/registry"
EOF
run_fails "a second storage plugin is refused" "$BERTH_BIN" config check -c "$TEST_TMP/memory.yaml"

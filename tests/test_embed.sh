#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tconv embedded in a parent CMake project (tests/embed, add_subdirectory):
#   1. configures without cmocka (tests are off in a subproject) and builds
#      the core, the CPU plugin and the command with the parent's program;
#   2. the parent's program runs and finds the plugin (with a static core
#      too: the plugins never link the core);
#   3. after `cmake --install` into the configured prefix, the build tree
#      still uses only its own plugins (no duplicates; `--device cpu:9` says
#      there is no such device) and the install only its own;
#   4. `cmake --install --prefix` elsewhere: that copy finds its own plugins;
#   5. with a static core, programs link against the install both ways a user
#      builds them: `pkg-config --static --cflags --libs tconv` (Libs.private
#      lists what libtconv.a needs) and find_package(tconv) (the exported
#      target carries it).
# Usage: test_embed.sh <tconv source dir> shared|static
set -euo pipefail
source="$1" mode="$2"
tmp="$(mktemp -d /tmp/tconv_embed.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
unset TCONV_DEVICE TCONV_PLUGINS TCONV_PLUGIN_PATH TCONV_VERBOSE TCONV_CPU_ISA
build="$tmp/build" prefix="$tmp/prefix"
step() { printf '== %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

shared_libs=ON
[ "$mode" = static ] && shared_libs=OFF
step "configure the parent ($mode core), cmocka hidden"
# CMOCKA_INCLUDE_DIR=NOTFOUND: what configure sees where cmocka is not installed.
cmake -S "$source/tests/embed" -B "$build" -DTCONV_SOURCE_DIR="$source" \
      -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS="$shared_libs" \
      -DCMAKE_INSTALL_PREFIX="$prefix" -DCMOCKA_INCLUDE_DIR=CMOCKA_INCLUDE_DIR-NOTFOUND \
      > "$tmp/configure.log" || { cat "$tmp/configure.log"; fail "configure"; }
step "build"
cmake --build "$build" -j2 > "$tmp/build.log" || { tail -30 "$tmp/build.log"; fail "build"; }
if [ "$mode" = static ]; then
    ! ldd "$build/parent_app" | grep -q libtconv || fail "parent_app links a shared libtconv"
fi

expect_one_cpu() { # expect_one_cpu <what> <command...>
    local what="$1"; shift
    local out
    out="$("$@")" || fail "$what: exit $?"
    echo "$out"
    grep -q '1 device(s): cpu:0$' <<< "$out" || fail "$what: not exactly cpu:0"
}
step "the parent's program finds the plugin"
expect_one_cpu "parent_app" "$build/parent_app"

step "install into the configured prefix, then the build tree again"
cmake --install "$build" > "$tmp/install.log"
test -f "$prefix/lib/tconv/tconv_backend_cpu.so" || fail "no installed CPU plugin"
expect_one_cpu "parent_app after install" "$build/parent_app"
cli="$build/tconv/bin/tconv"
json="$("$cli" devices --json)"
grep -q '"state":"duplicate"' <<< "$json" && fail "the build tree loads the installed plugins too: $json"
[ "$(grep -o '"id":"cpu:0"' <<< "$json" | wc -l)" = 1 ] || fail "cpu:0 listed other than once"
grep -q "\"path\":\"$prefix" <<< "$json" && fail "the build tree loads from $prefix: $json"
set +e
"$cli" devices --device cpu:9 > /dev/null 2> "$tmp/err.txt"
rc=$?
set -e
[ "$rc" = 3 ] || fail "devices --device cpu:9 exited $rc, not 3"
grep -q "no such device" "$tmp/err.txt" || fail "cpu:9: $(cat "$tmp/err.txt")"
grep -qi "duplicate" "$tmp/err.txt" && fail "cpu:9 blames a duplicate: $(cat "$tmp/err.txt")"

step "the installed command uses the installed plugins"
json="$("$prefix/bin/tconv" devices --json)"
grep -q "\"path\":\"$prefix/lib/tconv/tconv_backend_cpu.so\"" <<< "$json" ||
    fail "the installed tconv does not load $prefix/lib/tconv: $json"

step "a copy installed elsewhere uses its own plugins"
cmake --install "$build" --prefix "$tmp/moved" > "$tmp/install2.log"
json="$("$tmp/moved/bin/tconv" devices --json)"
grep -q "\"path\":\"$tmp/moved/lib/tconv/tconv_backend_cpu.so\"" <<< "$json" ||
    fail "the relocated tconv does not load its own plugins: $json"
grep -q '"state":"duplicate"' <<< "$json" && fail "the relocated tconv loads duplicates: $json"

if [ "$mode" = static ]; then
    step "a program linked with pkg-config --static against the install"
    pc="$(find "$prefix" -name tconv.pc)"
    [ -n "$pc" ] || fail "no tconv.pc installed in $prefix"
    flags="$(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --static --cflags --libs tconv)"
    echo "pkg-config --static: $flags"
    # shellcheck disable=SC2086 # the flags are words
    cc -o "$tmp/pc_consumer" "$source/tests/install_consumer.c" $flags ||
        fail "linking with pkg-config --static --libs tconv: $flags"
    ! ldd "$tmp/pc_consumer" | grep -q libtconv || fail "pc_consumer links a shared libtconv"
    expect_one_cpu "pc_consumer" "$tmp/pc_consumer"

    step "a program linked with find_package(tconv) against the install"
    cmake -S "$source/tests/install_consumer" -B "$tmp/cmake-consumer" \
          -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/cmake-consumer.log" 2>&1 ||
        { cat "$tmp/cmake-consumer.log"; fail "find_package(tconv) against $prefix"; }
    cmake --build "$tmp/cmake-consumer" > "$tmp/cmake-consumer-build.log" 2>&1 ||
        { cat "$tmp/cmake-consumer-build.log"; fail "linking with tconv::tconv (static)"; }
    expect_one_cpu "find_package consumer" "$tmp/cmake-consumer/install_consumer"
fi
echo "PASSED"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The conformance kit as a plugin vendor runs it (plugins/example/README.md):
#   1. install tconv into a temporary prefix: the goldens are in
#      share/tconv/conformance, and `tconv conformance` finds them there;
#   2. build plugins/example against the install and run
#      `tconv conformance --plugin <plugin> --device example:0` from the
#      installed tree: real cases run, none fails, exit 0; once the plugin is
#      installed, `--device example` finds it without --plugin;
#   3. a planted wrong golden (a copy of some cases, one value changed):
#      exit 1, the case named; an empty data directory: exit 1, "0 cases";
#   4. a plugin without the backward slots (ABI 1.0): its gradient cases are
#      "not supported" (listed, not passed), and with nothing else selected
#      no case ran: exit 1; a plugin that fails to load: exit 1, named;
#   5. bad arguments: exit 2, the argument named;
#   6. in the build tree the default data is the source tree's.
# Usage: test_conformance_kit.sh <tconv build dir> <source dir>
set -euo pipefail
build="$1" source="$2"
json_get="$build/tests/json_get" faulty="$build/tests/plugins"
tmp="$(mktemp -d /tmp/tconv_conformance_kit.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
unset TCONV_DEVICE TCONV_PLUGINS TCONV_PLUGIN_PATH TCONV_VERBOSE TCONV_CPU_ISA

step() { printf '== %s\n' "$*"; }
fail() {
    echo "FAILED: $*" >&2
    exit 1
}
# expect_exit <code> <output file> <command...>: runs the command with its
# stdout in <output file> and its stderr in <output file>.err.
expect_exit() {
    local want="$1" out="$2" rc=0
    shift 2
    "$@" > "$out" 2> "$out.err" || rc=$?
    if [ "$rc" -ne "$want" ]; then
        tail -n 20 "$out" "$out.err" >&2
        fail "exit $rc, want $want: $*"
    fi
}
# json_is <file> <path> <value>
json_is() {
    local got
    got="$("$json_get" "$1" "$2")" || fail "$1 has no $2"
    [ "$got" = "$3" ] || fail "$1: $2 is '$got', want '$3'"
}

step "install tconv into $tmp/prefix"
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
tconv="$tmp/prefix/bin/tconv"
data="$tmp/prefix/share/tconv/conformance"
cases="$(find "$data" -name '*.json' | wc -l)"
[ "$cases" -gt 0 ] || fail "no goldens installed in $data"
[ ! -e "$tmp/prefix/bin/tconv-conformance" ] || fail "bin/tconv-conformance is still installed"

step "build plugins/example against the install"
cmake -S "$source/plugins/example" -B "$tmp/example-build" \
      -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/configure.log"
cmake --build "$tmp/example-build" > "$tmp/build.log"
plugin="$tmp/example-build/tconv_backend_example.so"

step "tconv conformance --plugin <example> --device example:0 from the installed tree"
expect_exit 0 "$tmp/kit.json" "$tconv" conformance --plugin "$plugin" --device example:0 --json
json_is "$tmp/kit.json" device.id example:0
json_is "$tmp/kit.json" data "$(realpath "$data")"
json_is "$tmp/kit.json" cases.found "$cases"
json_is "$tmp/kit.json" counts.failed 0
json_is "$tmp/kit.json" counts.not_supported 0
json_is "$tmp/kit.json" ok true
passed="$("$json_get" "$tmp/kit.json" counts.passed)"
[ "$passed" -eq "$cases" ] || fail "$passed of $cases cases passed on example:0"
for framework in keras tensorflow torch onnx; do
    json_is "$tmp/kit.json" "frameworks.$framework.forward.failed" 0
    "$json_get" "$tmp/kit.json" "frameworks.$framework.worst.tolerance" > /dev/null ||
        fail "no worst error for $framework"
done
[ "$("$json_get" "$tmp/kit.json" frameworks.torch.backward.passed)" -gt 0 ] ||
    fail "no gradient case ran on example:0"
echo "example:0: $passed passed"

step "the installed example plugin, found without --plugin"
expect_exit 2 "$tmp/missing.txt" "$tconv" conformance --device example:0
grep -q -- "--device" "$tmp/missing.txt.err" || fail "an unknown --device is not named"
cmake --install "$tmp/example-build" > "$tmp/example-install.log"
installed_plugin="$(find "$tmp/prefix" -name tconv_backend_example.so)"
[ -n "$installed_plugin" ] || fail "the example plugin was not installed into $tmp/prefix"
expect_exit 0 "$tmp/installed.txt" "$tconv" conformance --device example --pass backward
tail -n 1 "$tmp/installed.txt"
grep -Eq '^[1-9][0-9]* passed, 0 failed$' "$tmp/installed.txt" ||
    fail "the installed example plugin: no case ran, or one failed"
expect_exit 0 "$tmp/installed2.txt" "$tconv" conformance --plugin "$installed_plugin" \
    --dtype f64 --pass forward
grep -q '^goldens: .*--dtype f64 --pass forward' "$tmp/installed2.txt" ||
    fail "the filters are not in the header"

step "a planted wrong golden fails and is named"
mkdir "$tmp/planted"
cp "$data"/torch3d_0.* "$data"/torch3d_1.* "$data"/grad_torch3d_0.* "$tmp/planted/"
golden="$tmp/planted/torch3d_0.output.npy"
# The last float32 of the golden output becomes 100.0 (0x42c80000, little-endian).
printf '\x00\x00\xc8\x42' |
    dd of="$golden" bs=1 seek=$(($(stat -c %s "$golden") - 4)) conv=notrunc status=none
expect_exit 1 "$tmp/planted.txt" "$tconv" conformance --plugin "$plugin" --data "$tmp/planted"
grep -q '^FAIL torch3d_0 (torch, forward): output: max |error|' "$tmp/planted.txt" ||
    fail "the planted case is not named in a FAIL line"
grep -q '^2 passed, 1 failed$' "$tmp/planted.txt" || fail "want 2 passed, 1 failed"
expect_exit 1 "$tmp/planted.json" "$tconv" conformance --plugin "$plugin" --data "$tmp/planted" \
    --json
json_is "$tmp/planted.json" failures.0.case torch3d_0
json_is "$tmp/planted.json" frameworks.torch.forward.failed 1
json_is "$tmp/planted.json" ok false

step "an empty data directory: 0 cases, exit 1"
mkdir "$tmp/empty"
expect_exit 1 "$tmp/empty.txt" "$tconv" conformance --plugin "$plugin" --data "$tmp/empty"
grep -q "0 cases" "$tmp/empty.txt.err" || fail "no '0 cases' message"
expect_exit 1 "$tmp/filtered.txt" "$tconv" conformance --plugin "$plugin" --case 'no_such_*'
grep -q "0 cases: none of the $cases cases" "$tmp/filtered.txt.err" ||
    fail "cases all filtered out: no reason given"

if [ -f "$faulty/tconv_backend_abi10.so" ]; then
    step "a plugin without backward slots: gradient cases not supported"
    abi10="$faulty/tconv_backend_abi10.so"
    expect_exit 0 "$tmp/abi10.json" "$tconv" conformance --plugin "$abi10" --case '*torch3d_1*' \
        --json
    json_is "$tmp/abi10.json" device.id abi10:0
    json_is "$tmp/abi10.json" frameworks.torch.backward.passed 0
    json_is "$tmp/abi10.json" not_supported.0.pass backward
    [ "$("$json_get" "$tmp/abi10.json" counts.not_supported)" -gt 0 ] ||
        fail "the gradient cases are not counted as not supported"
    expect_exit 1 "$tmp/abi10.txt" "$tconv" conformance --plugin "$abi10" --pass backward
    grep -q "declined all" "$tmp/abi10.txt.err" || fail "no reason why no case ran"
    grep -q "^Not supported by abi10:0" "$tmp/abi10.txt" || fail "the unsupported cases are not listed"

    step "a plugin that does not load is named with the loader's report"
    expect_exit 1 "$tmp/init.txt" "$tconv" conformance --plugin "$faulty/tconv_backend_init_fails.so"
    grep -q -- "--plugin $faulty/tconv_backend_init_fails.so: not loaded (failed, init_failed)" \
        "$tmp/init.txt.err" || fail "the failed plugin is not named with its report"
fi

step "bad arguments: exit 2, the argument named"
check_bad() { # check_bad <argument named> <arguments...>
    local named="$1"
    shift
    expect_exit 2 "$tmp/bad.txt" "$tconv" conformance "$@"
    grep -q -- "$named" "$tmp/bad.txt.err" || fail "'$*': the message does not name $named"
}
check_bad --dtype --plugin "$plugin" --dtype f16
check_bad --pass --plugin "$plugin" --pass sideways
check_bad --data --plugin "$plugin" --data "$tmp/no_such_dir"
check_bad --data --plugin "$plugin" --data "$golden"
check_bad --plugin --plugin "$tmp/no_such_plugin.so"
check_bad --device --device no_such:0
check_bad --frobnicate --frobnicate
check_bad --json --json=yes

step "the build tree runs the source tree's goldens"
expect_exit 0 "$tmp/build-tree.json" "$build/bin/tconv" conformance --device cpu:0 \
    --case 'torch1d_*' --json
json_is "$tmp/build-tree.json" data "$(realpath "$source/tests/conformance/data")"
echo "PASSED"

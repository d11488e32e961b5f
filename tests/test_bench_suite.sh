#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tconv-bench (the benchmark suite) end to end on one small layer: the JSON
# carries the row's timing and FLOP count, --svg writes an SVG, and bad
# options exit 2 without writing anything; --pass times the backward passes
# and the training step (the JSON and the table name the pass, FLOP per pass
# as oneDNN counts them), and each row has its roofline from the measured
# peak and copy bandwidth. `tconv bench --pass` times one layer's pass.
# `tconv bench --suite` says where the suite went, and `tconv` itself does
# not link oneDNN (only tconv-bench may).
# Usage: test_bench_suite.sh <path to tconv-bench> <path to tconv> <path to json_get>
set -u
bench="$1"
tconv="$2"
json_get="$3" # reads the JSON by value: times positive and in order, GFLOP/s = FLOPs / median
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fails=0
checks=0
check() { # check <description> <command...>: the command must succeed
    local what="$1"; shift
    checks=$((checks + 1))
    if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

"$bench" --layers dilated_k3d2 --device cpu:0 --repeat 1 --warmup 0 --json \
    --svg "$work/suite.svg" > "$work/suite.json" 2> "$work/progress.txt"
rc=$?
check "suite exits 0" test "$rc" -eq 0
check "JSON names the layer, pass and device" grep -q '"layer":"dilated_k3d2","pass":"forward","device":"cpu:0"' "$work/suite.json"
check "JSON has the flops of the layer" grep -q '"flops":7247757312' "$work/suite.json"
# timing_consistent <JSON file> <path of an object with times> <path of its FLOPs>
timing_consistent() {
    local median min max gflops flops
    median=$("$json_get" "$1" "$2.median_ms") && min=$("$json_get" "$1" "$2.min_ms") &&
        max=$("$json_get" "$1" "$2.max_ms") && gflops=$("$json_get" "$1" "$2.gflops") &&
        flops=$("$json_get" "$1" "$3") || return 1
    echo "  $2: median $median ms (min $min, max $max), $gflops GFLOP/s for $flops FLOPs"
    awk -v md="$median" -v mn="$min" -v mx="$max" -v g="$gflops" -v f="$flops" 'BEGIN {
        want = f / (md * 1e6); d = g - want
        exit !(mn > 0 && mn <= md && md <= mx && g > 0 && d * d <= (1e-6 * want) ^ 2) }'
}
# The row, and oneDNN's timing of the layer when tconv-bench has oneDNN.
suite_timings_consistent() {
    timing_consistent "$work/suite.json" rows.0 rows.0.flops || return 1
    if "$json_get" "$work/suite.json" layers.0.onednn.median_ms > /dev/null 2>&1; then
        timing_consistent "$work/suite.json" layers.0.onednn layers.0.flops || return 1
    fi
}
check "JSON times > 0, min <= median <= max, GFLOP/s = flops / median" suite_timings_consistent
check "JSON row succeeded" grep -q '"ok":true' "$work/suite.json"
check "progress line on stderr" grep -q 'dilated_k3d2' "$work/progress.txt"
check "SVG written" grep -q '<svg' "$work/suite.svg"
check "SVG closed" grep -q '</svg>' "$work/suite.svg"
check "JSON has the copy bandwidth and the roofline" grep -Eq '"copy_gbytes":[0-9.e+-]+,"roofline_ms":[0-9.e+-]+,"percent_of_roofline":[0-9.e+-]+' "$work/suite.json"
# (32^3 x 64 in and out, 27 x 64 x 64 weights, 64 bias) x 4 bytes
check "JSON has the bytes of x, y and w" grep -q '"bytes":17219840,' "$work/suite.json"

"$bench" --layers dilated_k3d2 --device cpu:0 --repeat 1 --warmup 0 --json \
    --pass backward_weights,training --svg "$work/passes.svg" > "$work/passes.json" 2> "$work/passes.txt"
rc=$?
check "backward passes exit 0" test "$rc" -eq 0
check "JSON lists the passes" grep -q '"passes":\["backward_weights","training"\]' "$work/passes.json"
check "backward weights row, one pass of FLOP" \
    grep -q '"layer":"dilated_k3d2","pass":"backward_weights","device":"cpu:0","device_name":"[^"]*","ok":true,.*"flops":7247757312,' "$work/passes.json"
check "training row, three passes of FLOP and bytes" grep -q '"bytes":51659520,' "$work/passes.json"
check "training row, three passes of FLOP" \
    grep -q '"pass":"training","device":"cpu:0","device_name":"[^"]*","ok":true,.*"flops":2.174327194e+10,' "$work/passes.json"
check "no forward row unless asked" eval '! grep -q "\"pass\":\"forward\",\"device\"" "$work/passes.json"'
check "SVG groups name layer and pass" grep -q 'dilated_k3d2 backward_weights' "$work/passes.svg"

"$bench" --layers dilated_k3d2 --device cpu:0 --repeat 1 --warmup 0 --pass backward_data \
    > "$work/table.txt" 2> /dev/null
rc=$?
check "table run exits 0" test "$rc" -eq 0
check "table has the pass and roofline columns" grep -Eq '^layer +pass +device .*roof_ms +%roof' "$work/table.txt"
check "table row names the pass" grep -Eq '^dilated_k3d2 +backward_data +cpu:0 ' "$work/table.txt"

"$bench" --layers dilated_k3d2 --device cpu:0 --pass backward > /dev/null 2> "$work/err_pass.txt"
rc=$?
check "unknown pass exits 2" test "$rc" -eq 2
check "unknown pass is named" grep -q "'backward' is not one of" "$work/err_pass.txt"

"$tconv" bench --input-shape 1,4,4,4,8 --filters 4 --kernel-size 2 --strides 2 --use-bias \
    --device cpu:0 --repeat 1 --warmup 0 --pass training --json > "$work/one.json"
rc=$?
check "tconv bench --pass training exits 0" test "$rc" -eq 0
check "tconv bench JSON names the pass, FLOP x3" grep -q '"pass":"training",.*"flops":98304,' "$work/one.json"

"$bench" --layers nope --device cpu:0 > "$work/out.txt" 2> "$work/err.txt"
rc=$?
check "unknown layer exits 2" test "$rc" -eq 2
check "unknown layer is named" grep -q "unknown layer 'nope'" "$work/err.txt"

"$bench" --layers gan_g3 --device nosuch:3 --svg "$work/bad.svg" > /dev/null 2> "$work/err2.txt"
rc=$?
check "unknown device exits 3" test "$rc" -eq 3
check "no SVG after a failed selector" test ! -e "$work/bad.svg"

"$tconv" bench --suite --layers gan_g3 > /dev/null 2> "$work/err3.txt"
rc=$?
check "tconv bench --suite exits 2" test "$rc" -eq 2
check "tconv bench --suite names tconv-bench" grep -q "tconv-bench" "$work/err3.txt"

check "tconv does not link oneDNN" eval '! ldd "$tconv" | grep -q libdnnl'
# Where tconv-bench was built without oneDNN (it is optional; CI has none)
# the check above cannot fail: tconv must also need nothing but what libtconv
# needs at run time (its NEEDED entries; sanitizer runtimes allowed), and
# where tconv-bench times oneDNN, ldd must see libdnnl in tconv-bench.
tconv_needs_only_runtime_libraries() {
    local needed extra
    needed="$(readelf -d "$tconv" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
    grep -q '^libtconv\.so' <<< "$needed" || { echo "  tconv NEEDED: $needed"; return 1; }
    extra="$(grep -Ev '^(libtconv\.so\.[0-9.]+|lib(m|c)\.so\.6|libpthread\.so\.0|libdl\.so\.2|libltdl\.so\.7|libgcc_s\.so\.1|lib(a|ub|t|l)san\.so\.[0-9]+)$' <<< "$needed")"
    [ -z "$extra" ] || { echo "  tconv also needs: $extra"; return 1; }
}
check "tconv needs only libtconv's run-time libraries" tconv_needs_only_runtime_libraries
if grep -q '"onednn":{' "$work/suite.json"; then
    check "tconv-bench, which times oneDNN, links libdnnl" eval 'ldd "$bench" | grep -q libdnnl'
else
    echo "note: tconv-bench has no oneDNN here (optional); the libdnnl checks only ran on tconv"
fi

echo "$(( checks - fails )) passed, $fails failed"
test "$fails" -eq 0

#!/usr/bin/env bash
# tconv-bench (the benchmark suite) end to end on one small layer: the JSON
# carries the row's timing and FLOP count, --svg writes an SVG, and bad
# options exit 2 without writing anything. `tconv bench --suite` says where
# the suite went, and `tconv` itself does not link oneDNN (only tconv-bench
# may).
# Usage: test_bench_suite.sh <path to tconv-bench> <path to tconv>
set -u
bench="$1"
tconv="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fails=0
check() { # check <description> <command...>: the command must succeed
    local what="$1"; shift
    if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

"$bench" --layers dilated_k3d2 --device cpu:0 --repeat 1 --warmup 0 --json \
    --svg "$work/suite.svg" > "$work/suite.json" 2> "$work/progress.txt"
rc=$?
check "suite exits 0" test "$rc" -eq 0
check "JSON names the layer and device" grep -q '"layer":"dilated_k3d2","device":"cpu:0"' "$work/suite.json"
check "JSON has the flops of the layer" grep -q '"flops":7247757312' "$work/suite.json"
check "JSON has a median and GFLOP/s" grep -Eq '"median_ms":[0-9.e+-]+,.*"gflops":[0-9.e+-]+' "$work/suite.json"
check "JSON row succeeded" grep -q '"ok":true' "$work/suite.json"
check "progress line on stderr" grep -q 'dilated_k3d2' "$work/progress.txt"
check "SVG written" grep -q '<svg' "$work/suite.svg"
check "SVG closed" grep -q '</svg>' "$work/suite.svg"

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

echo "$(( 15 - fails )) passed, $fails failed"
test "$fails" -eq 0

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The OpenCL backend's program cache and precompiled-binary (FPGA) flow, across
# processes, through `tconv run --device opencl:0`:
#  - the first process builds from source and writes one cache entry; a second
#    process loads it instead of building;
#  - a corrupt or truncated entry is never trusted: it is rebuilt, the result
#    stays right, and the entry is rewritten;
#  - TCONV_OPENCL_BINARY_SAVE writes the plan's binary; another process runs
#    from it with TCONV_OPENCL_BINARY (no source build, cache off) and gives the
#    same output; a binary for another problem or a missing file is refused
#    with exit 3 and a message, leaving no output file.
# Every output is checked against the float64 reference (npy_reference_check),
# not against another device. Without an OpenCL device this test is skipped
# (exit 77) unless CI=true (cannot_run decides).
# Usage: test_opencl_cache.sh <tconv> <npy_random> <npy_reference_check> <cannot_run>
set -u
tconv="$1" npy_random="$2" reference_check="$3" cannot_run="$4"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fails=0 passes=0
check() { # check <description> <command...>
    local what="$1"; shift
    if "$@"; then echo "ok: $what"; passes=$((passes + 1)); else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

if ! "$tconv" devices | grep -q '^  opencl:0'; then
    "$cannot_run" "no OpenCL platform (no opencl:0)"; exit $?
fi

"$npy_random" "$work/x.npy" 1,4,5,6,3 11 && "$npy_random" "$work/w.npy" 3,3,3,2,3 12 || exit 1
run() { # run <output> <extra args...> ; stderr (verbose) in <output>.log
    local out="$1"; shift
    TCONV_VERBOSE=2 "$tconv" run --input "$work/x.npy" --kernel "$work/w.npy" --output "$out" \
        --strides 2 --padding same --device opencl:0 "$@" 2> "$out.log"
}
export TCONV_CACHE_DIR="$work/cache"
matches_reference() { # matches_reference <output of run>
    "$reference_check" "$1" "$work/x.npy" "$work/w.npy" - --strides 2 --padding same
}

run "$work/y1.npy"; check "first run succeeds" test $? -eq 0
check "first run builds from source" grep -q "program built from source" "$work/y1.npy.log"
entry=$(ls "$work/cache"/opencl-*.bin 2> /dev/null | head -n 1)
check "one cache entry written" test -n "$entry" -a -s "$entry"
check "first run matches the reference" matches_reference "$work/y1.npy"

run "$work/y2.npy"; check "second process succeeds" test $? -eq 0
check "second process loads from cache" grep -q "program from cache" "$work/y2.npy.log"
check "second process does not build" bash -c "! grep -q 'built from source' '$work/y2.npy.log'"
check "cached run matches the reference" matches_reference "$work/y2.npy"

# Flip bytes in the middle of the entry: must be rebuilt, never trusted.
size=$(stat -c %s "$entry")
printf '\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8' | dd of="$entry" bs=1 seek=$((size / 2)) conv=notrunc 2> /dev/null
run "$work/y3.npy"; check "corrupt entry: run succeeds" test $? -eq 0
check "corrupt entry: rebuilt from source" grep -q "program built from source" "$work/y3.npy.log"
check "corrupt entry: result right" matches_reference "$work/y3.npy"
run "$work/y4.npy"
check "rewritten entry is used again" grep -q "program from cache" "$work/y4.npy.log"

# Truncated entry.
truncate -s 100 "$entry"
run "$work/y5.npy"; check "truncated entry: run succeeds" test $? -eq 0
check "truncated entry: rebuilt" grep -q "program built from source" "$work/y5.npy.log"
check "truncated entry: result right" matches_reference "$work/y5.npy"

# Binary flow: save in one process, run from it in another with no cache.
TCONV_OPENCL_BINARY_SAVE="$work/plan.bin" run "$work/y6.npy"
check "binary saved" test -s "$work/plan.bin"
TCONV_CACHE_DIR=off TCONV_OPENCL_BINARY="$work/plan.bin" run "$work/y7.npy"
check "run from binary succeeds" test $? -eq 0
check "program loaded from the binary" grep -q "program loaded from TCONV_OPENCL_BINARY" "$work/y7.npy.log"
check "no source build with a binary" bash -c "! grep -q 'built from source' '$work/y7.npy.log'"
check "binary run matches the reference" matches_reference "$work/y7.npy"

# A binary for another problem (stride 1 instead of 2) is refused.
TCONV_CACHE_DIR=off TCONV_OPENCL_BINARY="$work/plan.bin" TCONV_VERBOSE=0 "$tconv" run \
    --input "$work/x.npy" --kernel "$work/w.npy" --output "$work/y8.npy" --strides 1 \
    --device opencl:0 2> "$work/y8.err"
rc=$?
check "mismatched binary exits 3" test "$rc" -eq 3
check "mismatched binary is explained" grep -q "TCONV_OPENCL_BINARY" "$work/y8.err"
check "no output after a refused binary" test ! -e "$work/y8.npy"
TCONV_CACHE_DIR=off TCONV_OPENCL_BINARY="$work/missing.bin" run "$work/y9.npy"
rc=$?
check "missing binary exits 3" test "$rc" -eq 3
check "no output after a missing binary" test ! -e "$work/y9.npy"

echo "$passes passed, $fails failed"
test "$fails" -eq 0

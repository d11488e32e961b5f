#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Damaged caches and full or read-only disks, through `tconv run --device
# auto` measuring cpu:0 against opencl:0 (so that one run reads and writes
# both the selection cache, selection-v2.tsv, and the OpenCL program cache):
#  - selection-v2.tsv cut inside a line, one 8 MiB line without a newline,
#    NUL bytes, binary garbage: ignored, the run right, the file rewritten
#    with well-formed lines only;
#  - a program cache entry replaced by garbage of its size, an empty file, a
#    directory or a FIFO: rebuilt (--device opencl:0), the run right,
#    nothing blocks;
#  - TCONV_CACHE_DIR a regular file, on a read-only file system, on a full
#    file system: the run right (exit 0), the file system as it was (no
#    temporary file left);
#  - the output on a full file system: exit 3 naming the full disk, no
#    temporary file left, the existing output untouched; --output /dev/full
#    (ENOSPC on write through a device): exit 3; a file system out of inodes
#    with bytes free (the temporary file cannot be created): exit 3.
# The full and read-only file systems are small tmpfs mounts in a private
# mount namespace (the script runs itself under `unshare -rm`); where that is
# not allowed, the test cannot run (cannot_run: skipped, a failure under CI).
# Usage: test_cache_faults.sh <tconv> <npy_random> <npy_reference_check> <cannot_run>
set -u
tconv="$1" npy_random="$2" reference_check="$3" cannot_run="$4"

if [ -z "${TCONV_CACHE_FAULTS_NAMESPACE:-}" ]; then
    if ! unshare -rm --propagation private true 2> /dev/null; then
        "$cannot_run" "no private mount namespace (unshare -rm) for the tmpfs mounts"; exit $?
    fi
    TCONV_CACHE_FAULTS_NAMESPACE=1 exec unshare -rm --propagation private bash "$0" "$@"
fi

if ! "$tconv" devices | grep -q '^  opencl:0'; then
    "$cannot_run" "no OpenCL platform (no opencl:0)"; exit $?
fi

work="$(mktemp -d)"
trap 'umount "$work"/mnt-* 2> /dev/null; rm -rf "$work"' EXIT
fails=0 passes=0
check() { # check <description> <command...>
    local what="$1"; shift
    if "$@"; then echo "ok: $what"; passes=$((passes + 1)); else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

"$npy_random" "$work/x.npy" 1,4,5,6,3 21 && "$npy_random" "$work/w.npy" 3,3,3,2,3 22 || exit 1
# auto measures even this small problem; TCONV_VERBOSE=2 says where programs came from.
export TCONV_SELECT_MIN_MS=0
log() { echo "$work/$(basename "$1").log"; }
run() { # [device=D] run <output> [args...]; exit code; stderr in $(log <output>); 60 s at most
    local out="$1"; shift
    TCONV_VERBOSE=2 timeout 60 "$tconv" run --input "$work/x.npy" --kernel "$work/w.npy" \
        --output "$out" --strides 2 --padding same --device "${device:-auto}" "$@" 2> "$(log "$out")"
}
right() { # right <output>: matches the float64 reference
    "$reference_check" "$1" "$work/x.npy" "$work/w.npy" - --strides 2 --padding same > /dev/null
}
well_formed() { # well_formed <selection file>: lines of six tab-separated fields, nothing else
    [ -s "$1" ] && ! LC_ALL=C grep -qav $'^[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*$' "$1" &&
        [ "$(wc -c < "$1")" -lt 65536 ]
}
listing() { (cd "$1" && find . -print | LC_ALL=C sort); }

# ---- A good cache first ----
cache="$work/cache"
export TCONV_CACHE_DIR="$cache"
run "$work/y0.npy"; check "first run succeeds" test $? -eq 0
check "first run right" right "$work/y0.npy"
selection="$cache/selection-v2.tsv"
check "selection cache written" well_formed "$selection"
entry=$(ls "$cache"/opencl-*.bin 2> /dev/null | head -n 1)
check "program cache entry written" test -n "$entry" -a -s "$entry"

# ---- Damaged selection cache ----
good_line=$(head -n 1 "$selection")
damage_selection() { # damage_selection <name> <command writing the damaged file>
    local name="$1"; shift
    "$@" > "$selection"
    run "$work/y-$name.npy"; check "selection cache $name: run succeeds" test $? -eq 0
    check "selection cache $name: run right" right "$work/y-$name.npy"
    check "selection cache $name: rewritten well-formed" well_formed "$selection"
}
damage_selection "cut inside a line" printf '%s' "${good_line:0:$((${#good_line} / 2))}"
damage_selection "one 8 MiB line" bash -c "head -c 8388608 /dev/zero | tr '\\0' x"
damage_selection "NUL bytes" printf 'a\0b\t\0\t\0\t\0\t\0\t\0\n%s\n' "${good_line:0:20}"
damage_selection "binary garbage" head -c 4096 /dev/urandom

# ---- Damaged program cache entry ----
damage_entry() { # damage_entry <name> <command making the damaged entry at $entry>
    local name="$1"; shift
    rm -rf "$entry"
    "$@"
    device=opencl:0 run "$work/p-$name.npy"; local rc=$?
    check "program entry $name: run succeeds (exit $rc; 124: it blocked)" test $rc -eq 0
    check "program entry $name: run right" right "$work/p-$name.npy"
    check "program entry $name: rebuilt from source" grep -q "program built from source" \
        "$(log "$work/p-$name.npy")"
}
size=$(stat -c %s "$entry")
damage_entry "garbage of its size" bash -c "head -c $size /dev/urandom > '$entry'"
damage_entry "empty" touch "$entry"
damage_entry "a directory" mkdir "$entry"
damage_entry "a FIFO" mkfifo "$entry"
rm -rf "$entry"

# ---- The cache directory is a regular file ----
echo "not a directory" > "$work/cache-file"
TCONV_CACHE_DIR="$work/cache-file" run "$work/f.npy"
check "cache directory a regular file: run succeeds" test $? -eq 0
check "cache directory a regular file: run right" right "$work/f.npy"
check "cache directory a regular file: left as it was" \
    test "$(cat "$work/cache-file")" = "not a directory"

# ---- Read-only and full file systems (tmpfs) ----
mount_tmpfs() { # mount_tmpfs <name> <size>: prints the mount point
    mkdir -p "$work/mnt-$1" && mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$work/mnt-$1" &&
        echo "$work/mnt-$1"
}
fill() { # fill <dir>: until no byte is left
    head -c 64M /dev/zero > "$1/filler" 2> /dev/null
    return 0
}

ro=$(mount_tmpfs ro 4m) || exit 1
cp -a "$cache" "$ro/cache"
mount -o remount,ro "$ro"
before=$(listing "$ro")
TCONV_CACHE_DIR="$ro/cache" run "$work/r.npy"
check "read-only cache: run succeeds" test $? -eq 0
check "read-only cache: run right" right "$work/r.npy"
check "read-only cache: file system as it was" test "$before" = "$(listing "$ro")"

full=$(mount_tmpfs full 1m) || exit 1
mkdir "$full/cache"
fill "$full"
before=$(listing "$full")
TCONV_CACHE_DIR="$full/cache" run "$work/full-cache.npy"
check "full cache disk: run succeeds" test $? -eq 0
check "full cache disk: run right" right "$work/full-cache.npy"
# A lock file (empty: no space needed) may stay, as it does on any disk.
check "full cache disk: no file left but the lock" test "$before" = \
    "$(listing "$full" | grep -v '^./cache/selection-v2.tsv.lock$')"

out=$(mount_tmpfs out 1m) || exit 1
printf 'the old output\n' > "$out/y.npy"
fill "$out"
run "$out/y.npy"; rc=$?
check "full output disk: exit 3 (got $rc)" test $rc -eq 3
check "full output disk: says no space" grep -q "No space left on device" "$(log "$out/y.npy")"
check "full output disk: no temporary file left" test -z "$(ls -A "$out" | grep -v '^filler$\|^y.npy$')"
check "full output disk: old output untouched" test "$(cat "$out/y.npy")" = "the old output"

run /dev/full; rc=$?
check "--output /dev/full: exit 3 (got $rc)" test $rc -eq 3

# Out of inodes, not of bytes: the temporary file cannot be created (ENOSPC
# from open), which once exited 2 as if the name were wrong.
inodes="$work/mnt-inodes"
mkdir -p "$inodes" && mount -t tmpfs -o size=4m,nr_inodes=16,mode=0755 tmpfs "$inodes" || exit 1
printf 'the old output\n' > "$inodes/y.npy"
i=0
while touch "$inodes/f$i" 2> /dev/null; do i=$((i + 1)); done
check "no inode left: the mount is out of inodes with bytes free" test "$(df --output=avail -k "$inodes" | tail -1)" -gt 1000
run "$inodes/y.npy"; rc=$?
check "no inode left: exit 3 (got $rc)" test $rc -eq 3
check "no inode left: says no space" grep -q "No space left on device" "$(log "$inodes/y.npy")"
check "no inode left: old output untouched" test "$(cat "$inodes/y.npy")" = "the old output"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tconv-bench's oneDNN timer (bench/onednn_timer.c) against both C APIs it
# speaks, with neither installed system-wide: Debian's oneDNN 2.x
# (apt-get download libdnnl-dev libdnnl2, unpacked) and oneDNN 3.x from PyPI
# (pip download onednn-devel-cpu-gomp and onednn-cpu-gomp, unpacked). For
# each: a tree configured with TCONV_WITH_ONEDNN=ON pointed at it must say
# it compares with that major, build tconv-bench without a warning in
# bench/, time oneDNN in every pass of one layer (one round: a check, not a
# measurement), and leave the `tconv` command without libdnnl.
# Not part of scripts/test.sh (it downloads, and CI has no oneDNN): run it
# after changing bench/onednn_timer.c or bench/CMakeLists.txt.
# Usage: scripts/check-onednn.sh [work dir]   (default: a temporary directory)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-}"
if [ -z "$work" ]; then
    work="$(mktemp -d /tmp/tconv_check_onednn.XXXXXX)"
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
onednn3_pypi=2023.2.0 # oneDNN 3.2 (the PyPI packages are numbered by oneAPI release)
fails=0 checks=0
check() { # check <description> <command...>
    local what="$1"
    shift
    checks=$((checks + 1))
    if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

echo "== oneDNN 2.x: Debian's libdnnl-dev, unpacked in $work/onednn2"
mkdir -p "$work/onednn2/debs"
(cd "$work/onednn2/debs" && apt-get download libdnnl-dev libdnnl2 > /dev/null)
for deb in "$work/onednn2/debs"/*.deb; do dpkg -x "$deb" "$work/onednn2/root"; done

echo "== oneDNN 3.x: PyPI's onednn-*-cpu-gomp $onednn3_pypi, unpacked in $work/onednn3"
python3 -m pip download --quiet --no-deps -d "$work/onednn3/wheels" \
    "onednn-devel-cpu-gomp==$onednn3_pypi" "onednn-cpu-gomp==$onednn3_pypi"
for wheel in "$work/onednn3/wheels"/*.whl; do
    python3 -m zipfile -e "$wheel" "$work/onednn3/root"
done

# links <binary> <library dir> <regex>: whether ldd lists a match (grep
# reads all of ldd's output: grep -q could end the pipe early, a failure
# under pipefail).
links() {
    LD_LIBRARY_PATH="$2" ldd "$1" | grep -c -- "$3" > /dev/null
}
# try_onednn <major> <unpacked root>
try_onednn() {
    local major="$1" root="$2" header include lib build
    header="$(find "$root" -path '*/oneapi/dnnl/dnnl.h' | head -n 1)"
    include="${header%/oneapi/dnnl/dnnl.h}"
    lib="$(find "$root" -name libdnnl.so | head -n 1)"
    build="$work/build$major"
    echo "== oneDNN $major.x: $include, $lib"
    cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTCONV_BUILD_TESTS=OFF \
        -DTCONV_WITH_OPENCL=OFF -DTCONV_INSTALL_CONFORMANCE=OFF -DTCONV_WITH_ONEDNN=ON \
        -DDNNL_INCLUDE="$include" -DDNNL_LIB="$lib" > "$build.configure.log" 2>&1 ||
        { cat "$build.configure.log"; check "oneDNN $major.x: configure" false; return; }
    check "oneDNN $major.x: configure compares with it" \
        grep -q "comparing with oneDNN $major.x" "$build.configure.log"
    cmake --build "$build" -j "$(nproc)" --target tconv_bench tconv_cli tconv_backend_cpu \
        > "$build.build.log" 2>&1 ||
        { tail -n 30 "$build.build.log"; check "oneDNN $major.x: build" false; return; }
    check "oneDNN $major.x: no warning in bench/" eval "! grep -A3 'bench/.*warning:' '$build.build.log'"
    local out="$build.json" rc=0
    LD_LIBRARY_PATH="$(dirname "$lib")" "$build/bin/tconv-bench" --layers dilated_k3d2 \
        --device cpu:0 --repeat 1 --warmup 0 --pass all --json > "$out" 2> "$build.run.log" ||
        rc=$?
    check "oneDNN $major.x: tconv-bench exits 0" test "$rc" -eq 0
    check "oneDNN $major.x: the run names oneDNN $major" grep -q "\"onednn\":\"oneDNN $major\\." "$out"
    check "oneDNN $major.x: oneDNN timed in each of the 4 passes" \
        test "$(grep -o '"onednn":{"median_ms":[0-9.e+-]*' "$out" | grep -cv ':0$')" -eq 4
    check "oneDNN $major.x: tconv-bench links libdnnl.so.$major" \
        links "$build/bin/tconv-bench" "$(dirname "$lib")" "libdnnl\.so\.$major "
    check "oneDNN $major.x: tconv does not link oneDNN" \
        eval "! links '$build/bin/tconv' '$(dirname "$lib")' libdnnl"
}
try_onednn 2 "$work/onednn2/root"
try_onednn 3 "$work/onednn3/root"

echo "$((checks - fails)) passed, $fails failed"
test "$fails" -eq 0

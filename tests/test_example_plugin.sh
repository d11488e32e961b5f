#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The out-of-tree plugin workflow a vendor follows (plugins/example/README.md):
#   1. install tconv (headers, libtconv, CMake package) into a prefix;
#   2. configure and build plugins/example against it with find_package(tconv);
#   3. load the built plugin with TCONV_PLUGINS into the installed `tconv`;
#   4. `tconv run --device example` must match the float64 reference
#      (npy_reference_check, in float64 and float32), not another device;
#   5. the random forward and backward suites pass on the example device;
#   6. the packages describe the prefix they were installed to (not the
#      configure-time one): the example plugin installs into the prefix's
#      plugin directory, where the installed tconv finds it, and a program
#      built with `pkg-config --cflags --libs tconv` runs;
#   7. a program built with find_package(tconv <major>.<minor>) runs, and
#      while the major is 0 the package refuses the neighbouring minors
#      (CHANGELOG.md, "Versioning": SameMinorVersion);
#   8. the prefix moved elsewhere after the install: its tconv loads its own
#      plugins from there, and tconv.pc describes the new place.
# The conformance kit (`tconv conformance`) on the installed example plugin
# is tests/conformance/test_conformance_kit.sh.
# Usage: test_example_plugin.sh <tconv build dir> <source dir> <tests bin dir>
#   (the tests bin dir holds npy_random, npy_reference_check,
#   test_forward_random and test_backward_random)
set -euo pipefail
build="$1" source="$2" bin="$3"
npy_random="$bin/npy_random" reference_check="$bin/npy_reference_check"
forward_random="$bin/test_forward_random" backward_random="$bin/test_backward_random"
tmp="$(mktemp -d /tmp/tconv_example_plugin.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
unset TCONV_DEVICE TCONV_PLUGINS TCONV_PLUGIN_PATH TCONV_VERBOSE TCONV_CPU_ISA

step() { printf '== %s\n' "$*"; }

step "install tconv into $tmp/prefix"
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
test -x "$tmp/prefix/bin/tconv"
test -f "$tmp/prefix/include/tconv/tconv_backend.h"
test -f "$tmp/prefix/include/tconv/tconv_version.h"
test -f "$tmp/prefix/share/man/man1/tconv.1"
# The benchmark harness only with TCONV_INSTALL_BENCH=ON (off by default).
if [ -e "$tmp/prefix/bin/tconv-bench" ]; then
    echo "FAILED: tconv-bench is installed by default" >&2
    exit 1
fi
# 0.x: the SONAME carries the minor (CHANGELOG.md, "Versioning").
soname="$(readelf -d "$tmp/prefix/lib/libtconv.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
version_line="$(grep -E '^#define TCONV_VERSION_(MAJOR|MINOR) ' "$tmp/prefix/include/tconv/tconv_version.h")"
major="$(awk '/MAJOR/ {print $3}' <<< "$version_line")" minor="$(awk '/MINOR/ {print $3}' <<< "$version_line")"
if [ "$major" = 0 ] && [ "$soname" != "libtconv.so.0.$minor" ]; then
    echo "FAILED: SONAME '$soname', want libtconv.so.0.$minor while the major is 0" >&2
    exit 1
fi

step "configure and build plugins/example against the installed package"
cmake -S "$source/plugins/example" -B "$tmp/example-build" \
      -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/configure.log"
cmake --build "$tmp/example-build" > "$tmp/build.log"
plugin="$tmp/example-build/tconv_backend_example.so"
test -f "$plugin"
# Only the entry symbol is exported.
exported="$(nm -D --defined-only "$plugin" | awk '$2 == "T" {print $3}')"
if [ "$exported" != "tconv_backend_entry" ]; then
    echo "FAILED: the plugin exports: $exported" >&2
    exit 1
fi

step "the installed tconv lists the example device"
devices="$(TCONV_PLUGINS="$plugin" "$tmp/prefix/bin/tconv" devices)"
echo "$devices"
grep -q 'example:0' <<< "$devices" || { echo "FAILED: example:0 not listed" >&2; exit 1; }
grep -q 'cpu:0' <<< "$devices" || { echo "FAILED: cpu:0 not listed by the installed tconv" >&2; exit 1; }

step "tconv run --device example vs the reference"
"$npy_random" "$tmp/x.npy" 2,5,6,3 1   # (N, H, W, C) channels_last, 2-D
"$npy_random" "$tmp/w.npy" 3,3,4,3 2   # keras (kh, kw, Cout, Cin)
"$npy_random" "$tmp/b.npy" 4 3
layer=(--strides 2 --padding same --output-padding 1 --activation gelu)
for dtype in float64 float32; do
    TCONV_PLUGINS="$plugin" "$tmp/prefix/bin/tconv" run --input "$tmp/x.npy" \
        --kernel "$tmp/w.npy" --bias "$tmp/b.npy" "${layer[@]}" --dtype "$dtype" \
        --device example --output "$tmp/y_example.npy"
    "$reference_check" "$tmp/y_example.npy" "$tmp/x.npy" "$tmp/w.npy" "$tmp/b.npy" "${layer[@]}" \
        --dtype "$dtype"
done

step "the random forward suite on the example device"
"$forward_random" --backend example --plugin "$plugin" --cases 150

step "the random backward suite on the example device (ABI 1.1 slots)"
"$backward_random" --backend example --plugin "$plugin" --cases 150
step "the relocated CMake package: TCONV_PLUGIN_DIR is in $tmp/prefix"
cmake --install "$tmp/example-build" > "$tmp/example-install.log"
installed_plugin="$(find "$tmp/prefix" -name tconv_backend_example.so)"
case "$installed_plugin" in
"$tmp/prefix/"*/tconv/tconv_backend_example.so) ;;
*)
    echo "FAILED: the example plugin was installed at '$installed_plugin', not in $tmp/prefix" >&2
    cat "$tmp/example-install.log" >&2
    exit 1
    ;;
esac
devices="$("$tmp/prefix/bin/tconv" devices)"
grep -q 'example:0' <<< "$devices" ||
    { echo "FAILED: the installed tconv does not find the installed example plugin" >&2; exit 1; }

step "a program built with pkg-config --cflags --libs tconv"
command -v pkg-config > /dev/null || { echo "FAILED: pkg-config not found" >&2; exit 1; }
pcdir="$(dirname "$(find "$tmp/prefix" -name tconv.pc)")"
export PKG_CONFIG_PATH="$pcdir"
version="$(pkg-config --modversion tconv)"
libdir="$(pkg-config --variable=libdir tconv)"
case "$(realpath "$libdir")" in
"$(realpath "$tmp/prefix")"/*) ;;
*) echo "FAILED: tconv.pc says libdir=$libdir, outside $tmp/prefix" >&2; exit 1 ;;
esac
# shellcheck disable=SC2046 # the flags are words
cc -o "$tmp/consumer" "$source/tests/install_consumer.c" $(pkg-config --cflags --libs tconv) \
    -Wl,-rpath,"$libdir"
consumer_out="$("$tmp/consumer")"
echo "$consumer_out"
grep -q "^tconv $version, " <<< "$consumer_out" ||
    { echo "FAILED: the consumer does not run tconv $version" >&2; exit 1; }
grep -q 'example:0' <<< "$consumer_out" ||
    { echo "FAILED: the consumer does not find the installed plugins" >&2; exit 1; }

step "a program built with find_package(tconv $major.$minor)"
fail() { echo "FAILED: $*" >&2; exit 1; }
# configure_consumer <version asked for> <build dir>: log in <build dir>.log
configure_consumer() {
    cmake -S "$source/tests/install_consumer" -B "$2" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
          -DTCONV_WANT_VERSION="$1" > "$2.log" 2>&1
}
configure_consumer "$major.$minor" "$tmp/cmake-consumer" ||
    { cat "$tmp/cmake-consumer.log" >&2; fail "find_package(tconv $major.$minor)"; }
cmake --build "$tmp/cmake-consumer" > "$tmp/cmake-consumer-build.log"
consumer_out="$("$tmp/cmake-consumer/install_consumer")"
echo "$consumer_out"
grep -q "^tconv $version, .*example:0" <<< "$consumer_out" ||
    fail "the find_package consumer does not run tconv $version and its plugins"
if [ "$major" = 0 ]; then
    others=("0.$((minor + 1))")
    [ "$minor" -gt 0 ] && others+=("0.$((minor - 1))")
    for other in "${others[@]}"; do
        log="$tmp/cmake-consumer-$other.log"
        ! configure_consumer "$other" "$tmp/cmake-consumer-$other" ||
            fail "find_package(tconv $other) accepted tconv $version (0.x: its own minor only)"
        grep -q "tconvConfig.cmake, version: $version" "$log" ||
            { cat "$log" >&2; fail "find_package(tconv $other) failed otherwise"; }
        echo "find_package(tconv $other): refused, as 0.x wants"
    done
fi

step "the prefix moved after the install"
mv "$tmp/prefix" "$tmp/moved"
json="$("$tmp/moved/bin/tconv" devices --json)"
grep -q "\"path\":\"$tmp/moved/[^\"]*/tconv/tconv_backend_example.so\"" <<< "$json" ||
    fail "the moved tconv does not load the example plugin from $tmp/moved: $json"
grep -q "\"path\":\"$tmp/prefix" <<< "$json" && fail "the moved tconv loads from $tmp/prefix: $json"
export PKG_CONFIG_PATH="${pcdir/#$tmp\/prefix/$tmp/moved}"
[ "$(realpath "$(pkg-config --variable=plugindir tconv)")" = \
  "$(dirname "$(find "$tmp/moved" -name tconv_backend_example.so)")" ] ||
    fail "the moved tconv.pc says plugindir=$(pkg-config --variable=plugindir tconv)"

echo "PASSED"

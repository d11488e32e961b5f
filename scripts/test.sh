#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds tconv and runs the whole test suite (what CI runs):
#   c          build + ctest (the C library, plugins, CLI, conformance)
#   sanitizers a Debug ASan+UBSan tree of the fast tests (scripts/test-sanitizers.sh)
#   python     the Python package: venv, pip install ./python, pytest (scripts/test-python.sh)
# TCONV_TEST_PARTS picks parts (comma list; default all three:
# c,sanitizers,python), e.g. TCONV_TEST_PARTS=c scripts/test.sh.
# Usage: scripts/test.sh [build-dir]   (default: build)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
parts=",${TCONV_TEST_PARTS:-c,sanitizers,python},"

start=$SECONDS
if [[ "$parts" == *,c,* ]]; then
    "$here/scripts/build.sh" "$build"
    ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
    echo "test.sh: C tests done after $((SECONDS - start)) s"
fi
if [[ "$parts" == *,sanitizers,* && -f "$here/scripts/test-sanitizers.sh" ]]; then
    bash "$here/scripts/test-sanitizers.sh" "$build"
    echo "test.sh: sanitizer job done after $((SECONDS - start)) s"
fi
if [[ "$parts" == *,python,* ]]; then
    bash "$here/scripts/test-python.sh"
    echo "test.sh: Python tests done after $((SECONDS - start)) s"
fi

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds tconv and runs the whole test suite (what CI runs).
# Usage: scripts/test.sh [build-dir]   (default: build)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"

"$here/scripts/build.sh" "$build"
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"

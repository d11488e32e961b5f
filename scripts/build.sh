#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the dependencies (if missing) and builds tconv into a build directory.
# Usage: scripts/build.sh [build-dir]   (default: build)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"

"$here/scripts/install-deps.sh"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$(nproc)"

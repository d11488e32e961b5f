#!/usr/bin/env bash
# Installs the dependencies, builds tconv and runs `tconv demo`.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"

"$here/scripts/install-deps.sh"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$(nproc)"
"$build/bin/tconv" demo

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the dependencies, builds tconv and runs `tconv demo`.
# Usage: scripts/demo.sh [build-dir]   (default: build)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"

"$here/scripts/build.sh" "$build"
"$build/bin/tconv" demo

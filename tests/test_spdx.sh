#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every source file of the repository (C, headers, OpenCL C, CMake, shell,
# Python, templates, scripts with a #! line; not the conformance data)
# names its license, "SPDX-License-Identifier: Apache-2.0", in its first
# five lines, so that it stays true of each file copied out of tconv.
# Files listed in tests/spdx_pending.txt are reported but not failed: they
# had work in progress when the identifiers were added, and get theirs next.
# Usage: test_spdx.sh <source dir>
set -u
source="$1"
cd "$source" || exit 1
tag='SPDX-License-Identifier: Apache-2.0'
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    list="$(git ls-files)"
else # a source archive: every file
    list="$(find . -type f ! -path './.git/*' | sed 's|^\./||')"
fi
pending="$(grep -v '^#' tests/spdx_pending.txt 2> /dev/null)"
checked=0 missing=0 deferred=0
while IFS= read -r f; do
    [ -f "$f" ] || continue
    case "$f" in
    tests/conformance/data/*) continue ;;
    *.c | *.h | *.cl | *.py | *.sh | *.cmake | *.in | CMakeLists.txt | */CMakeLists.txt) ;;
    *) [ "$(head -c 2 "$f")" = '#!' ] || continue ;;
    esac
    checked=$((checked + 1))
    head -n 5 "$f" | grep -qF "$tag" && continue
    if grep -qxF "$f" <<< "$pending"; then
        echo "pending: $f"
        deferred=$((deferred + 1))
    else
        echo "FAIL: $f has no '$tag' in its first 5 lines"
        missing=$((missing + 1))
    fi
done <<< "$list"
echo "$checked source files, $deferred pending (tests/spdx_pending.txt)"
echo "$((checked - missing - deferred)) passed, $missing failed"
[ "$checked" -gt 0 ] && [ "$missing" -eq 0 ]

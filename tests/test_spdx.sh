#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every source file of the repository (C, headers, OpenCL C, CMake, shell,
# Python, templates, scripts with a #! line; not the conformance data)
# names its license, "SPDX-License-Identifier: Apache-2.0", in its first
# five lines, so that it stays true of each file copied out of tconv.
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
checked=0 missing=0
while IFS= read -r f; do
    [ -f "$f" ] || continue
    case "$f" in
    tests/conformance/data/*) continue ;;
    *.c | *.h | *.cl | *.py | *.sh | *.cmake | *.in | CMakeLists.txt | */CMakeLists.txt) ;;
    *) [ "$(head -c 2 "$f")" = '#!' ] || continue ;;
    esac
    checked=$((checked + 1))
    head -n 5 "$f" | grep -qF "$tag" && continue
    echo "FAIL: $f has no '$tag' in its first 5 lines"
    missing=$((missing + 1))
done <<< "$list"
echo "$((checked - missing)) passed, $missing failed of $checked source files"
[ "$checked" -gt 0 ] && [ "$missing" -eq 0 ]

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# No binary or library of the build has an empty or relative RUNPATH/RPATH
# entry: the dynamic loader reads an empty entry as the current directory,
# so `tconv` run from an untrusted directory could load its libraries from
# there. Only absolute paths and $ORIGIN-based ones are allowed.
# Usage: test_runpath.sh BUILD_DIR
set -euo pipefail
build="$1"
command -v readelf >/dev/null || { echo "readelf not found (binutils)"; exit 1; }
checked=0
bad=0
while IFS= read -r -d '' f; do
    head -c 4 "$f" 2>/dev/null | grep -q $'\x7fELF' || continue
    checked=$((checked + 1))
    paths=$(readelf -d "$f" 2>/dev/null | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p')
    [ -z "$paths" ] && continue
    IFS=':' read -r -a entries <<<"$paths:"
    # "a:" splits into "a" only; a trailing or doubled ':' shows as an empty entry below.
    if [[ "$paths" == :* || "$paths" == *: || "$paths" == *::* ]]; then
        echo "FAIL: $f: RUNPATH '$paths' has an empty entry (the current directory)"
        bad=$((bad + 1))
        continue
    fi
    for e in "${entries[@]}"; do
        case "$e" in
        /* | '$ORIGIN'*) ;;
        *) echo "FAIL: $f: RUNPATH entry '$e' is relative"; bad=$((bad + 1)) ;;
        esac
    done
done < <(find "$build/bin" "$build/lib" "$build/tests" -maxdepth 2 -type f -print0)
echo "checked $checked ELF files, $bad bad"
[ "$checked" -gt 0 ] || { echo "FAIL: no ELF file found under $build"; exit 1; }
[ "$bad" -eq 0 ]

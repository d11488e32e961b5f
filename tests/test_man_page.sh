#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tconv(1) as built: a section per command `tconv help` lists, each holding
# that command's --help text (the page is written from them, so the two
# cannot drift), and groff reads it without a warning.
# Usage: test_man_page.sh <path to tconv> <path to tconv.1>
set -u
tconv="$1" page="$2"
fails=0 checks=0
check() { # check <description> <command...>
    local what="$1"; shift
    checks=$((checks + 1))
    if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
check "the page exists" test -s "$page"
check "the page names the version" grep -q "\"tconv $("$tconv" --version | awk '{print $2}')\"" "$page"
for command in $("$tconv" help | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}'); do
    [ "$command" = help ] && continue
    check "section $command" grep -q "^\.SS $command\$" "$page"
    first="$("$tconv" "$command" --help | head -n 1)"
    check "$command: its --help text" grep -qF -- "$first" "$page"
done
if command -v groff > /dev/null; then
    warnings="$(groff -man -ww -z "$page" 2>&1)"
    check "groff reads it without warnings${warnings:+: $warnings}" test -z "$warnings"
fi
echo "$((checks - fails)) passed, $fails failed"
test "$fails" -eq 0

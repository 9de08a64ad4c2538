#!/bin/sh
# Records crash 8.0.2's output for every line of commands.txt into NAME.txt: one
# crash session per dump (`LC_ALL=C crash -s VMLINUX DUMP`), the commands on
# standard input in file order separated by `!echo` markers, the output between
# two markers written to the command's file (crash's start-up warning comes
# before the first marker). The sessions keep gdb's value history, so `$N`
# numbers run on through a dump's lines, as they do when coroner's test runs the
# same lines in one session.
# Usage: record.sh [FIXTURES_DIR] (default ../shared/fixtures beside the
# repository); VMLINUX defaults to the fixture kernel's, unpacked by the tests
# into target/fixture-cache.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
fixtures=${1:-$here/../../../../../../shared/fixtures}
vmlinux=${VMLINUX:-$here/../../../../../target/fixture-cache/fp-nobtf/vmlinux-6.1.192-coroner-fp}
grep -v '^#' "$here/commands.txt" | awk '{print $2 "/" $3}' | awk '!seen[$0]++' | while read -r dump; do
    grep -v '^#' "$here/commands.txt" | awk -v d="$dump" '$2 "/" $3 == d' > /tmp/crash-record.$$
    {
        while read -r name fixture file command; do
            echo '!echo ==COMMAND=='
            echo "$command"
        done < /tmp/crash-record.$$
        echo '!echo ==COMMAND=='
        echo q
    } | LC_ALL=C crash -s "$vmlinux" "$fixtures/$dump" > /tmp/crash-record.$$.out 2>&1
    awk -v dir="$here" '
        NR == FNR { names[++n] = $1; next }
        /^==COMMAND==$/ { i++; if (i <= n) { out = dir "/" names[i] ".txt"; printf "" > out }; next }
        i >= 1 && i <= n { print >> out }
    ' /tmp/crash-record.$$ /tmp/crash-record.$$.out
    rm -f /tmp/crash-record.$$ /tmp/crash-record.$$.out
done

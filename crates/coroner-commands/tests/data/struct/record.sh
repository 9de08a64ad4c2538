#!/bin/sh
# Records crash 8.0.2's output for every line of commands.txt and
# commands-modules.txt into NAME.txt: one crash session per dump and file, the
# commands separated by `!echo` markers, in the C locale (in a UTF-8 one gdb
# prints valid UTF-8 byte sequences raw instead of as octal escapes). Sessions of
# commands-modules.txt first load the modules' debuginfo (`mod -S`); those of
# commands.txt do not, since gdb then names some addresses by the modules' ELF
# aliases (`cleanup_module`) instead of kallsyms' names.
# Usage: record.sh [FIXTURES_DIR] (default ../shared/fixtures beside the repository).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
fixtures=${1:-$here/../../../../../../shared/fixtures}
cache=$HOME/.cache/coroner-fixtures/k-6.1.0-56-amd64
vmlinux=${VMLINUX:-$cache/dbg/usr/lib/debug/boot/vmlinux-6.1.0-56-amd64}
modules=${MODULES:-$cache/dbg/usr/lib/debug/lib/modules/6.1.0-56-amd64}
# record COMMANDS_FILE SETUP_COMMAND: SETUP_COMMAND's output comes before the
# first marker and is not recorded.
record() {
    grep -v '^#' "$here/$1" | awk '{print $2 "/" $3}' | sort -u | while read -r dump; do
        grep -v '^#' "$here/$1" | awk -v d="$dump" '$2 "/" $3 == d' > /tmp/struct-record.$$
        {
            echo "$2"
            while read -r name fixture file command; do
                echo '!echo ==COMMAND=='
                echo "$command"
            done < /tmp/struct-record.$$
            echo '!echo ==COMMAND=='
            echo q
        } | LC_ALL=C crash -s "$vmlinux" "$fixtures/$dump" > /tmp/struct-record.$$.out 2>&1
        awk -v dir="$here" '
            NR == FNR { names[++n] = $1; next }
            /^==COMMAND==$/ { i++; if (i <= n) { out = dir "/" names[i] ".txt"; printf "" > out }; next }
            i >= 1 && i <= n { print >> out }
        ' /tmp/struct-record.$$ /tmp/struct-record.$$.out
        rm -f /tmp/struct-record.$$ /tmp/struct-record.$$.out
    done
}
record commands.txt '!true'
record commands-modules.txt "mod -S $modules"

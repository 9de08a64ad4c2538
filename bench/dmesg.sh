#!/usr/bin/env bash
# `coroner dmesg` beside `makedumpfile --dump-dmesg` on the same files in one
# hyperfine run: every container format of the sysrq crash, and 64 GiB synthetic
# dumps holding the same kernel (its pages at the same addresses). coroner reads only
# the pages the log needs, so the 64 GiB dumps take the same few milliseconds.
# Needs: hyperfine, makedumpfile (apt-get install hyperfine makedumpfile), python3,
# ../shared/fixtures. Where makedumpfile cannot read the file coroner reads, it gets
# the nearest equivalent: the `-R` reassembly of a flattened dump, and the factory's
# elf-phfix.py copy of QEMU 7.2's ELF (same memory, program headers where it expects
# them). Debian's makedumpfile has no snappy or zstd: set MDF_FULL to one built with
# USESNAPPY=on USEZSTD=on to time those two (else they are skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
FIX=../shared/fixtures
OUT=target/bench
mkdir -p "$OUT"
cargo build -q --release -p coroner-cli
cargo test -q -p coroner-kernel --test translate >/dev/null   # unpacks and derives the variants
cargo run -q --release -p coroner-dump --example make_large_dump -- "$FIX/sysrq/vmcore.mdf-d31-zstd" "$OUT" 64 >/dev/null
CACHE=target/fixture-cache/sysrq
[ -e "$CACHE/vmcore.qemu-elf-phfix" ] || python3 "$FIX/factory/elf-phfix.py" "$CACHE/vmcore.qemu-elf" "$CACHE/vmcore.qemu-elf-phfix"
MDF=${MDF_FULL:-makedumpfile}
# name, file for coroner, file for makedumpfile, makedumpfile binary
DUMPS=(
    "kdump-zlib-flat $FIX/sysrq/vmcore.mdf-d31-zlib.flat $CACHE/vmcore.mdf-d31-zlib.flat-R makedumpfile"
    "kdump-lzo $FIX/sysrq/vmcore.mdf-d31-lzo $FIX/sysrq/vmcore.mdf-d31-lzo makedumpfile"
    "kdump-raw $CACHE/vmcore.mdf-d31-nocompress $CACHE/vmcore.mdf-d31-nocompress makedumpfile"
    "elf-filtered $CACHE/vmcore.mdf-d31.elf $CACHE/vmcore.mdf-d31.elf makedumpfile"
    "elf-qemu-512M $CACHE/vmcore.qemu-elf $CACHE/vmcore.qemu-elf-phfix makedumpfile"
    "elf-64G $OUT/synthetic-64g.elf $OUT/synthetic-64g.elf makedumpfile"
    "kdump-64G $OUT/synthetic-64g.kdump $OUT/synthetic-64g.kdump makedumpfile"
)
if [ -n "${MDF_FULL:-}" ]; then
    DUMPS+=("kdump-snappy $FIX/sysrq/vmcore.mdf-d31-snappy $FIX/sysrq/vmcore.mdf-d31-snappy $MDF")
    DUMPS+=("kdump-zstd $FIX/sysrq/vmcore.mdf-d31-zstd $FIX/sysrq/vmcore.mdf-d31-zstd $MDF")
fi
CMDS=()
for entry in "${DUMPS[@]}"; do
    set -- $entry
    rm -f "$OUT/mdf-dmesg-$1.txt"
    CMDS+=(-n "coroner $1" "target/release/coroner dmesg $2")
    CMDS+=(-n "makedumpfile $1" "$4 --dump-dmesg $3 $OUT/mdf-dmesg-$1.txt")
    # Same output, or the comparison is meaningless.
    "$4" --dump-dmesg "$3" "$OUT/mdf-dmesg-$1.txt" >/dev/null 2>&1 || echo "makedumpfile failed on $1" >&2
    target/release/coroner dmesg "$2" | cmp -s - "$OUT/mdf-dmesg-$1.txt" || echo "OUTPUT DIFFERS on $1" >&2
done
# makedumpfile refuses to overwrite its output file: remove it before every run.
hyperfine -N --warmup 3 --runs 20 --prepare "rm -f $(echo $OUT/mdf-dmesg-*.txt)" \
    --export-markdown "$OUT/dmesg.md" "${CMDS[@]}" >/dev/null
cat "$OUT/dmesg.md"
for entry in "${DUMPS[@]}"; do
    set -- $entry
    /usr/bin/time -f "$1: coroner max RSS %M KiB" target/release/coroner dmesg "$2" >/dev/null
done

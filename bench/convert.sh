#!/usr/bin/env bash
# `coroner convert` (to ELF) beside `makedumpfile -E -d 0` on the same 512 MiB guest
# in one hyperfine run: QEMU's ELF of the sysrq crash (makedumpfile gets the
# factory's elf-phfix.py copy, which it can read: same memory). Also timed, with no
# peer (VMware's vmss2core is closed): the VMware files generated from that crash.
# Outputs go to target/bench (about 2 GiB while it runs); page cache warm.
# Needs: hyperfine, makedumpfile (apt-get install hyperfine makedumpfile), python3,
# ../shared/fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
FIX=../shared/fixtures
OUT=target/bench
mkdir -p "$OUT"
cargo build -q --release -p coroner-cli
# Unpacks the QEMU ELF and generates the VMware files.
cargo test -q -p coroner-cli --test convert vmware_files_become >/dev/null
CACHE=target/fixture-cache/sysrq
[ -e "$CACHE/vmcore.qemu-elf-phfix" ] || python3 "$FIX/factory/elf-phfix.py" "$CACHE/vmcore.qemu-elf" "$CACHE/vmcore.qemu-elf-phfix"
hyperfine -N --warmup 1 --runs 5 --prepare "rm -f $OUT/conv-mdf.elf" \
    --export-markdown "$OUT/convert.md" \
    -n "coroner convert qemu-elf-512M" "target/release/coroner convert $CACHE/vmcore.qemu-elf $OUT/conv-coroner.elf" \
    -n "makedumpfile -E -d 0 qemu-elf-512M" "makedumpfile -E -d 0 $CACHE/vmcore.qemu-elf-phfix $OUT/conv-mdf.elf" \
    -n "coroner convert vmss+vmem-512M" "target/release/coroner convert $CACHE/vmware-vmss/sysrq.vmss $OUT/conv-vmss.elf" \
    -n "coroner convert vmsn-holes-513M" "target/release/coroner convert $CACHE/vmware-holes/sysrq.vmsn $OUT/conv-vmsn.elf" \
    >/dev/null
cat "$OUT/convert.md"
/usr/bin/time -f "coroner convert: max RSS %M KiB (the input is memory-mapped: its pages count)" \
    target/release/coroner convert "$CACHE/vmcore.qemu-elf" "$OUT/conv-coroner.elf" >/dev/null
rm -f "$OUT"/conv-*.elf

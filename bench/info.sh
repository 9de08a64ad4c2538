#!/usr/bin/env bash
# `coroner info` on real 512 MiB dumps and synthetic 64 GiB ones, beside the peer that
# reads the same headers (`crash --osrelease`), in one hyperfine run. `info` must take
# the same few milliseconds whatever the dump's size.
# Needs: hyperfine, crash (apt-get install hyperfine crash), ../shared/fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
FIX=../shared/fixtures
cargo build -q --release -p coroner-cli
cargo test -q -p coroner-dump --test fixtures every_variant >/dev/null   # unpacks the QEMU ELF
BIG=target/bench
cargo run -q --release -p coroner-dump --example make_large_dump -- "$FIX/sysrq/vmcore.mdf-d31-zstd" "$BIG" 64 >/dev/null
DUMPS=(
    "$FIX/sysrq/vmcore.mdf-d31-zstd"
    "$FIX/sysrq/vmcore.mdf-d31-zlib.flat"
    target/fixture-cache/sysrq/vmcore.qemu-elf
    "$BIG/synthetic-64g.elf"
    "$BIG/synthetic-64g.kdump"
)
CMDS=()
for d in "${DUMPS[@]}"; do
    CMDS+=("target/release/coroner info $d" "crash --osrelease $d")
done
hyperfine -N --warmup 3 --runs 30 --export-markdown target/bench/info.md "${CMDS[@]}" >/dev/null
cat target/bench/info.md
for d in "${DUMPS[@]}"; do
    /usr/bin/time -f "$(basename "$d"): max RSS %M KiB" target/release/coroner info "$d" >/dev/null
done

#!/usr/bin/env bash
# `coroner bt` (no vmlinux: kallsyms, BTF and ORC read from the dump) beside the two
# tools that need the kernel's 860 MB -dbg package: crash 8.0.2 running `bt`, and drgn
# printing the crashed thread's stack trace. Same dumps, one run; wall time from
# process start to the printed backtrace, and the ratios.
# Needs: hyperfine, crash, python3, and the fixture factory's -dbg vmlinux and drgn
# venv (../shared/fixtures/factory/00-setup-host.sh puts both in ~/.cache/coroner-fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
FIX=../shared/fixtures
CACHE=${OUT:-$HOME/.cache/coroner-fixtures}
VMLINUX=$CACHE/k-6.1.0-56-amd64/dbg/usr/lib/debug/boot/vmlinux-6.1.0-56-amd64
DRGN=$CACHE/venv/bin/drgn
RUNS=${RUNS:-5}
cargo build -q --release -p coroner-cli
B=target/bench
mkdir -p "$B"
printf 'bt\nq\n' > "$B/crash-bt.in"
echo 'print(prog.crashed_thread().stack_trace())' > "$B/drgn-bt.py"
DUMPS=(
    "$FIX/sysrq/vmcore.mdf-d31-lzo"
    "$FIX/kdump-sysrq/vmcore.kdump-mdf-d31-zlib"
    "$FIX/mod-null/vmcore.mdf-d31-zlib"
)
for d in "${DUMPS[@]}"; do
    name=$(basename "$(dirname "$d")")
    hyperfine --warmup 1 --runs "$RUNS" --export-json "$B/bt-$name.json" \
        -n coroner "target/release/coroner bt $d" \
        -n crash "crash -s $VMLINUX $d < $B/crash-bt.in" \
        -n drgn "$DRGN -q -c $d -s $VMLINUX $B/drgn-bt.py" >/dev/null
done
python3 - "$B" "${DUMPS[@]}" <<'PY'
import json, os, sys
out, dumps = sys.argv[1], sys.argv[2:]
print("| dump | coroner bt | crash bt | drgn | crash / coroner | drgn / coroner |")
print("|---|---|---|---|---|---|")
for d in dumps:
    name = os.path.basename(os.path.dirname(d))
    r = {x["command"]: x for x in json.load(open(f"{out}/bt-{name}.json"))["results"]}
    c, k, g = (r[n]["median"] for n in ("coroner", "crash", "drgn"))
    print(f"| {name}/{os.path.basename(d)} | {c*1000:.0f} ms | {k*1000:.0f} ms | {g*1000:.0f} ms | {k/c:.1f}x | {g/c:.1f}x |")
PY

#!/usr/bin/env bash
# coroner beside crash 8.0.2 running the same commands on the same dump: the
# fp-nobtf sysrq fixture (6.1 without BTF), where both read the kernel's types
# from the same DWARF vmlinux (crash always does; coroner with --vmlinux).
#   1. each command alone, a fresh process each (crash -s VMLINUX DUMP < cmd;
#      coroner CMD DUMP --vmlinux VMLINUX): median wall time of RUNS runs;
#   2. the whole command file in one session (crash's stdin; coroner shell -i);
#   3. `foreach bt`: the tasks each tool shows (crash 8.0.2 follows only 3 of
#      this 6.1 kernel's tasks);
#   4. `coroner shell DUMP` in tmux: time from start to the prompt on screen, on
#      the BTF fixtures (nothing opened before the prompt) and this one.
# Needs: crash, tmux, zstd; run from anywhere. Not a test: it prints a table.
set -euo pipefail
cd "$(dirname "$0")/.."
FIX=${FIXTURES:-../shared/fixtures}
DUMP=$FIX/fp-nobtf/sysrq/vmcore.mdf-d31-zlib
VMLINUX=target/fixture-cache/fp-nobtf/vmlinux-6.1.192-coroner-fp
RUNS=${RUNS:-3}
B=target/bench
mkdir -p "$B" "$(dirname "$VMLINUX")"
[ -f "$VMLINUX" ] || zstd -q -d "$FIX/fp-nobtf/kernel/vmlinux-6.1.192-coroner-fp.zst" -o "$VMLINUX"
cargo build -q --release -p coroner-cli --no-default-features --features shell
C=target/release/coroner
CMDS=("sys" "bt -a" "ps" "kmem -i" "kmem -s" "foreach bt" "log -T" "p jiffies" "runq" "list -H modules")

now() { date +%s%N; }
# Median milliseconds of RUNS runs of "$@" (output discarded).
median_ms() {
    local times=()
    for _ in $(seq "$RUNS"); do
        local s e
        s=$(now)
        "$@" >/dev/null 2>&1 || true
        e=$(now)
        times+=($(( (e - s) / 1000000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}
crash_run() { printf '%s\nq\n' "$1" | LC_ALL=C crash -s "$VMLINUX" "$DUMP"; }
coroner_run() { read -r -a words <<<"$1"; "$C" "${words[0]}" "$DUMP" --vmlinux "$VMLINUX" "${words[@]:1}"; }

echo "## Each command alone (fresh process, median of $RUNS)"
echo
echo "| command | crash 8.0.2 | coroner | crash / coroner |"
echo "|---|---|---|---|"
for cmd in "${CMDS[@]}"; do
    k=$(median_ms crash_run "$cmd")
    c=$(median_ms coroner_run "$cmd")
    echo "| \`$cmd\` | $k ms | $c ms | $(awk -v k="$k" -v c="$c" 'BEGIN { printf "%.1fx", k / c }') |"
done

printf '%s\n' "${CMDS[@]}" > "$B/session.cmds"
{ cat "$B/session.cmds"; echo q; } > "$B/session.crash"
session_crash() { LC_ALL=C crash -s "$VMLINUX" "$DUMP" < "$B/session.crash"; }
session_coroner() { "$C" shell "$DUMP" --vmlinux "$VMLINUX" -i "$B/session.cmds"; }
k=$(median_ms session_crash)
c=$(median_ms session_coroner)
echo
echo "## The whole command file in one session: crash $k ms, coroner $c ms"

crash_tasks=$(crash_run "foreach bt" 2>/dev/null | grep -c '^PID:' || true)
coroner_tasks=$(coroner_run "foreach bt" 2>/dev/null | grep -c '^PID:' || true)
echo
echo "## foreach bt: crash shows $crash_tasks tasks, coroner $coroner_tasks"

# Milliseconds from starting `coroner shell ARGS` in tmux to its prompt on screen.
prompt_ms() {
    local s e
    tmux kill-session -t coroner-bench 2>/dev/null || true
    s=$(now)
    tmux new-session -d -s coroner-bench -x 120 -y 20 "$C shell $*"
    until tmux capture-pane -p -t coroner-bench 2>/dev/null | grep -q 'coroner>'; do
        sleep 0.002
    done
    e=$(now)
    tmux kill-session -t coroner-bench
    echo $(( (e - s) / 1000000 ))
}
echo
echo "## Prompt of \`coroner shell\` (tmux, best of $RUNS; target 150 ms)"
echo
for args in "$FIX/kdump-sysrq/vmcore.kdump-mdf-d31-zlib" "$FIX/sysrq/vmcore.mdf-d31-zstd" "$DUMP --vmlinux $VMLINUX"; do
    best=
    for _ in $(seq "$RUNS"); do
        t=$(prompt_ms "$args")
        if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
    done
    echo "- \`coroner shell ${args#"$FIX/"}\`: $best ms"
done

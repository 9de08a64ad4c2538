#!/bin/bash
# Opt-in: `coroner capture` in a real kdump capture kernel (the fixture factory's
# 60-kdump.sh: crashkernel=160M, kexec -p, one CPU, ~110 MiB free). Builds a static
# coroner (glibc, +crt-static), hands it to the capture kernel with a capture-hook,
# then checks on the host: the hook completed, the log coroner saved equals the one
# makedumpfile --dump-dmesg saved in the same capture kernel, and coroner reads the
# dump it wrote. Prints the collector's peak memory as busybox time measured it.
#   in-guest.sh            (needs the factory set up: .ci/fixtures-setup)
set -euo pipefail
HERE=$(dirname "$(realpath "$0")")
REPO=$(realpath "$HERE/../../..")
FACTORY=${FACTORY:-$REPO/../shared/fixtures/factory}
TRIPLE=x86_64-unknown-linux-gnu
cd "$REPO"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --profile capture -p coroner-cli \
    --no-default-features --target $TRIPLE
BIN=$REPO/target/$TRIPLE/capture/coroner
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
cp "$BIN" "$W/coroner"
cat > "$W/capture-hook" <<'HOOK'
#!/bin/sh
OUT=$1 VMCORE=$2
/mnt/in/coroner capture --dump-dmesg "$VMCORE" "$OUT/dmesg.coroner.txt"
T=; busybox time -v true >/dev/null 2>&1 && T="busybox time -v"
$T /mnt/in/coroner capture -l -d 31 --message-level 23 "$VMCORE" \
    "$OUT/vmcore.coroner-d31-lzo"
echo "capture rc=$?"
HOOK
chmod +x "$W/capture-hook" "$W/coroner"
export DUMPS=$REPO/target/qemu-dumps
SHARE_IN="$W/coroner $W/capture-hook" "$FACTORY/60-kdump.sh" coroner-in-guest sysrq 768
D=$DUMPS/coroner-in-guest
cat "$D/hook/capture-hook.log"
grep -q 'coroner capture Completed.' "$D/hook/capture-hook.log"
grep -q 'capture rc=0' "$D/hook/capture-hook.log"
cmp "$D/hook/dmesg.coroner.txt" "$D/dmesg.capture-kernel-makedumpfile.txt"
"$BIN" dmesg "$D/hook/vmcore.coroner-d31-lzo" | cmp - "$D/dmesg.capture-kernel-makedumpfile.txt"
"$BIN" triage "$D/hook/vmcore.coroner-d31-lzo" | head -5
echo "in-guest capture OK: $D/hook"

#!/bin/bash
# Builds the capture benchmark's input: the fixture factory's kernel booted with
# GUEST_MB of RAM whose memory holds page cache (files unpacked into the rootfs:
# random, text and zero bytes), anonymous process memory (bench/hog.c, a third each
# random, text-like, zero) and free pages, crashed with sysrq and dumped by QEMU as
# ELF. Also writes the copy makedumpfile 1.7.2 can read (program headers at 64).
#   make-guest.sh OUTDIR [GUEST_MB]      (default 3072; needs ~2x that on disk)
set -euo pipefail
DEST=$(realpath -m "$1"); MB=${2:-3072}
HERE=$(dirname "$(realpath "$0")")
FACTORY=${FACTORY:-$HERE/../../../../shared/fixtures/factory}
. "$FACTORY/config.sh"
mkdir -p "$DEST"; W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/root/data" "$W/root/tmp"
gcc -O2 -static -o "$W/root/hog" "$HERE/hog.c"
FILE_MB=$(( MB / 8 ))
head -c $(( FILE_MB << 20 )) /dev/urandom > "$W/root/data/random.bin"
yes "$(head -c 3000 "$FACTORY/README.md" | tr '\n' ' ')" | head -c $(( FILE_MB << 20 )) > "$W/root/data/text.txt" || true  # yes ends by SIGPIPE
head -c $(( FILE_MB << 19 )) /dev/zero > "$W/root/data/zero.bin"
# The factory's /init runs after the anonymous memory is in place.
cp "$FACTORY/guest-init.sh" "$W/root/init.fx"
cat > "$W/root/init" <<INIT
#!/bin/busybox sh
/bin/busybox mount -t tmpfs tmpfs /tmp
/hog $(( MB / 4 )) &
while [ ! -e /tmp/hog.ready ]; do /bin/busybox sleep 1; done
exec /bin/busybox sh /init.fx
INIT
chmod +x "$W/root/init" "$W/root/init.fx"
cp "$INITRD" "$W/initrd.img"
(cd "$W/root" && find . | cpio -o -H newc --quiet) >> "$W/initrd.img"
timeout 1800 python3 "$FACTORY/fxqemu.py" --outdir "$DEST" --mode sysrq --ram "$MB" --smp 2 \
    --formats elf --timeout 1500 --kernel "$VMLINUZ" --initrd "$W/initrd.img"
python3 "$FACTORY/elf-phfix.py" "$DEST/vmcore.qemu-elf" "$DEST/vmcore.qemu-elf-phfix"
ls -la "$DEST"

//! Log content for the generated dumps: what a real boot and crash leave, plus
//! every kind of byte a reader must escape or pass through.

use super::printk::{Record, LOG_CONT, LOG_NEWLINE};

/// (level, facility, flags, text, dictionary)
type Template = (u8, u8, u8, &'static [u8], &'static [u8]);

const TEMPLATES: &[Template] = &[
    (5, 0, LOG_NEWLINE, b"Linux version {release} (mockbuild@builder) (gcc version 8.5.0) #1 SMP", b""),
    (6, 0, LOG_NEWLINE, b"Command line: BOOT_IMAGE=/vmlinuz root=/dev/sda1 crashkernel=auto", b""),
    (6, 0, LOG_NEWLINE, b"usb 1-1: new high-speed USB device number {n} using ehci-pci", b"SUBSYSTEM=usb\0DEVICE=c189:1"),
    (6, 0, LOG_NEWLINE, b"e1000 0000:00:03.0 eth0: (PCI:33MHz:32-bit) 52:54:00:12:34:56", b"SUBSYSTEM=pci\0DEVICE=+pci:0000:00:03.0"),
    (5, 0, LOG_NEWLINE, b"sd 2:0:0:0: [sda] 41943040 512-byte logical blocks: (21.4 GB/20.0 GiB)", b"SUBSYSTEM=scsi\0DEVICE=+scsi:2:0:0:0"),
    // A continuation line stored in two records (the cont buffer was flushed).
    (6, 0, 0, b"sysrq: SysRq : ", b""),
    (6, 0, LOG_CONT | LOG_NEWLINE, b"Trigger a crash", b""),
    (6, 3, LOG_NEWLINE, b"systemd[1]: Started Journal Service.", b""),
    (1, 0, LOG_NEWLINE, b"BUG: unable to handle kernel NULL pointer dereference at 0000000000000000\nIP: [<ffffffffa0001000>] crash_me+0x10/0x20 [crashme]", b""),
    (3, 0, LOG_NEWLINE, "EXT4-fs (sda1): mounted filesystem été, label \u{2603}".as_bytes(), b""),
    (4, 0, LOG_NEWLINE, b"raw bytes: \xff\x80\x01\x1b[0m\x7f tab\there cr\r vt\x0b ff\x0c end", b"SUBSYSTEM=tty\0DEVICE=c4:64\0EXTRA=\xc3\xa9"),
    // Escaped, this line outgrows makedumpfile's 1 KiB output buffer.
    (5, 0, LOG_NEWLINE, LONG_NON_ASCII.as_bytes(), b""),
    (6, 0, LOG_NEWLINE, b"", b""),
    (0, 0, LOG_NEWLINE, b"Kernel panic - not syncing: Fatal exception in interrupt", b""),
];

const LONG_NON_ASCII: &str = "input: Клавиатура USB «Logitech» \
    подключена к порту 1-1.2, драйвер hid-generic, режим: стандартный";

/// `n` records cycling through the templates, one millisecond-ish apart; after
/// the first few the clock jumps past 100000 s (six-digit seconds widen the
/// timestamp). With `callers`, each gets a task or CPU caller id.
pub fn records(n: usize, release: &str, callers: bool) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let (level, facility, flags, text, dict) = TEMPLATES[i % TEMPLATES.len()];
            let text = if text.contains(&b'{') {
                fill(text, release, i)
            } else {
                text.to_vec()
            };
            let ts = if i < 8 {
                i as u64 * 1_234_567
            } else {
                123_456_000_000_000 + i as u64 * 987_654_321
            };
            Record {
                ts_nsec: ts,
                facility,
                level,
                flags,
                caller_id: if !callers {
                    0
                } else if i % 3 == 0 {
                    0x8000_0000 | (i as u32 % 4)
                } else {
                    1 + 100 * i as u32
                },
                text,
                dict: dict.to_vec(),
            }
        })
        .collect()
}

/// Fills a template's placeholders (only ASCII templates have any).
fn fill(text: &[u8], release: &str, n: usize) -> Vec<u8> {
    String::from_utf8_lossy(text)
        .replace("{release}", release)
        .replace("{n}", &n.to_string())
        .into_bytes()
}

/// A pre-3.5 log of `lines` lines: `<level>` prefixes, printk times, the same
/// bytes to pass through as the records carry.
pub fn text(lines: usize, release: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, r) in records(lines, release, false).iter().enumerate() {
        out.extend_from_slice(format!("<{}>[{:5}.{:06}] ", r.level, i, i * 7).as_bytes());
        out.extend_from_slice(&r.text);
        out.push(b'\n');
    }
    out
}

//! Where VMCOREINFO comes from when the container does not carry it: older kdump
//! header versions (no VMCOREINFO offset before version 3, no notes before 4), ELF
//! dumps without the note, and memory where even the text is gone (the banner).

use coroner_dump::Dump;
use coroner_testdata::{qemu_elf, shipped_dumps};

fn release_of(vmcoreinfo: &[u8]) -> String {
    let text = String::from_utf8_lossy(vmcoreinfo);
    text.lines()
        .find_map(|l| l.strip_prefix("OSRELEASE="))
        .expect("OSRELEASE line")
        .to_string()
}

#[test]
fn every_kdump_header_version_opens_and_finds_vmcoreinfo() {
    let path = shipped_dumps("sysrq")
        .into_iter()
        .find(|p| p.ends_with("vmcore.mdf-d31-zstd"))
        .unwrap();
    let original = std::fs::read(&path).unwrap();
    let reference = Dump::open(&path).unwrap();
    let expected = release_of(reference.vmcoreinfo().unwrap());
    for version in 1u32..=6 {
        let mut bytes = original.clone();
        bytes[8..12].copy_from_slice(&version.to_le_bytes());
        let dump = Dump::from_bytes(format!("v{version}"), bytes).unwrap();
        let info = dump.info();
        assert_eq!(info.format_version, Some(version));
        assert_eq!(info.dump_level, Some(31));
        let source = if version >= 3 { "note" } else { "memory scan" };
        assert_eq!(info.vmcoreinfo_source, Some(source), "version {version}");
        assert_eq!(
            release_of(dump.vmcoreinfo().unwrap()),
            expected,
            "version {version}"
        );
        // Notes (the CPUs' registers) exist from version 4 on.
        assert_eq!(dump.notes().is_empty(), version < 4, "version {version}");
        assert_eq!(
            dump.census().counts,
            reference.census().counts,
            "version {version}"
        );
    }
}

/// The QEMU ELF of the sysrq crash with its PT_NOTE turned into PT_NULL.
fn qemu_elf_without_notes() -> Vec<u8> {
    let mut bytes = std::fs::read(qemu_elf("sysrq").unwrap()).unwrap();
    let phoff = u64::from_le_bytes(bytes[32..40].try_into().unwrap()) as usize;
    let phnum = u16::from_le_bytes([bytes[56], bytes[57]]) as usize;
    for i in 0..phnum {
        let ph = phoff + i * 56;
        if bytes[ph..ph + 4] == 4u32.to_le_bytes() {
            bytes[ph..ph + 4].copy_from_slice(&0u32.to_le_bytes());
        }
    }
    bytes
}

#[test]
fn elf_without_notes_finds_vmcoreinfo_in_memory_then_the_banner() {
    let with_note = Dump::open(qemu_elf("sysrq").unwrap()).unwrap();
    let expected = with_note.vmcoreinfo().unwrap();
    let mut bytes = qemu_elf_without_notes();
    let dump = Dump::from_bytes("no-notes", bytes.clone()).unwrap();
    assert!(dump.notes().is_empty());
    assert_eq!(dump.info().vmcoreinfo_source, Some("memory scan"));
    let found = dump.vmcoreinfo().unwrap();
    // The note is a copy of the kernel's buffer: the same lines.
    let lines = |t: &[u8]| {
        String::from_utf8_lossy(t)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(lines(found), lines(expected));

    // Erase every VMCOREINFO text; the banner still names the release.
    let finder = memchr::memmem::Finder::new(b"OSRELEASE=");
    let hits: Vec<usize> = finder.find_iter(&bytes).collect();
    assert!(!hits.is_empty());
    for at in hits {
        bytes[at] = b'X';
    }
    let dump = Dump::from_bytes("no-vmcoreinfo", bytes).unwrap();
    assert_eq!(dump.info().vmcoreinfo_source, None);
    assert!(dump
        .info()
        .warnings
        .iter()
        .any(|w| w.contains("no VMCOREINFO")));
    assert_eq!(
        dump.banner_release().as_deref(),
        Some(release_of(expected).as_str())
    );
}

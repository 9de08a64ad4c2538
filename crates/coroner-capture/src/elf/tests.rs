//! The writer's output read back by coroner-dump's ELF reader (separate code).

use super::header::{self, Elf64Header, ProgramHeader, EHDR_SIZE, PHDR_SIZE};
use super::write;
use crate::convert::{Image, Silent};
use coroner_dump::{Dump, Note, PageState, PhysMemory, NT_PRSTATUS};

const P: u64 = 4096;

/// An ELF core with `loads` (paddr, bytes, memsz) and `notes`.
fn input(loads: &[(u64, Vec<u8>, u64)], notes: &[Note]) -> Vec<u8> {
    let notes = header::notes(notes);
    let phnum = 1 + loads.len() as u64;
    let mut offset = EHDR_SIZE + phnum * PHDR_SIZE + notes.len() as u64;
    let mut v = Elf64Header {
        machine: 62,
        phnum: phnum as u16,
    }
    .to_bytes();
    v.extend(ProgramHeader::note(EHDR_SIZE + phnum * PHDR_SIZE, notes.len() as u64).to_bytes());
    for (paddr, bytes, memsz) in loads {
        v.extend(ProgramHeader::load(0, *paddr, offset, bytes.len() as u64, *memsz).to_bytes());
        offset += bytes.len() as u64;
    }
    v.extend(notes);
    for (_, bytes, _) in loads {
        v.extend(bytes);
    }
    v
}

fn pages(n: u64, seed: u8) -> Vec<u8> {
    (0..n * P).map(|i| (i / 7) as u8 ^ seed).collect()
}

fn note(name: &str, kind: u32, desc: &[u8]) -> Note {
    Note {
        name: name.into(),
        kind,
        desc: desc.to_vec(),
    }
}

fn convert(dump: &Dump) -> (Vec<u8>, crate::convert::Written) {
    let mut out = Vec::new();
    let written = write(&Image::of(dump), &mut out, &Silent).expect("write");
    (out, written)
}

#[test]
fn memory_and_notes_survive_and_cpu_notes_come_first() {
    let vmcoreinfo = b"OSRELEASE=6.1.0\nPAGESIZE=4096\nCRASHTIME=1\nKERNELOFFSET=0\n";
    let input = input(
        &[
            (0, pages(0x9f, 1), 0x9f * P),
            // 16 pages stored, 300 more zero past p_filesz (a long tail).
            (0x100000, pages(16, 2), 316 * P),
        ],
        &[
            note("CORE", NT_PRSTATUS, &[1; 336]),
            note("QEMU", 0, &[9; 440]),
            note("VMCOREINFO", 0, vmcoreinfo),
            note("CORE", NT_PRSTATUS, &[2; 336]),
        ],
    );
    let dump = Dump::from_bytes("in", input).unwrap();
    let (out, written) = convert(&dump);
    assert_eq!(written.bytes, out.len() as u64);
    assert_eq!(written.loads, 2, "one PT_LOAD per RAM range");
    let back = Dump::from_bytes("out", out.clone()).unwrap();
    assert!(
        back.info().warnings.is_empty(),
        "{:?}",
        back.info().warnings
    );
    let kinds: Vec<(&str, u8)> = back
        .notes()
        .iter()
        .map(|n| (n.name.as_str(), n.desc[0]))
        .collect();
    assert_eq!(
        kinds,
        [("CORE", 1), ("CORE", 2), ("QEMU", 9), ("VMCOREINFO", b'O')]
    );
    assert_eq!(back.vmcoreinfo(), Some(&vmcoreinfo[..]));
    assert_eq!(back.ram_ranges(), dump.ram_ranges());
    for (start, end) in dump.ram_ranges() {
        let mut a = vec![0; (end - start) as usize];
        let mut b = a.clone();
        dump.read_phys(start, &mut a).unwrap();
        back.read_phys(start, &mut b).unwrap();
        assert!(a == b, "memory at {start:#x} differs");
    }
    // The zero tail is not in the file: p_memsz covers it.
    assert_eq!(back.page_state(0x100 + 20), PageState::Zero);
    assert_eq!(back.page_state(0x100 + 15), PageState::Present);
    // Header: PT_NOTE first, data page-aligned, p_align 0.
    let phdr = |i: usize| &out[64 + 56 * i..64 + 56 * (i + 1)];
    assert_eq!(phdr(0)[0], 4);
    let first_data = u64::from_le_bytes(phdr(1)[8..16].try_into().unwrap());
    assert_eq!(first_data % P, 0);
    assert_eq!(&phdr(1)[48..56], &[0; 8]);
}

#[test]
fn an_input_without_vmcoreinfo_or_cpus_says_so() {
    let input = input(&[(0, pages(4, 3), 4 * P)], &[]);
    let dump = Dump::from_bytes("in", input).unwrap();
    let image = Image::of(&dump);
    assert_eq!(image.cpus, 0);
    assert!(image.vmcoreinfo_source.is_none());
    assert_eq!(image.warnings.len(), 3, "{:?}", image.warnings);
    let (out, _) = convert(&dump);
    let back = Dump::from_bytes("out", out).unwrap();
    assert!(back.notes().is_empty());
    let mut page = vec![0; P as usize];
    back.read_phys(2 * P, &mut page).unwrap();
    assert_eq!(page, pages(4, 3)[2 * P as usize..3 * P as usize]);
}

/// 32 MiB of memory holding x86-64 page tables that map the kernel image (two
/// 2 MiB pages at `__START_KERNEL_map + 20 MiB`, physical 16 MiB) with its banner,
/// and a QEMU CPU note whose CR3 is the user half of a PTI pair.
fn kernel_without_vmcoreinfo() -> Vec<u8> {
    const MIB: u64 = 1 << 20;
    let mut mem = vec![0u8; (32 * MIB) as usize];
    let mut set = |at: u64, entry: u64| {
        mem[at as usize..at as usize + 8].copy_from_slice(&entry.to_le_bytes())
    };
    let (pgd, pud, pmd) = (0x2000u64, 0x4000u64, 0x5000u64);
    set(pgd + 511 * 8, pud | 0x63);
    set(pud + 510 * 8, pmd | 0x63);
    // PMD entries 10 and 11: 2 MiB pages (PSE) at 16 and 18 MiB.
    set(pmd + 10 * 8, (16 * MIB) | 0xe3);
    set(pmd + 11 * 8, (18 * MIB) | 0xe3);
    // An unrelated, non-linear mapping right after: not part of the image.
    set(pmd + 12 * 8, (2 * MIB) | 0xe3);
    let banner = b"Linux version %s (%s)\0Linux version 6.1.0-test (me@here) #1 SMP\0";
    let at = (17 * MIB + 0x345) as usize;
    mem[at..at + banner.len()].copy_from_slice(banner);
    let mut qemu = vec![0u8; 440];
    qemu[416..424].copy_from_slice(&(pgd | 0x1000 | 0x5).to_le_bytes()); // CR3, PCID 5
    let notes = [note("CORE", NT_PRSTATUS, &[0; 336]), note("QEMU", 0, &qemu)];
    input(&[(0, mem, 32 * MIB)], &notes)
}

#[test]
fn without_vmcoreinfo_the_kernel_is_found_from_cr3() {
    use crate::convert::kernel_text::{locate, FoundBy, KernelText};
    let dump = Dump::from_bytes("in", kernel_without_vmcoreinfo()).unwrap();
    assert!(dump.vmcoreinfo().is_none());
    let (text, found_by) = locate(&dump).unwrap();
    let start = 0xffff_ffff_8000_0000 + (20 << 20);
    assert_eq!(
        text,
        KernelText {
            vaddr: start,
            paddr: 16 << 20,
            size: 4 << 20
        }
    );
    assert_eq!(text.phys_base(), (16u64 << 20).wrapping_sub(20 << 20));
    assert_eq!(text.kaslr_offset(), 4 << 20);
    assert_eq!(
        found_by,
        FoundBy::Registers {
            cpu: 0,
            cr3: 0x3005,
            release: "6.1.0-test".into()
        }
    );
    // The output maps it: coroner-dump takes phys_base from that PT_LOAD.
    let (out, written) = convert(&dump);
    assert!(written.kernel_text);
    let back = Dump::from_bytes("out", out).unwrap();
    assert_eq!(back.info().phys_base, Some(text.phys_base()));
}

#[test]
fn without_vmcoreinfo_or_a_banner_nothing_is_guessed() {
    let mut bytes = kernel_without_vmcoreinfo();
    let at = bytes
        .windows(16)
        .position(|w| w == b"Linux version 6.")
        .unwrap();
    bytes[at] = b'X';
    let dump = Dump::from_bytes("in", bytes).unwrap();
    let err = crate::convert::kernel_text::locate(&dump).unwrap_err();
    assert!(err.contains("banner"), "{err}");
    let image = Image::of(&dump);
    assert!(image.kernel_text.is_none());
    // No CPU state at all: said too.
    let dump = Dump::from_bytes("in", input(&[(0, pages(4, 0), 4 * P)], &[])).unwrap();
    let err = crate::convert::kernel_text::locate(&dump).unwrap_err();
    assert!(err.contains("CR3"), "{err}");
}

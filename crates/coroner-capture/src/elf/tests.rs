//! The writer's output read back by coroner-dump's ELF reader (separate code).

use super::header::{self, Elf64Header, ProgramHeader, EHDR_SIZE, PHDR_SIZE};
use super::ElfWriter;
use crate::convert::{DumpWriter, Image, Silent};
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
    let written = ElfWriter
        .write(&Image::of(dump), &mut out, &Silent)
        .expect("write");
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

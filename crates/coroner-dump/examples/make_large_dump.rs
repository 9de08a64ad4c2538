//! Writes large synthetic dumps for the benchmarks: a sparse ELF and a kdump-compressed
//! file describing `GIB` GiB of RAM, with the VMCOREINFO text of a real dump, so that
//! `coroner info` on them can be compared with the same command on a small real dump.
//!
//! usage: make_large_dump REAL_DUMP OUT_DIR [GIB]

use coroner_dump::Dump;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

const PAGE: u64 = 4096;
/// One page in this many is stored, like `-d 31` on a mostly idle machine.
const STORED_EVERY: u64 = 32;

fn note(name: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend((name.len() as u32).to_le_bytes());
    v.extend((desc.len() as u32).to_le_bytes());
    v.extend(kind.to_le_bytes());
    v.extend(name);
    v.resize(v.len().div_ceil(4) * 4, 0);
    v.extend(desc);
    v.resize(v.len().div_ceil(4) * 4, 0);
    v
}

/// A sparse ELF: one PT_LOAD per GiB, data never written (holes read as zeros).
fn write_elf(path: &Path, gib: u64, notes: &[u8]) -> std::io::Result<()> {
    let phnum = gib + 1;
    let notes_off = 64 + 56 * phnum;
    let data_off = (notes_off + notes.len() as u64).div_ceil(PAGE) * PAGE;
    let mut h = Vec::new();
    h.extend(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    h.extend(4u16.to_le_bytes()); // ET_CORE
    h.extend(62u16.to_le_bytes()); // x86-64
    h.extend(1u32.to_le_bytes());
    h.extend(0u64.to_le_bytes());
    h.extend(64u64.to_le_bytes()); // e_phoff
    h.extend(0u64.to_le_bytes());
    h.extend(0u32.to_le_bytes());
    h.extend(
        [64u16, 56, phnum as u16, 0, 0, 0]
            .iter()
            .flat_map(|v| v.to_le_bytes()),
    );
    let mut ph = |kind: u32, offset: u64, paddr: u64, size: u64| {
        h.extend(kind.to_le_bytes());
        h.extend(0u32.to_le_bytes());
        for v in [offset, 0, paddr, size, size, 0] {
            h.extend(v.to_le_bytes());
        }
    };
    ph(4, notes_off, 0, notes.len() as u64);
    for g in 0..gib {
        ph(1, data_off + (g << 30), g << 30, 1 << 30);
    }
    h.extend(notes);
    let mut f = File::create(path)?;
    f.write_all(&h)?;
    f.set_len(data_off + (gib << 30))
}

/// A kdump-compressed file: full RAM bitmap, one page in STORED_EVERY stored, all of
/// them pointing at the shared zero page (the layout makedumpfile writes).
fn write_kdump(path: &Path, gib: u64, vmcoreinfo: &[u8]) -> std::io::Result<()> {
    let pages = (gib << 30) / PAGE;
    let bitmap_half = (pages / 8).div_ceil(PAGE) * PAGE;
    let mut header = vec![0u8; PAGE as usize];
    header[..8].copy_from_slice(b"KDUMP   ");
    header[8..12].copy_from_slice(&6u32.to_le_bytes());
    header[12 + 4 * 65..12 + 4 * 65 + 6].copy_from_slice(b"x86_64");
    let words = [
        (428, PAGE as u32),
        (432, 1),
        (436, (2 * bitmap_half / PAGE) as u32),
        (440, pages as u32),
        (460, 2),
    ];
    for (off, v) in words {
        header[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
    let vmci_off = 2 * PAGE - vmcoreinfo.len() as u64 - 8;
    let mut sub = vec![0u8; PAGE as usize];
    sub[8..12].copy_from_slice(&31u32.to_le_bytes());
    sub[32..40].copy_from_slice(&vmci_off.to_le_bytes());
    sub[40..48].copy_from_slice(&(vmcoreinfo.len() as u64).to_le_bytes());
    sub[88..96].copy_from_slice(&pages.to_le_bytes());
    sub[96..104].copy_from_slice(&pages.to_le_bytes());
    let at = (vmci_off - PAGE) as usize;
    sub[at..at + vmcoreinfo.len()].copy_from_slice(vmcoreinfo);
    let mut f = File::create(path)?;
    f.write_all(&header)?;
    f.write_all(&sub)?;
    f.write_all(&vec![0xffu8; bitmap_half as usize])?;
    let stored_byte = 1u8; // pfn % 8 == 0 within every 32-page group
    let stored: Vec<u8> = (0..bitmap_half)
        .map(|i| {
            if i % (STORED_EVERY / 8) == 0 {
                stored_byte
            } else {
                0
            }
        })
        .collect();
    f.write_all(&stored)?;
    let stored_pages = pages.div_ceil(STORED_EVERY);
    let desc_start = 2 * PAGE + 2 * bitmap_half;
    let zero_page = desc_start + 24 * stored_pages;
    let mut desc = Vec::with_capacity(24 * 4096);
    let mut left = stored_pages;
    while left > 0 {
        desc.clear();
        for _ in 0..left.min(4096) {
            desc.extend(zero_page.to_le_bytes());
            desc.extend((PAGE as u32).to_le_bytes());
            desc.extend([0u8; 12]);
        }
        left -= left.min(4096);
        f.write_all(&desc)?;
    }
    f.seek(SeekFrom::Start(zero_page))?;
    f.write_all(&[0u8; PAGE as usize])
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: make_large_dump REAL_DUMP OUT_DIR [GIB]");
        std::process::exit(2);
    }
    let real = Dump::open(&args[1]).unwrap_or_else(|e| panic!("{e}"));
    let vmcoreinfo = real
        .vmcoreinfo()
        .expect("the real dump has VMCOREINFO")
        .to_vec();
    let gib: u64 = args
        .get(3)
        .map_or(64, |g| g.parse().expect("GIB is a number"));
    let out = Path::new(&args[2]);
    std::fs::create_dir_all(out).expect("create OUT_DIR");
    let notes = note(b"VMCOREINFO\0", 0, &vmcoreinfo);
    let elf = out.join(format!("synthetic-{gib}g.elf"));
    let kdump = out.join(format!("synthetic-{gib}g.kdump"));
    write_elf(&elf, gib, &notes).expect("write ELF");
    write_kdump(&kdump, gib, &vmcoreinfo).expect("write kdump");
    println!("{}\n{}", elf.display(), kdump.display());
}

//! Writes large synthetic dumps for the benchmarks: a sparse ELF and a kdump-compressed
//! file describing `GIB` GiB of RAM that hold a real dump's VMCOREINFO and every page
//! it stores, at the same physical addresses. `coroner info` and `coroner dmesg` on
//! them can then be compared with the same commands on the small real dump (and with
//! makedumpfile on both): the kernel is the same, only the machine is larger.
//!
//! usage: make_large_dump REAL_DUMP OUT_DIR [GIB]

use coroner_dump::{Dump, PhysMemory};
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
fn write_elf(path: &Path, gib: u64, notes: &[u8], real: &Dump) -> std::io::Result<()> {
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
    f.set_len(data_off + (gib << 30))?;
    let mut page = vec![0u8; PAGE as usize];
    for pfn in real_pfns(real, gib) {
        if real.read_phys(pfn * PAGE, &mut page).is_ok() {
            f.seek(SeekFrom::Start(data_off + pfn * PAGE))?;
            f.write_all(&page)?;
        }
    }
    Ok(())
}

/// The page frames the real dump stores, below `gib` GiB.
fn real_pfns(real: &Dump, gib: u64) -> Vec<u64> {
    real.stored_ranges()
        .into_iter()
        .flat_map(|(start, end)| start / PAGE..end.min(gib << 30) / PAGE)
        .collect()
}

/// A kdump-compressed file: full RAM bitmap; stored are the real dump's pages (raw)
/// and one page in STORED_EVERY of the rest, pointing at the shared zero page (the
/// layout makedumpfile writes).
fn write_kdump(path: &Path, gib: u64, vmcoreinfo: &[u8], real: &Dump) -> std::io::Result<()> {
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
    // makedumpfile translates kernel-text addresses with the sub-header's phys_base.
    sub[..8].copy_from_slice(&real.info().phys_base.unwrap_or(0).to_le_bytes());
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
    let mut stored = vec![0u8; bitmap_half as usize];
    for pfn in (0..pages).step_by(STORED_EVERY as usize) {
        stored[(pfn / 8) as usize] |= 1 << (pfn % 8);
    }
    let mut real_pages = std::collections::BTreeMap::new();
    let mut page = vec![0u8; PAGE as usize];
    for pfn in real_pfns(real, gib) {
        if real.read_phys(pfn * PAGE, &mut page).is_ok() {
            stored[(pfn / 8) as usize] |= 1 << (pfn % 8);
            real_pages.insert(pfn, page.clone());
        }
    }
    f.write_all(&stored)?;
    let stored_pages: u64 = stored.iter().map(|b| u64::from(b.count_ones())).sum();
    let desc_start = 2 * PAGE + 2 * bitmap_half;
    let zero_page = desc_start + 24 * stored_pages;
    let mut data_at = zero_page + PAGE;
    let mut desc = Vec::with_capacity(24 * 4096);
    for pfn in (0..pages).filter(|p| stored[(p / 8) as usize] & (1 << (p % 8)) != 0) {
        let at = if real_pages.contains_key(&pfn) {
            data_at += PAGE;
            data_at - PAGE
        } else {
            zero_page
        };
        desc.extend(at.to_le_bytes());
        desc.extend((PAGE as u32).to_le_bytes());
        desc.extend([0u8; 12]);
        if desc.len() >= 24 * 4096 {
            f.write_all(&desc)?;
            desc.clear();
        }
    }
    f.write_all(&desc)?;
    f.write_all(&[0u8; PAGE as usize])?;
    for bytes in real_pages.values() {
        f.write_all(bytes)?;
    }
    Ok(())
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
    write_elf(&elf, gib, &notes, &real).expect("write ELF");
    write_kdump(&kdump, gib, &vmcoreinfo, &real).expect("write kdump");
    println!("{}\n{}", elf.display(), kdump.display());
}

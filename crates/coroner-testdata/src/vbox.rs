//! VirtualBox guest cores (`VBoxManage debugvm VM dumpvmcore`) made from an ELF
//! vmcore with CPU notes (QEMU's, or one `coroner convert` wrote from one), for
//! tests: none is public. The layout follows VirtualBox's `DBGFCoreWrite.cpp` and
//! `dbgfcorefmt.h`: `e_ident[EI_VERSION]` left 0, one PT_NOTE holding a `VBCORE`
//! descriptor and a `VBCPU` (`DBGFCORECPU`) note per CPU, 8-byte aligned with
//! `n_namesz` not counting the NUL, then one PT_LOAD per RAM range.

use crate::vmware::QemuElf;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

const MAGIC: u32 = 0xc01a_c0de;
const FMT_VERSION: u32 = 0x0001_0006;
/// The registers and tables this generator fills, then zeros standing for the
/// MSRs and the XSAVE area (whose size depends on the VirtualBox version).
const CPU_SIZE: usize = 1024;

/// A note as VirtualBox writes it.
fn note(name: &str, kind: u32, desc: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend((name.len() as u32).to_le_bytes());
    v.extend((desc.len().next_multiple_of(8) as u32).to_le_bytes());
    v.extend(kind.to_le_bytes());
    v.extend(name.as_bytes());
    v.push(0);
    v.resize(12 + (name.len() + 1).next_multiple_of(8), 0);
    v.extend(desc);
    // Sizes are padded to 8, not offsets: the 12-byte header is not.
    v.resize(
        12 + (name.len() + 1).next_multiple_of(8) + desc.len().next_multiple_of(8),
        0,
    );
    v
}

fn put(d: &mut [u8], at: usize, w: u64) {
    d[at..at + 8].copy_from_slice(&w.to_le_bytes());
}

/// `DBGFCORECPU` from a CPU's `user_regs_struct` and QEMU state.
fn cpu(v: &crate::vmware::Vcpu) -> Vec<u8> {
    let r = &v.pr_reg;
    let mut d = vec![0u8; CPU_SIZE];
    // rax rbx rcx rdx rsi rdi r8..r15 rip rsp rbp rflags
    let gprs = [
        r[10], r[5], r[11], r[12], r[13], r[14], r[9], r[8], r[7], r[6], r[3], r[2], r[1], r[0],
        r[16], r[19], r[4], r[18],
    ];
    for (i, w) in gprs.into_iter().enumerate() {
        put(&mut d, 8 * i, w);
    }
    // cs ds es fs gs ss: {base, limit, attr, selector}
    let segments = [
        (r[17], 0),
        (r[23], 0),
        (r[24], 0),
        (r[25], r[21]),
        (r[26], r[22]),
        (r[20], 0),
    ];
    for (i, (selector, base)) in segments.into_iter().enumerate() {
        let at = 144 + 24 * i;
        put(&mut d, at, base);
        d[at + 16..at + 18].copy_from_slice(&(selector as u16).to_le_bytes());
    }
    put(&mut d, 288, v.cr[0]);
    put(&mut d, 296, v.cr[2]);
    put(&mut d, 304, v.cr[3]);
    put(&mut d, 312, v.cr[4]);
    put(&mut d, 400, v.idt_base);
    d[408..412].copy_from_slice(&v.idt_limit.to_le_bytes());
    d[416 + 16..416 + 18].copy_from_slice(&(v.ldt_selector as u16).to_le_bytes());
    d[440 + 16..440 + 18].copy_from_slice(&(v.tr_selector as u16).to_le_bytes());
    d
}

/// Writes the VirtualBox core of `elf` (its RAM and CPUs) to `out`.
pub fn write(elf: &QemuElf, out: &Path) -> io::Result<()> {
    let mut descriptor = Vec::new();
    for w in [
        MAGIC,
        FMT_VERSION,
        24,
        0x0700_0000,
        0,
        elf.vcpus.len() as u32,
    ] {
        descriptor.extend(w.to_le_bytes());
    }
    let mut notes = note("VBCORE", 0xb00, &descriptor);
    for v in &elf.vcpus {
        notes.extend(note("VBCPU", 0xb01, &cpu(v)));
    }
    // One PT_LOAD per RAM range, written whole, as VirtualBox writes RAM.
    let loads: Vec<(u64, u64)> = elf
        .ram()
        .into_iter()
        .map(|(page, pages)| (page * 4096, pages * 4096))
        .collect();
    let phnum = 1 + loads.len() as u64;
    let notes_at = 64 + 56 * phnum;
    let mut w = BufWriter::new(File::create(out)?);
    let mut h = Vec::new();
    h.extend(b"\x7fELF");
    h.extend([2, 1, 0, 0]); // EI_VERSION left 0, as VirtualBox leaves it
    h.extend([0; 8]);
    h.extend(4u16.to_le_bytes()); // ET_CORE
    h.extend(62u16.to_le_bytes());
    h.extend(1u32.to_le_bytes());
    h.extend(0u64.to_le_bytes());
    h.extend(64u64.to_le_bytes());
    h.extend(0u64.to_le_bytes());
    h.extend(0u32.to_le_bytes());
    h.extend(64u16.to_le_bytes());
    h.extend(56u16.to_le_bytes());
    h.extend((phnum as u16).to_le_bytes());
    h.extend(64u16.to_le_bytes()); // e_shentsize, no sections
    h.extend([0; 4]);
    let phdr = |kind: u32, offset: u64, paddr: u64, size: u64| {
        let mut p = Vec::new();
        p.extend(kind.to_le_bytes());
        p.extend(4u32.to_le_bytes()); // PF_R
        for x in [offset, 0, paddr, size, size, 0] {
            p.extend(x.to_le_bytes());
        }
        p
    };
    h.extend(phdr(4, notes_at, 0, notes.len() as u64));
    let mut offset = notes_at + notes.len() as u64;
    for &(paddr, size) in &loads {
        h.extend(phdr(1, offset, paddr, size));
        offset += size;
    }
    w.write_all(&h)?;
    w.write_all(&notes)?;
    for &(paddr, size) in &loads {
        elf.copy(paddr, paddr + size, &mut w)?;
    }
    w.flush()
}

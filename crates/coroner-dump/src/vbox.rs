//! VirtualBox's guest cores (`VBoxManage debugvm VM dumpvmcore`): an ELF64 core
//! whose CPU state is in `VBCPU` notes (type 0xb01, a `DBGFCORECPU` each, after
//! one `VBCORE` descriptor), not in `NT_PRSTATUS`. Each `VBCPU` note becomes the
//! `CORE` `NT_PRSTATUS` and `QEMU` CPU-state notes the layers above read, as a
//! VMware checkpoint's registers do. Layout from VirtualBox's `dbgfcorefmt.h`
//! and `DBGFCoreWrite.cpp`: 8-byte aligned notes, `n_namesz` without the NUL
//! (the note parser reads both the same way).

use crate::notes::{Note, NT_PRSTATUS};

/// `NT_VBOXCPU`: one `DBGFCORECPU` per virtual CPU.
const NT_VBOXCPU: u32 = 0xb01;
/// Bytes of `DBGFCORECPU` read: up to and including `tr` (the FPU state follows).
const CPU_PREFIX: usize = 464;
/// `DBGFCORESEL`: base u64, limit u32, attributes u32, selector u16, padding.
const SEL: usize = 24;
/// Offsets in `DBGFCORECPU`: 14 general registers (rax rbx rcx rdx rsi rdi
/// r8-r15), rip, rsp, rbp, rflags; the segments cs ds es fs gs ss; cr0 cr2 cr3
/// cr4; dr[8]; gdtr, idtr ({u64 base, u32 limit, pad}); ldtr, tr.
const RIP: usize = 112;
const RSP: usize = 120;
const RBP: usize = 128;
const RFLAGS: usize = 136;
const CS: usize = 144;
const DS: usize = CS + SEL;
const ES: usize = DS + SEL;
const FS: usize = ES + SEL;
const GS: usize = FS + SEL;
const SS: usize = GS + SEL;
const CR0: usize = SS + SEL;
const GDTR: usize = CR0 + 4 * 8 + 8 * 8;
const IDTR: usize = GDTR + 16;
const LDTR: usize = IDTR + 16;
const TR: usize = LDTR + SEL;

/// The notes with every `VBCPU` note also given as `NT_PRSTATUS` + `QEMU`, when
/// the core has no `NT_PRSTATUS` of its own.
pub(crate) fn with_cpu_notes(mut notes: Vec<Note>) -> Vec<Note> {
    if notes.iter().any(Note::is_prstatus) {
        return notes;
    }
    let cpus: Vec<&Note> = notes
        .iter()
        .filter(|n| n.name == "VBCPU" && n.kind == NT_VBOXCPU && n.desc.len() >= CPU_PREFIX)
        .collect();
    let mut out: Vec<Note> = cpus.iter().map(|n| prstatus(&n.desc)).collect();
    out.extend(cpus.iter().map(|n| qemu_cpu_state(&n.desc)));
    out.append(&mut notes);
    out
}

fn word(d: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(d[at..at + 8].try_into().expect("8 bytes"))
}

fn half(d: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes(
        d[at..at + 4].try_into().expect("4 bytes"),
    ))
}

fn selector(d: &[u8], seg: usize) -> u64 {
    u64::from(u16::from_le_bytes([d[seg + 16], d[seg + 17]]))
}

/// The general register `i` in `DBGFCORECPU` order (rax rbx rcx rdx rsi rdi r8..).
fn gpr(d: &[u8], i: usize) -> u64 {
    word(d, 8 * i)
}

/// An x86-64 `struct elf_prstatus` with `pr_reg` (user_regs_struct order) set.
fn prstatus(d: &[u8]) -> Note {
    let (rax, rbx, rcx, rdx, rsi, rdi) = (
        gpr(d, 0),
        gpr(d, 1),
        gpr(d, 2),
        gpr(d, 3),
        gpr(d, 4),
        gpr(d, 5),
    );
    let r = |n: usize| gpr(d, n - 2); // r8 is the 7th
    let pr_reg = [
        r(15),
        r(14),
        r(13),
        r(12),
        word(d, RBP),
        rbx,
        r(11),
        r(10),
        r(9),
        r(8),
        rax,
        rcx,
        rdx,
        rsi,
        rdi,
        u64::MAX, // orig_rax: no system call
        word(d, RIP),
        selector(d, CS),
        word(d, RFLAGS),
        word(d, RSP),
        selector(d, SS),
        word(d, FS),
        word(d, GS),
        selector(d, DS),
        selector(d, ES),
        selector(d, FS),
        selector(d, GS),
    ];
    let mut desc = vec![0u8; 336];
    for (i, w) in pr_reg.iter().enumerate() {
        desc[112 + 8 * i..120 + 8 * i].copy_from_slice(&w.to_le_bytes());
    }
    Note {
        name: "CORE".into(),
        kind: NT_PRSTATUS,
        desc,
    }
}

/// QEMU's `QEMUCPUState` (version 1): crash takes CR3, CR4 and the IDT from it
/// when a dump has no VMCOREINFO.
fn qemu_cpu_state(d: &[u8]) -> Note {
    const SIZE: u32 = 440;
    let mut desc = Vec::with_capacity(SIZE as usize);
    desc.extend(1u32.to_le_bytes());
    desc.extend(SIZE.to_le_bytes());
    // rax rbx rcx rdx rsi rdi rsp rbp r8-r15 rip rflags
    let regs = (0..6)
        .map(|i| gpr(d, i))
        .chain([word(d, RSP), word(d, RBP)])
        .chain((6..14).map(|i| gpr(d, i)))
        .chain([word(d, RIP), word(d, RFLAGS)]);
    for w in regs {
        desc.extend(w.to_le_bytes());
    }
    // cs ds es fs gs ss ldt tr: {selector, limit, flags, pad, base}; gdt, idt.
    for seg in [CS, DS, ES, FS, GS, SS, LDTR, TR] {
        desc.extend((selector(d, seg) as u32).to_le_bytes());
        desc.extend((half(d, seg + 8) as u32).to_le_bytes());
        desc.extend((half(d, seg + 12) as u32).to_le_bytes());
        desc.extend(0u32.to_le_bytes());
        desc.extend(word(d, seg).to_le_bytes());
    }
    for table in [GDTR, IDTR] {
        desc.extend(0u32.to_le_bytes());
        desc.extend((half(d, table + 8) as u32).to_le_bytes());
        desc.extend(0u64.to_le_bytes());
        desc.extend(word(d, table).to_le_bytes());
    }
    // cr[5]: cr0, cr1 (none), cr2, cr3, cr4; then kernel_gs_base (not kept here).
    for w in [
        word(d, CR0),
        0,
        word(d, CR0 + 8),
        word(d, CR0 + 16),
        word(d, CR0 + 24),
        0,
    ] {
        desc.extend(w.to_le_bytes());
    }
    Note {
        name: "QEMU".into(),
        kind: 0,
        desc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vbcpu() -> Note {
        let mut d = vec![0u8; 1024];
        for i in 0..18 {
            d[8 * i..8 * i + 8].copy_from_slice(&(0x100 + i as u64).to_le_bytes());
        }
        d[CS + 16] = 0x10;
        d[SS + 16] = 0x18;
        d[GS..GS + 8].copy_from_slice(&0xffff_8880_7fc0_0000u64.to_le_bytes());
        d[CR0 + 16..CR0 + 24].copy_from_slice(&0x1234_5000u64.to_le_bytes());
        d[IDTR..IDTR + 8].copy_from_slice(&0xfffffe00_00000000u64.to_le_bytes());
        Note {
            name: "VBCPU".into(),
            kind: NT_VBOXCPU,
            desc: d,
        }
    }

    #[test]
    fn vbox_cpus_become_prstatus_and_qemu_notes() {
        let core = Note {
            name: "VBCORE".into(),
            kind: 0xb00,
            desc: vec![0; 24],
        };
        let notes = with_cpu_notes(vec![core, vbcpu(), vbcpu()]);
        let names: Vec<&str> = notes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            ["CORE", "CORE", "QEMU", "QEMU", "VBCORE", "VBCPU", "VBCPU"]
        );
        let pr = |i: usize| word(&notes[0].desc, 112 + 8 * i);
        // r15 (0x100 + 13), rbp, rax, rip, cs, rsp, ss, gs base
        assert_eq!(pr(0), 0x10d);
        assert_eq!(pr(4), 0x110);
        assert_eq!(pr(10), 0x100);
        assert_eq!(pr(16), 0x10e);
        assert_eq!(pr(17), 0x10);
        assert_eq!(pr(19), 0x10f);
        assert_eq!(pr(20), 0x18);
        assert_eq!(pr(22), 0xffff_8880_7fc0_0000);
        let q = &notes[2].desc;
        assert_eq!(q.len(), 440);
        assert_eq!(word(q, 8 + 6 * 8), 0x10f, "rsp");
        assert_eq!(word(q, 392 + 3 * 8), 0x1234_5000, "cr3");
        assert_eq!(word(q, 152 + 9 * 24 + 16), 0xfffffe00_00000000, "idt base");
        // A core with its own PRSTATUS is left alone.
        let notes = with_cpu_notes(vec![notes[0].clone(), vbcpu()]);
        assert_eq!(notes.len(), 2);
    }
}

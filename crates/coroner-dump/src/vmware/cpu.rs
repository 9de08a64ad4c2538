//! Each vCPU's saved registers from the `cpu` group, turned into the notes an ELF
//! vmcore carries, so the layers above keep one register path: a `CORE`
//! `NT_PRSTATUS` (general registers, RIP, RFLAGS, selectors, FS/GS base) and a
//! `QEMU` CPU-state note (the same plus CR0-CR4 and the IDT, as QEMU writes it).

use super::tags::{Checkpoint, Tag, Value};
use crate::compress::{self, Compression};
use crate::notes::{Note, NT_PRSTATUS};
use crate::source::Source;
use std::collections::BTreeMap;

/// General registers in the x86 encoding order, which the per-register tags name.
const GPR_NAMES: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];
const RSP: usize = 4;
const RBP: usize = 5;
/// Segment indexes of the `S[cpu][seg]` selector tags.
const ES: usize = 0;
const CS: usize = 1;
const SS: usize = 2;
const DS: usize = 3;
const FS: usize = 4;
const GS: usize = 5;
/// Kernel code and stack selectors of x86-64 Linux (`__KERNEL_CS`, `__KERNEL_DS`)
/// and user ones (`__USER_CS`, `__USER_DS`): used when a file has no `S` tags.
const KERNEL_CS_SS: (u64, u64) = (0x10, 0x18);
const USER_CS_SS: (u64, u64) = (0x33, 0x2b);
/// Register blocks are small; anything bigger is not one.
const MAX_BLOCK: u64 = 4096;

#[derive(Debug, Default, Clone)]
struct Vcpu {
    gpr: [Option<u64>; 16],
    rip: Option<u64>,
    rflags: Option<u64>,
    cr: [Option<u64>; 5],
    idt_limit: Option<u64>,
    idt_base: [Option<u64>; 2],
    idt_base64: Option<u64>,
    selectors: [Option<u64>; 8],
    fs_base: Option<u64>,
    gs_base: Option<u64>,
}

/// vCPU registers gathered from `cpu` group tags.
#[derive(Debug, Default)]
struct Cpus {
    count: Option<u32>,
    vcpus: BTreeMap<u32, Vcpu>,
    beyond_count: bool,
    warnings: Vec<String>,
}

/// The registers of the `cpu` group's vCPUs as notes, and `cpu:numVCPUs`.
pub(super) fn read(
    checkpoint: &Checkpoint,
    source: &Source,
    warnings: &mut Vec<String>,
) -> (Option<u32>, Vec<Note>) {
    let Some(group) = checkpoint.group("cpu") else {
        warnings.push("the checkpoint has no \"cpu\" group: no vCPU registers".into());
        return (None, Vec::new());
    };
    let mut cpus = Cpus::default();
    let mut walk = checkpoint.tags(source, group);
    for tag in walk.by_ref() {
        match tag {
            Ok(tag) => cpus.take(&tag, source),
            Err((at, why)) => {
                warnings.push(format!("cpu group at offset {at:#x}: {why}"));
                break;
            }
        }
    }
    if walk.cut_short() {
        warnings.push(format!(
            "cpu group: the last tag runs past the end of the file (to offset {:#x})",
            walk.position()
        ));
    }
    let notes = cpus.notes();
    warnings.append(&mut cpus.warnings);
    (cpus.count, notes)
}

impl Cpus {
    /// Takes one tag of the `cpu` group; tags of other kinds are ignored, so only
    /// register tags make a vCPU entry (memory grows with the registers given).
    fn take(&mut self, tag: &Tag, source: &Source) {
        if tag.name == "cpu:numVCPUs" {
            self.count = tag.number(source).map(|n| n as u32);
            return;
        }
        let Some(cpu) = tag.index(0) else {
            return;
        };
        if let Value::Block { .. } = tag.value {
            if matches!(tag.name.as_str(), "gpregs" | "CR64" | "IDTR") && self.known(cpu, tag) {
                self.take_block(cpu, tag, source);
            }
            return;
        }
        let Some(field) = Field::of(&tag.name, tag.index(1).map(|i| i as usize)) else {
            return;
        };
        let Some(value) = tag.number(source) else {
            return;
        };
        if self.known(cpu, tag) {
            self.vcpus.entry(cpu).or_default().set(field, value);
        }
    }

    /// False (with one warning for all such tags) for a vCPU past `cpu:numVCPUs`.
    fn known(&mut self, cpu: u32, tag: &Tag) -> bool {
        if self.count.is_none_or(|n| cpu < n) {
            return true;
        }
        if !self.beyond_count {
            self.beyond_count = true;
            self.warnings.push(format!(
                "tag {} at offset {:#x} (and maybe more) names a vCPU beyond cpu:numVCPUs: ignored",
                tag.label(),
                tag.at
            ));
        }
        false
    }

    /// `gpregs`, `CR64` and `IDTR` also come as blocks holding the whole set.
    fn take_block(&mut self, cpu: u32, tag: &Tag, source: &Source) {
        let data = match block_bytes(tag, source) {
            Ok(d) => d,
            Err(why) => {
                self.warnings.push(format!(
                    "vCPU {cpu}: block {} at offset {:#x}: {why}",
                    tag.label(),
                    tag.at
                ));
                return;
            }
        };
        let words: Vec<u64> = data
            .chunks_exact(8)
            .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")))
            .collect();
        let v = self.vcpus.entry(cpu).or_default();
        match tag.name.as_str() {
            // crash reads this block as rax, rcx, rdx, rbx, rbp, rsp, rsi, rdi,
            // r8-r15: rbp before rsp, unlike the encoding order. It is the only
            // reader of the block, so its order is followed.
            "gpregs" => {
                for (i, &w) in words.iter().take(16).enumerate() {
                    let slot = match i {
                        4 => RBP,
                        5 => RSP,
                        i => i,
                    };
                    v.gpr[slot] = Some(w);
                }
            }
            "CR64" => {
                for (cr, &w) in v.cr.iter_mut().zip(&words) {
                    *cr = Some(w);
                }
            }
            _ => {
                // u16 limit, then the 64-bit base.
                if data.len() >= 10 {
                    v.idt_limit = Some(u64::from(u16::from_le_bytes([data[0], data[1]])));
                    v.idt_base64 =
                        Some(u64::from_le_bytes(data[2..10].try_into().expect("8 bytes")));
                }
            }
        }
    }

    /// One `NT_PRSTATUS` and one `QEMU` note per vCPU that has at least RIP and
    /// RSP, in vCPU order; a warning names each vCPU left out or incomplete.
    fn notes(&mut self) -> Vec<Note> {
        let mut notes = Vec::new();
        for (&cpu, v) in &self.vcpus {
            let (Some(rip), Some(rsp)) = (v.rip, v.gpr[RSP]) else {
                self.warnings.push(format!(
                    "vCPU {cpu}: no saved RIP or RSP in the cpu group: no registers for it"
                ));
                continue;
            };
            let missing = v.missing();
            if !missing.is_empty() {
                self.warnings.push(format!(
                    "vCPU {cpu}: no saved {}: read as 0",
                    missing.join(", ")
                ));
            }
            let g = |i: usize| v.gpr[i].unwrap_or(0);
            let kernel_mode = rip >= 0xffff_8000_0000_0000;
            let (cs, ss) = match (v.selectors[CS], v.selectors[SS]) {
                (Some(cs), Some(ss)) => (cs, ss),
                _ if kernel_mode => KERNEL_CS_SS,
                _ => USER_CS_SS,
            };
            let sel = |i: usize| v.selectors[i].unwrap_or(0);
            let rflags = v.rflags.unwrap_or(0);
            let (fs_base, gs_base) = (v.fs_base.unwrap_or(0), v.gs_base.unwrap_or(0));
            // user_regs_struct order (r15 ... gs): the kernel's pt_regs plus bases.
            let pr_reg = [
                g(15),
                g(14),
                g(13),
                g(12),
                g(RBP),
                g(3),
                g(11),
                g(10),
                g(9),
                g(8),
                g(0),
                g(1),
                g(2),
                g(6),
                g(7),
                u64::MAX, // orig_rax: no system call
                rip,
                cs,
                rflags,
                rsp,
                ss,
                fs_base,
                gs_base,
                sel(DS),
                sel(ES),
                sel(FS),
                sel(GS),
            ];
            notes.push(prstatus(&pr_reg));
            notes.push(qemu_cpu_state(v, rip, rsp, rflags, cs, ss));
        }
        notes
    }
}

/// A register a scalar tag names.
#[derive(Debug, Clone, Copy)]
enum Field {
    Gpr(usize),
    Rip,
    Rflags,
    Cr(usize),
    IdtLimit,
    /// 1: low 32 bits, 2: high 32 bits.
    IdtBase(usize),
    Selector(usize),
    FsBase,
    GsBase,
}

impl Field {
    /// `name[cpu][sub]` as crash reads them.
    fn of(name: &str, sub: Option<usize>) -> Option<Field> {
        Some(match (name, sub) {
            (_, None) if GPR_NAMES.contains(&name) => {
                Field::Gpr(GPR_NAMES.iter().position(|n| *n == name)?)
            }
            ("rip", None) => Field::Rip,
            // crash accepts either spelling.
            ("eflags" | "EFLAGS", None) => Field::Rflags,
            ("CR64", Some(n @ 0..=4)) => Field::Cr(n),
            ("IDTR", Some(0)) => Field::IdtLimit,
            ("IDTR", Some(n @ 1..=2)) => Field::IdtBase(n),
            ("S", Some(n @ 0..=7)) => Field::Selector(n),
            ("S.base64", Some(FS)) => Field::FsBase,
            ("S.base64", Some(GS)) => Field::GsBase,
            _ => return None,
        })
    }
}

impl Vcpu {
    fn set(&mut self, field: Field, x: u64) {
        match field {
            Field::Gpr(i) => self.gpr[i] = Some(x),
            Field::Rip => self.rip = Some(x),
            Field::Rflags => self.rflags = Some(x),
            Field::Cr(n) => self.cr[n] = Some(x),
            Field::IdtLimit => self.idt_limit = Some(x),
            Field::IdtBase(n) => self.idt_base[n - 1] = Some(x & 0xffff_ffff),
            Field::Selector(n) => self.selectors[n] = Some(x),
            Field::FsBase => self.fs_base = Some(x),
            Field::GsBase => self.gs_base = Some(x),
        }
    }

    fn missing(&self) -> Vec<&'static str> {
        let mut names: Vec<&str> = GPR_NAMES
            .iter()
            .zip(&self.gpr)
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| *n)
            .collect();
        if self.rflags.is_none() {
            names.push("rflags");
        }
        for (n, cr) in ["cr0", "cr1", "cr2", "cr3", "cr4"].iter().zip(&self.cr) {
            if cr.is_none() {
                names.push(n);
            }
        }
        if self.idt_base().is_none() {
            names.push("IDT base");
        }
        names
    }

    fn idt_base(&self) -> Option<u64> {
        self.idt_base64.or(match self.idt_base {
            [Some(lo), Some(hi)] => Some(hi << 32 | lo),
            _ => None,
        })
    }
}

/// A block's bytes, decompressed when it is compressed (zlib), bounded in size.
fn block_bytes(tag: &Tag, source: &Source) -> Result<Vec<u8>, String> {
    let Value::Block {
        offset,
        stored,
        in_memory,
        compressed,
    } = tag.value
    else {
        return Err("not a block".into());
    };
    if stored > MAX_BLOCK || in_memory > MAX_BLOCK {
        return Err(format!(
            "{stored} bytes stored, {in_memory} in memory: too big for registers"
        ));
    }
    let data = source
        .bytes(offset, stored as usize)
        .ok_or("runs past the end of the file")?;
    if !compressed {
        return Ok(data.into_owned());
    }
    let mut out = vec![0; in_memory as usize];
    compress::decompress(Compression::Zlib, &data, &mut out)?;
    Ok(out)
}

/// An x86-64 `struct elf_prstatus` with only `pr_reg` set.
fn prstatus(pr_reg: &[u64; 27]) -> Note {
    const PR_REG: usize = 112;
    const SIZE: usize = 336;
    let mut desc = vec![0u8; SIZE];
    for (i, w) in pr_reg.iter().enumerate() {
        desc[PR_REG + 8 * i..PR_REG + 8 * i + 8].copy_from_slice(&w.to_le_bytes());
    }
    Note {
        name: "CORE".into(),
        kind: NT_PRSTATUS,
        desc,
    }
}

/// QEMU's `QEMUCPUState` (version 1, 440 bytes), the note crash reads CR3, CR4 and
/// the IDT from when a dump has no VMCOREINFO.
fn qemu_cpu_state(v: &Vcpu, rip: u64, rsp: u64, rflags: u64, cs: u64, ss: u64) -> Note {
    const SIZE: usize = 440;
    let mut desc = Vec::with_capacity(SIZE);
    desc.extend(1u32.to_le_bytes());
    desc.extend((SIZE as u32).to_le_bytes());
    let g = |i: usize| v.gpr[i].unwrap_or(0);
    // rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8-r15
    let gprs = [g(0), g(3), g(1), g(2), g(6), g(7), rsp, g(RBP)];
    for w in gprs
        .iter()
        .chain(&[g(8), g(9), g(10), g(11), g(12), g(13), g(14), g(15)])
    {
        desc.extend(w.to_le_bytes());
    }
    desc.extend(rip.to_le_bytes());
    desc.extend(rflags.to_le_bytes());
    let segment = |desc: &mut Vec<u8>, selector: u64, limit: u64, base: u64| {
        desc.extend((selector as u32).to_le_bytes());
        desc.extend((limit as u32).to_le_bytes());
        desc.extend(0u32.to_le_bytes()); // flags
        desc.extend(0u32.to_le_bytes()); // pad
        desc.extend(base.to_le_bytes());
    };
    let sel = |i: usize| v.selectors[i].unwrap_or(0);
    // cs, ds, es, fs, gs, ss, ldt, tr, gdt, idt
    segment(&mut desc, cs, 0, 0);
    segment(&mut desc, sel(DS), 0, 0);
    segment(&mut desc, sel(ES), 0, 0);
    segment(&mut desc, sel(FS), 0, v.fs_base.unwrap_or(0));
    segment(&mut desc, sel(GS), 0, v.gs_base.unwrap_or(0));
    segment(&mut desc, ss, 0, 0);
    segment(&mut desc, sel(6), 0, 0);
    segment(&mut desc, sel(7), 0, 0);
    segment(&mut desc, 0, 0, 0);
    segment(
        &mut desc,
        0,
        v.idt_limit.unwrap_or(0),
        v.idt_base().unwrap_or(0),
    );
    for cr in &v.cr {
        desc.extend(cr.unwrap_or(0).to_le_bytes());
    }
    desc.extend(0u64.to_le_bytes()); // kernel_gs_base: not saved by VMware
    Note {
        name: "QEMU".into(),
        kind: 0,
        desc,
    }
}

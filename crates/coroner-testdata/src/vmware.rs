//! VMware checkpoints (`.vmss`, `.vmsn`) and memory files (`.vmem`) made from a
//! real QEMU ELF dump, for tests: no public sample exists. The layout follows what
//! crash's `vmware_vmss.c` and volatility3's VMware layer read (facts in
//! `../shared/research/vmware.md`, §1 and §4.3), including their quirks: crash
//! 8.0.2 reads `numgroups × 6400` bytes of group table (so the table is padded),
//! volatility3 ignores a block's pad (so the `memory` group has only 4-byte scalars
//! unless memory is inline, which volatility3 does not read anyway) and needs
//! `regionsCount > 0`.
//!
//! The ELF is parsed here, not by coroner-dump: the files test that reader.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// What every reader accepts (crash, volatility 2 and 3, LeechCore).
pub const MAGIC: u32 = 0xbed2_bed2;
/// Other 64-bit magics crash accepts: "restored" and "partial".
pub const MAGIC_RESTORED: u32 = 0xbad1_bad1;
pub const MAGIC_PARTIAL: u32 = 0xbed3_bed3;
const GROUP_DESC: u64 = 80;
const PAGE: u64 = 4096;

/// One tag with an inline value (0..=61 bytes).
pub fn scalar(name: &str, indices: &[u32], value: &[u8]) -> Vec<u8> {
    assert!(value.len() <= 61 && indices.len() <= 3 && name.len() <= 255);
    tag_head(name, indices, value.len() as u8)
        .into_iter()
        .chain(value.iter().copied())
        .collect()
}

/// One block tag: `stored` bytes follow a pad of `pad` bytes; `in_memory` is the
/// size once decompressed. The data itself is not included.
pub fn block_head(
    name: &str,
    indices: &[u32],
    stored: u64,
    in_memory: u64,
    pad: u16,
    compressed: bool,
) -> Vec<u8> {
    let mut v = tag_head(name, indices, if compressed { 62 } else { 63 });
    v.extend(stored.to_le_bytes());
    v.extend(in_memory.to_le_bytes());
    v.extend(pad.to_le_bytes());
    v.resize(v.len() + usize::from(pad), 0);
    v
}

/// A whole block tag, uncompressed or zlib-compressed, without pad.
pub fn block(name: &str, indices: &[u32], data: &[u8], compressed: bool) -> Vec<u8> {
    let stored = if compressed {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(data).unwrap();
        z.finish().unwrap()
    } else {
        data.to_vec()
    };
    let mut v = block_head(
        name,
        indices,
        stored.len() as u64,
        data.len() as u64,
        0,
        compressed,
    );
    v.extend(stored);
    v
}

fn tag_head(name: &str, indices: &[u32], valsize: u8) -> Vec<u8> {
    let mut v = vec![(indices.len() as u8) << 6 | valsize, name.len() as u8];
    v.extend(name.as_bytes());
    for i in indices {
        v.extend(i.to_le_bytes());
    }
    v
}

/// A group: its tags (without the end marker), and optionally an inline `Memory`
/// block of that many bytes after them, its data aligned to a page.
pub struct Group {
    pub name: &'static str,
    pub tags: Vec<u8>,
    pub inline_memory: Option<u64>,
}

/// A checkpoint file: header, padded group table, then each group's tags.
pub struct Checkpoint {
    pub magic: u32,
    pub groups: Vec<Group>,
}

impl Checkpoint {
    /// Writes the file; `memory` writes the inline memory's bytes when asked.
    pub fn write(
        &self,
        out: &mut dyn Write,
        memory: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        let n = self.groups.len() as u64;
        // crash 8.0.2 reads numgroups * 80 descriptors of 80 bytes.
        let mut pos = 12 + n * GROUP_DESC * GROUP_DESC;
        let mut streams = Vec::new();
        let mut table = Vec::new();
        for g in &self.groups {
            let mut head = g.tags.clone();
            let mut tail = Vec::new();
            if let Some(len) = g.inline_memory {
                let header = block_head("Memory", &[0, 0], len, len, 0, false).len() as u64;
                let data_at = pos + head.len() as u64 + header;
                let pad = (PAGE - data_at % PAGE) % PAGE;
                head.extend(block_head("Memory", &[0, 0], len, len, pad as u16, false));
            }
            tail.extend([0, 0]);
            let size = head.len() as u64 + g.inline_memory.unwrap_or(0) + tail.len() as u64;
            let mut name = [0u8; 64];
            name[..g.name.len()].copy_from_slice(g.name.as_bytes());
            table.extend(name);
            table.extend(pos.to_le_bytes());
            table.extend(size.to_le_bytes());
            streams.push((head, g.inline_memory.is_some(), tail));
            pos += size;
        }
        out.write_all(&self.magic.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?; // version: no reader uses it
        out.write_all(&(n as u32).to_le_bytes())?;
        table.resize((n * GROUP_DESC * GROUP_DESC) as usize, 0);
        out.write_all(&table)?;
        for (head, inline, tail) in streams {
            out.write_all(&head)?;
            if inline {
                memory(out)?;
            }
            out.write_all(&tail)?;
        }
        Ok(())
    }

    /// The file in memory, with `memory` as the inline memory's bytes.
    pub fn to_bytes(&self, memory: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        self.write(&mut v, &mut |w| w.write_all(memory)).unwrap();
        v
    }
}

/// Guest pages `[ppn, ppn + pages)` at memory-file page `page_num`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub ppn: u64,
    pub page_num: u64,
    pub pages: u64,
}

/// `regionsCount` and each region's three tags, 4-byte scalars with one index.
pub fn region_tags(regions: &[Region]) -> Vec<u8> {
    let mut v = scalar("regionsCount", &[], &(regions.len() as u32).to_le_bytes());
    for (i, r) in regions.iter().enumerate() {
        let i = i as u32;
        v.extend(scalar(
            "regionPageNum",
            &[i],
            &(r.page_num as u32).to_le_bytes(),
        ));
        v.extend(scalar("regionPPN", &[i], &(r.ppn as u32).to_le_bytes()));
        v.extend(scalar("regionSize", &[i], &(r.pages as u32).to_le_bytes()));
    }
    v
}

/// One vCPU's state, from a QEMU ELF's `NT_PRSTATUS` and `QEMU` notes.
#[derive(Debug, Clone)]
pub struct Vcpu {
    /// `user_regs_struct`: r15 ... gs (27 words).
    pub pr_reg: [u64; 27],
    pub cr: [u64; 5],
    pub idt_base: u64,
    pub idt_limit: u32,
    pub ldt_selector: u32,
    pub tr_selector: u32,
}

/// user_regs_struct word of each register in the x86 encoding order.
const PR_GPR: [usize; 16] = [10, 11, 12, 5, 19, 4, 13, 14, 9, 8, 7, 6, 3, 2, 1, 0];
const PR_RIP: usize = 16;
const PR_RFLAGS: usize = 18;
const GPR_NAMES: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];

impl Vcpu {
    fn gpr(&self, i: usize) -> u64 {
        self.pr_reg[PR_GPR[i]]
    }

    /// Selectors in VMware's `S[cpu][seg]` order: ES, CS, SS, DS, FS, GS, LDTR, TR.
    fn selectors(&self) -> [u32; 8] {
        let p = |i: usize| self.pr_reg[i] as u32;
        [
            p(24),
            p(17),
            p(20),
            p(23),
            p(25),
            p(26),
            self.ldt_selector,
            self.tr_selector,
        ]
    }
}

/// How a vCPU's registers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuTags {
    /// One scalar tag per register (`rax[c]`, `CR64[c][n]`, `IDTR[c][1..2]`, ...),
    /// as crash 8.0.2 reads them all.
    Scalars,
    /// `gpregs[c]`, a zlib-compressed `CR64[c]` and an `IDTR[c]` block (crash's
    /// order for `gpregs`: rbp before rsp).
    Blocks,
}

/// The `cpu` group's tags: `cpu:numVCPUs` first (crash needs it first).
pub fn cpu_tags(vcpus: &[Vcpu], form: CpuTags) -> Vec<u8> {
    let mut v = scalar("cpu:numVCPUs", &[], &(vcpus.len() as u32).to_le_bytes());
    for (c, cpu) in vcpus.iter().enumerate() {
        let c = c as u32;
        match form {
            CpuTags::Scalars => {
                for (i, name) in GPR_NAMES.iter().enumerate() {
                    v.extend(scalar(name, &[c], &cpu.gpr(i).to_le_bytes()));
                }
                for (n, cr) in cpu.cr.iter().enumerate() {
                    v.extend(scalar("CR64", &[c, n as u32], &cr.to_le_bytes()));
                }
                v.extend(scalar(
                    "IDTR",
                    &[c, 0],
                    &(cpu.idt_limit as u16).to_le_bytes(),
                ));
                v.extend(scalar(
                    "IDTR",
                    &[c, 1],
                    &(cpu.idt_base as u32).to_le_bytes(),
                ));
                v.extend(scalar(
                    "IDTR",
                    &[c, 2],
                    &((cpu.idt_base >> 32) as u32).to_le_bytes(),
                ));
            }
            CpuTags::Blocks => {
                let order = [0, 1, 2, 3, 5, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
                let gp: Vec<u8> = order
                    .iter()
                    .flat_map(|&i| cpu.gpr(i).to_le_bytes())
                    .collect();
                v.extend(block("gpregs", &[c], &gp, false));
                let mut crs: Vec<u8> = cpu.cr.iter().flat_map(|w| w.to_le_bytes()).collect();
                crs.resize(9 * 8, 0); // CR0..CR8
                v.extend(block("CR64", &[c], &crs, true));
                let mut idt = (cpu.idt_limit as u16).to_le_bytes().to_vec();
                idt.extend(cpu.idt_base.to_le_bytes());
                v.extend(block("IDTR", &[c], &idt, false));
            }
        }
        v.extend(scalar("rip", &[c], &cpu.pr_reg[PR_RIP].to_le_bytes()));
        v.extend(scalar(
            "eflags",
            &[c],
            &(cpu.pr_reg[PR_RFLAGS] as u32).to_le_bytes(),
        ));
        for (seg, sel) in cpu.selectors().iter().enumerate() {
            v.extend(scalar("S", &[c, seg as u32], &sel.to_le_bytes()));
        }
        v.extend(scalar("S.base64", &[c, 4], &cpu.pr_reg[21].to_le_bytes()));
        v.extend(scalar("S.base64", &[c, 5], &cpu.pr_reg[22].to_le_bytes()));
    }
    v
}

/// One PT_LOAD of physical memory: `filesz` bytes at `offset`, zeros up to `memsz`.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub paddr: u64,
    pub offset: u64,
    pub filesz: u64,
    pub memsz: u64,
}

/// The parts of a QEMU ELF dump the generator needs (or of an ELF vmcore with the
/// same notes, such as `coroner convert` writes from a QEMU dump's kdump file).
pub struct QemuElf {
    pub path: PathBuf,
    /// The PT_LOADs of physical memory, without kexec's kernel-text one (mapped at
    /// the kernel's virtual address, over RAM another PT_LOAD holds).
    pub loads: Vec<Load>,
    pub vcpus: Vec<Vcpu>,
}

impl QemuElf {
    pub fn read(path: &Path) -> QemuElf {
        let mut f = File::open(path).expect("open QEMU ELF");
        let mut head = [0u8; 64];
        f.read_exact(&mut head).unwrap();
        let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let (phoff, phnum) = (u64_at(&head, 32), u16::from_le_bytes([head[56], head[57]]));
        let mut table = vec![0u8; 56 * phnum as usize];
        f.seek(SeekFrom::Start(phoff)).unwrap();
        f.read_exact(&mut table).unwrap();
        let (mut loads, mut prstatus, mut qemu) = (Vec::new(), Vec::new(), Vec::new());
        for ph in table.chunks_exact(56) {
            let (offset, paddr, filesz) = (u64_at(ph, 8), u64_at(ph, 24), u64_at(ph, 32));
            match u32_at(ph, 0) {
                1 if u64_at(ph, 16) < 0xffff_ffff_8000_0000 => loads.push(Load {
                    paddr,
                    offset,
                    filesz,
                    memsz: u64_at(ph, 40),
                }),
                4 => {
                    let mut notes = vec![0u8; filesz as usize];
                    f.seek(SeekFrom::Start(offset)).unwrap();
                    f.read_exact(&mut notes).unwrap();
                    let mut p = 0;
                    while p + 12 <= notes.len() {
                        let (n, d) = (u32_at(&notes, p) as usize, u32_at(&notes, p + 4) as usize);
                        let name = &notes[p + 12..p + 12 + n];
                        let desc_at = p + 12 + n.div_ceil(4) * 4;
                        let desc = notes[desc_at..desc_at + d].to_vec();
                        if name.starts_with(b"CORE\0") && u32_at(&notes, p + 8) == 1 {
                            prstatus.push(desc);
                        } else if name.starts_with(b"QEMU\0") {
                            qemu.push(desc);
                        }
                        p = desc_at + d.div_ceil(4) * 4;
                    }
                }
                _ => {}
            }
        }
        let vcpus = prstatus
            .iter()
            .zip(&qemu)
            .map(|(pr, q)| {
                let mut pr_reg = [0u64; 27];
                for (i, w) in pr_reg.iter_mut().enumerate() {
                    *w = u64_at(pr, 112 + 8 * i);
                }
                // QEMUCPUState: segments from 152 (24 bytes each: cs ds es fs gs ss
                // ldt tr gdt idt), then cr[5].
                let seg = |i: usize| 152 + 24 * i;
                let mut cr = [0u64; 5];
                for (n, w) in cr.iter_mut().enumerate() {
                    *w = u64_at(q, 392 + 8 * n);
                }
                Vcpu {
                    pr_reg,
                    cr,
                    idt_base: u64_at(q, seg(9) + 16),
                    idt_limit: u32_at(q, seg(9) + 4),
                    ldt_selector: u32_at(q, seg(6)),
                    tr_selector: u32_at(q, seg(7)),
                }
            })
            .collect();
        QemuElf {
            path: path.to_path_buf(),
            loads,
            vcpus,
        }
    }

    /// Copies guest physical `[start, end)` from the ELF to `out`: the range may
    /// span adjacent PT_LOADs; bytes past a PT_LOAD's `p_filesz` are zeros.
    pub(crate) fn copy(&self, mut start: u64, end: u64, out: &mut dyn Write) -> io::Result<()> {
        let mut f = File::open(&self.path)?;
        while start < end {
            let l = self
                .loads
                .iter()
                .find(|l| l.paddr <= start && start < l.paddr + l.memsz)
                .expect("range inside the PT_LOADs");
            let stop = end.min(l.paddr + l.memsz);
            let stored = stop.min(l.paddr + l.filesz).saturating_sub(start);
            f.seek(SeekFrom::Start(l.offset + start - l.paddr))?;
            let copied = io::copy(&mut (&mut f).take(stored), out)?;
            assert_eq!(copied, stored);
            io::copy(&mut io::repeat(0).take(stop - start - stored), out)?;
            start = stop;
        }
        Ok(())
    }

    /// Guest RAM as `(first page, pages)` per run of adjacent PT_LOADs, in address
    /// order: QEMU's firmware (the BIOS ROM) is mapped in `[3.5 GiB, 4 GiB)`, where
    /// a PC guest has no RAM.
    pub fn ram(&self) -> Vec<(u64, u64)> {
        let mut loads: Vec<(u64, u64)> = self
            .loads
            .iter()
            .filter(|l| !(0xe000_0000..1 << 32).contains(&l.paddr))
            .map(|l| (l.paddr / PAGE, l.memsz / PAGE))
            .collect();
        loads.sort_unstable();
        let mut ram: Vec<(u64, u64)> = Vec::new();
        for (p, n) in loads {
            match ram.last_mut() {
                Some((q, m)) if *q + *m == p => *m += n,
                _ => ram.push((p, n)),
            }
        }
        ram
    }

    /// Pages of the RAM at physical 0.
    fn low_pages(&self) -> u64 {
        let ram = self.ram();
        assert_eq!(ram[0].0, 0, "RAM at 0");
        ram[0].1
    }

    fn has_ram(&self, r: &Region) -> bool {
        self.ram()
            .iter()
            .any(|&(p, n)| p <= r.ppn && r.ppn + r.pages <= p + n)
    }
}

/// Bytes of a page the guest never had, placed above 4 GiB: its guest page
/// number, repeated, so a test can tell which page a read landed on.
pub fn filler_page(ppn: u64) -> Vec<u8> {
    ppn.to_le_bytes().repeat(PAGE as usize / 8)
}

/// The memory file of `regions` (in memory-file order): guest pages from the ELF,
/// or filler pages where the ELF has none.
pub fn write_memory(elf: &QemuElf, regions: &[Region], out: &mut dyn Write) -> io::Result<()> {
    let mut sorted = regions.to_vec();
    sorted.sort_by_key(|r| r.page_num);
    for r in sorted {
        if elf.has_ram(&r) {
            elf.copy(r.ppn * PAGE, (r.ppn + r.pages) * PAGE, out)?;
        } else {
            for p in r.ppn..r.ppn + r.pages {
                out.write_all(&filler_page(p))?;
            }
        }
    }
    Ok(())
}

/// The VMware files the tests use, made from a crash's QEMU ELF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `.vmss` + `.vmem`, one region (guest RAM at file offset = guest address),
    /// scalar register tags, magic 0xbed2bed2: what crash and volatility3 both read.
    Vmss,
    /// `.vmsn` + `.vmem`, three regions: RAM below the legacy VGA hole, RAM above
    /// 1 MiB (so the kernel's pages sit at file offsets 384 KiB lower than their
    /// addresses), and 256 filler pages at 4 GiB (the guest had 512 MiB: these
    /// make the hole below 4 GiB real and the arithmetic above it checkable); the
    /// registers in blocks, `CR64` compressed; magic 0xbed3bed3.
    VmsnHoles,
    /// `.vmsn` with memory inline (a `Memory[0][0]` block, page-aligned), the first
    /// two regions of `VmsnHoles`; magic 0xbad1bad1.
    VmsnInline,
    /// The `Vmss` memory file alone, in a folder without its checkpoint.
    VmemAlone,
}

/// Filler pages at 4 GiB in [`Variant::VmsnHoles`].
pub const FILLER_PAGES: u64 = 256;
const VGA_HOLE: (u64, u64) = (0xa0, 0x100);

pub fn regions(variant: Variant, elf: &QemuElf) -> Vec<Region> {
    if matches!(variant, Variant::Vmss | Variant::VmemAlone) {
        // One region per RAM range of the guest, packed in the memory file as
        // VMware packs them: a guest over 3.5 GiB gets a real hole below 4 GiB.
        let mut page_num = 0;
        return elf
            .ram()
            .into_iter()
            .map(|(ppn, pages)| {
                let r = Region {
                    ppn,
                    page_num,
                    pages,
                };
                page_num += pages;
                r
            })
            .collect();
    }
    let low = Region {
        ppn: 0,
        page_num: 0,
        pages: VGA_HOLE.0,
    };
    let above_1m = Region {
        ppn: VGA_HOLE.1,
        page_num: VGA_HOLE.0,
        pages: elf.low_pages() - VGA_HOLE.1,
    };
    match variant {
        Variant::VmsnInline => vec![low, above_1m],
        _ => vec![
            low,
            above_1m,
            Region {
                ppn: (4 << 30) / PAGE,
                page_num: above_1m.page_num + above_1m.pages,
                pages: FILLER_PAGES,
            },
        ],
    }
}

/// The checkpoint of `variant` (its memory group's regions and tags).
pub fn checkpoint(variant: Variant, elf: &QemuElf) -> Checkpoint {
    let regions = regions(variant, elf);
    let form = match variant {
        Variant::VmsnHoles => CpuTags::Blocks,
        _ => CpuTags::Scalars,
    };
    let magic = match variant {
        Variant::VmsnHoles => MAGIC_PARTIAL,
        Variant::VmsnInline => MAGIC_RESTORED,
        _ => MAGIC,
    };
    let inline = (variant == Variant::VmsnInline)
        .then(|| regions.iter().map(|r| r.pages).sum::<u64>() * PAGE);
    let ram: u64 = elf.ram().iter().map(|(_, pages)| pages).sum();
    let mem_mb = ((ram * PAGE) >> 20) as u32;
    Checkpoint {
        magic,
        groups: vec![
            Group {
                name: "Checkpoint",
                tags: scalar("memSize", &[], &mem_mb.to_le_bytes()),
                inline_memory: None,
            },
            Group {
                name: "cpu",
                tags: cpu_tags(&elf.vcpus, form),
                inline_memory: None,
            },
            Group {
                name: "memory",
                tags: [
                    scalar("align_mask", &[0, 0], &0xffffu32.to_le_bytes()),
                    region_tags(&regions),
                ]
                .concat(),
                inline_memory: inline,
            },
        ],
    }
}

/// The file to open for `variant` of `crash` (made on first use under
/// `target/fixture-cache/<crash>/vmware-*/`), or `None` without a QEMU ELF.
pub fn generate(crash: &str, variant: Variant) -> Option<PathBuf> {
    let elf = crate::qemu_elf(crash)?;
    let dir_name = match variant {
        Variant::Vmss => "vmware-vmss",
        Variant::VmsnHoles => "vmware-holes",
        Variant::VmsnInline => "vmware-inline",
        Variant::VmemAlone => "vmware-alone",
    };
    let dir = crate::cache_dir(crash).join(dir_name);
    if variant == Variant::VmemAlone {
        // The Vmss memory file, linked into a folder without its checkpoint.
        let vmem = generate(crash, Variant::Vmss)?.with_extension("vmem");
        return Some(link_alone(&vmem, &dir));
    }
    Some(generate_from(&elf, &dir, crash, variant))
}

/// `vmem` hard-linked (else copied) into `dir`, where no checkpoint is beside it.
pub fn link_alone(vmem: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create VMware fixture folder");
    crate::produce(&dir.join(vmem.file_name().expect("a file")), |tmp| {
        if std::fs::hard_link(vmem, tmp).is_err() {
            std::fs::copy(vmem, tmp).expect("copy .vmem");
        }
    })
}

/// [`generate`] from any QEMU ELF, into `dir`, as `<stem>.vmss` and so on. The
/// variants that split the RAM at 1 MiB need a guest whose RAM is below 3.5 GiB.
pub fn generate_from(elf_path: &Path, dir: &Path, stem: &str, variant: Variant) -> PathBuf {
    let elf = QemuElf::read(elf_path);
    std::fs::create_dir_all(dir).expect("create VMware fixture folder");
    let write_to = |path: &Path, f: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>| {
        let mut out = BufWriter::new(File::create(path).expect("create VMware file"));
        f(&mut out)
            .and_then(|()| out.flush())
            .expect("write VMware file");
    };
    let regions = regions(variant, &elf);
    let memory = |tmp: &Path| write_to(tmp, &mut |w| write_memory(&elf, &regions, w));
    let checkpoint_file = |ext: &str| {
        let cp = checkpoint(variant, &elf);
        crate::produce(&dir.join(format!("{stem}.{ext}")), |tmp| {
            write_to(tmp, &mut |w| {
                cp.write(w, &mut |m| write_memory(&elf, &regions, m))
            })
        })
    };
    match variant {
        Variant::Vmss => {
            crate::produce(&dir.join(format!("{stem}.vmem")), memory);
            checkpoint_file("vmss")
        }
        Variant::VmsnHoles => {
            crate::produce(&dir.join(format!("{stem}.vmem")), memory);
            checkpoint_file("vmsn")
        }
        Variant::VmsnInline => checkpoint_file("vmsn"),
        Variant::VmemAlone => crate::produce(&dir.join(format!("{stem}.vmem")), memory),
    }
}

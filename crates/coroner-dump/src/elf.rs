//! ELF vmcores: PT_LOAD segments map physical addresses to file offsets (bytes past
//! `p_filesz` up to `p_memsz` read as zeros); PT_NOTE segments hold the notes.
//! Header fields are read at their ELF64 offsets; QEMU 7.2 writes a wrong `e_ehsize`
//! and puts program headers after section headers, so neither is assumed.

use crate::compress::Compression;
use crate::error::{Context, DumpError, ReadError};
use crate::memory::{merge_ranges, Body, DumpInfo, Format, PageCensus, PageState};
use crate::notes::{self, Note};
use crate::source::Source;

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const PN_XNUM: u16 = 0xffff;
const PHDR_SIZE: u64 = 56;
/// Upper bound for one PT_NOTE segment: thousands of CPUs' notes fit in far less.
const MAX_NOTE_BYTES: u64 = 64 << 20;
/// Upper bound for program headers; makedumpfile -E writes one per run of kept pages.
const MAX_PHDRS: u64 = 1 << 22;
const PAGE_SIZE: u64 = 4096;
/// Link address of the x86-64 kernel image.
const X86_64_START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;

#[derive(Debug, Clone, Copy)]
struct Segment {
    paddr: u64,
    memsz: u64,
    filesz: u64,
    offset: u64,
}

pub(crate) struct ElfBody {
    source: Source,
    /// Sorted by physical address.
    segments: Vec<Segment>,
}

fn machine_name(e_machine: u16) -> String {
    match e_machine {
        62 => "x86_64".into(),
        183 => "aarch64".into(),
        3 => "i386".into(),
        21 => "ppc64".into(),
        22 => "s390x".into(),
        243 => "riscv64".into(),
        other => format!("elf-machine-{other}"),
    }
}

pub(crate) fn open(
    source: Source,
    ctx: &Context,
) -> Result<(Body, DumpInfo, Vec<Note>), DumpError> {
    let header = source
        .bytes(0, 64)
        .ok_or_else(|| ctx.format(source.len(), "file ends inside the 64-byte ELF header"))?;
    match (header[4], header[5]) {
        (2, 1) => {}
        (1, _) => {
            return Err(ctx.format(
                4,
                "32-bit ELF dumps are not supported (expected ELFCLASS64)",
            ))
        }
        (2, 2) => {
            return Err(ctx.format(
                5,
                "big-endian ELF dumps are not supported (expected ELFDATA2LSB)",
            ))
        }
        (class, data) => {
            return Err(ctx.format(
                4,
                format!("ELF class {class} / data encoding {data} is not a valid ELF64 header"),
            ))
        }
    }
    let u16_at = |o: usize| u16::from_le_bytes([header[o], header[o + 1]]);
    let u64_at = |o: usize| u64::from_le_bytes(header[o..o + 8].try_into().expect("8 bytes"));
    if u16_at(16) != 4 {
        return Err(ctx.format(
            16,
            format!("ELF type {} is not a core file (ET_CORE = 4)", u16_at(16)),
        ));
    }
    let machine = u16_at(18);
    let phoff = u64_at(32);
    let mut phnum = u64::from(u16_at(56));
    if u16_at(54) as u64 != PHDR_SIZE {
        return Err(ctx.format(
            54,
            format!("program header size {} (expected {PHDR_SIZE})", u16_at(54)),
        ));
    }
    if phnum == u64::from(PN_XNUM) {
        // The real count lives in section header 0's sh_info.
        let shoff = u64_at(40);
        let sh_info = source.bytes(shoff.saturating_add(44), 4).ok_or_else(|| {
            ctx.format(shoff, "e_phnum is PN_XNUM but section header 0 is missing")
        })?;
        phnum = u64::from(u32::from_le_bytes(
            sh_info[..4].try_into().expect("4 bytes"),
        ));
    }
    if phnum > MAX_PHDRS {
        return Err(ctx.format(
            56,
            format!("{phnum} program headers is more than any dump has"),
        ));
    }
    let table_len = phnum * PHDR_SIZE;
    let table = source.bytes(phoff, table_len as usize).ok_or_else(|| {
        ctx.format(
            phoff,
            format!("program header table ({phnum} entries) runs past the end of the file"),
        )
    })?;
    let mut segments = Vec::new();
    let mut notes = Vec::new();
    let mut warnings = Vec::new();
    let mut phys_base = None;
    for i in 0..phnum as usize {
        let ph = &table[i * PHDR_SIZE as usize..(i + 1) * PHDR_SIZE as usize];
        let word = |o: usize| u64::from_le_bytes(ph[o..o + 8].try_into().expect("8 bytes"));
        let p_type = u32::from_le_bytes(ph[0..4].try_into().expect("4 bytes"));
        let (offset, paddr, filesz, memsz) = (word(8), word(24), word(32), word(40));
        let at = phoff + i as u64 * PHDR_SIZE;
        match p_type {
            PT_LOAD => {
                if filesz > memsz {
                    return Err(ctx.format(
                        at,
                        format!("PT_LOAD p_filesz {filesz:#x} exceeds p_memsz {memsz:#x}"),
                    ));
                }
                if paddr.checked_add(memsz).is_none() || offset.checked_add(filesz).is_none() {
                    return Err(ctx.format(at, "PT_LOAD address or offset overflows"));
                }
                // kexec-tools maps the x86-64 kernel image with a PT_LOAD at its link
                // address: where it really sits gives phys_base (as makedumpfile
                // finds it), needed by kernels older than 4.10, whose VMCOREINFO
                // has no NUMBER(phys_base).
                let vaddr = word(16);
                if machine == 62 && vaddr >= X86_64_START_KERNEL_MAP && phys_base.is_none() {
                    phys_base = Some(paddr.wrapping_sub(vaddr - X86_64_START_KERNEL_MAP));
                }
                segments.push(Segment {
                    paddr,
                    memsz,
                    filesz,
                    offset,
                });
            }
            PT_NOTE => {
                if filesz > MAX_NOTE_BYTES {
                    return Err(ctx.format(
                        at,
                        format!("PT_NOTE of {filesz} bytes is implausibly large"),
                    ));
                }
                let avail = source.len().saturating_sub(offset).min(filesz);
                if avail < filesz {
                    warnings.push(format!(
                        "PT_NOTE at offset {offset:#x} is cut short by the end of the file"
                    ));
                }
                let data = source.bytes(offset, avail as usize).unwrap_or_default();
                let (mut found, err) = notes::parse(&data);
                if let Some((pos, what)) = err {
                    warnings.push(format!(
                        "notes at offset {:#x}: {what}",
                        offset + pos as u64
                    ));
                }
                notes.append(&mut found);
            }
            _ => {}
        }
    }
    segments.sort_by_key(|s| s.paddr);
    // VirtualBox keeps its CPUs' registers in notes of its own.
    let notes = crate::vbox::with_cpu_notes(notes);
    let body = ElfBody { source, segments };
    if let Some((start, end)) = body.missing_ranges().first() {
        warnings.push(format!(
            "the file ends before the data of physical {start:#x}..{end:#x} (and maybe more): the dump is incomplete"
        ));
    }
    let info = DumpInfo {
        format: Format::Elf,
        format_version: None,
        flattened: false,
        page_size: PAGE_SIZE,
        arch: Some(machine_name(machine)),
        dump_level: None,
        header_release: None,
        header_time: None,
        header_cpus: None,
        phys_base,
        max_pfn: body
            .segments
            .iter()
            .map(|s| (s.paddr + s.memsz).div_ceil(PAGE_SIZE))
            .max()
            .unwrap_or(0),
        vmcoreinfo_source: None,
        warnings,
    };
    Ok((Body::Elf(body), info, notes))
}

impl ElfBody {
    fn segment_for(&self, paddr: u64) -> Option<&Segment> {
        let i = self.segments.partition_point(|s| s.paddr <= paddr);
        // Segments may overlap (kexec's kernel-text PT_LOAD): look back for a cover.
        self.segments[..i]
            .iter()
            .rev()
            .take(4)
            .find(|s| paddr < s.paddr + s.memsz)
    }

    pub fn read_phys(&self, mut paddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let mut done = 0;
        while done < buf.len() {
            let seg = self
                .segment_for(paddr)
                .ok_or(ReadError::NotInDump { paddr })?;
            let in_seg = paddr - seg.paddr;
            let n = ((seg.memsz - in_seg) as usize).min(buf.len() - done);
            let out = &mut buf[done..done + n];
            if in_seg >= seg.filesz {
                out.fill(0);
            } else {
                let from_file = ((seg.filesz - in_seg) as usize).min(n);
                let got = self
                    .source
                    .read_at(seg.offset + in_seg, &mut out[..from_file]);
                if got < from_file {
                    return Err(ReadError::Missing {
                        paddr: paddr + got as u64,
                    });
                }
                out[from_file..].fill(0);
            }
            done += n;
            paddr += n as u64;
        }
        Ok(())
    }

    pub fn page_state(&self, pfn: u64) -> PageState {
        let Some(paddr) = pfn.checked_mul(PAGE_SIZE) else {
            return PageState::NotInDump;
        };
        let Some(seg) = self.segment_for(paddr) else {
            return PageState::NotInDump;
        };
        let in_seg = paddr - seg.paddr;
        if in_seg >= seg.filesz {
            PageState::Zero
        } else if seg.offset + in_seg + PAGE_SIZE.min(seg.filesz - in_seg) > self.source.len() {
            PageState::Missing
        } else {
            PageState::Present
        }
    }

    pub fn ram_ranges(&self) -> Vec<(u64, u64)> {
        merge_ranges(
            self.segments
                .iter()
                .map(|s| (s.paddr, s.paddr + s.memsz))
                .collect(),
        )
    }

    pub fn stored_ranges(&self) -> Vec<(u64, u64)> {
        let len = self.source.len();
        merge_ranges(
            self.segments
                .iter()
                .map(|s| {
                    (
                        s.paddr,
                        s.paddr + len.saturating_sub(s.offset).min(s.filesz),
                    )
                })
                .collect(),
        )
    }

    /// Physical ranges whose file bytes lie past the end of the file.
    fn missing_ranges(&self) -> Vec<(u64, u64)> {
        let len = self.source.len();
        merge_ranges(
            self.segments
                .iter()
                .filter(|s| s.offset + s.filesz > len)
                .map(|s| {
                    (
                        s.paddr + len.saturating_sub(s.offset).min(s.filesz),
                        s.paddr + s.filesz,
                    )
                })
                .collect(),
        )
    }

    pub fn census(&self) -> PageCensus {
        let pages = |ranges: &[(u64, u64)]| {
            ranges
                .iter()
                .map(|(s, e)| (e - s).div_ceil(PAGE_SIZE))
                .sum::<u64>()
        };
        let total = pages(&self.ram_ranges());
        let stored = merge_ranges(
            self.segments
                .iter()
                .map(|s| (s.paddr, s.paddr + s.filesz))
                .collect(),
        );
        let missing_ranges = self.missing_ranges();
        let missing = pages(&missing_ranges);
        let stored = pages(&stored);
        let mut census = PageCensus::default();
        census.counts.present = stored.saturating_sub(missing);
        census.counts.missing = missing;
        census.counts.zero = total.saturating_sub(stored);
        census.missing_ranges = missing_ranges;
        census.compressions.insert(Compression::None);
        census
    }
}

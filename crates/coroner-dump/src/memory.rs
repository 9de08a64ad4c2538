//! [`Dump`]: an opened container, seen as physical memory plus notes.

use crate::compress::Compression;
use crate::error::{Context, DumpError, ReadError};
use crate::notes::Note;
use crate::source::{Backing, Source};
use crate::{elf, flat, kdump, vmcoreinfo_scan, vmware};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Read access to a machine's physical memory. Everything above the container layer
/// (address translation, the kernel log, tasks) is written against this trait.
pub trait PhysMemory {
    /// Fills `buf` from physical address `paddr`, across pages if needed. Fails
    /// (without partial results) if any byte lies in a page the dump does not hold.
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), ReadError>;
    /// What the dump knows of one page frame.
    fn page_state(&self, pfn: u64) -> PageState;
    fn page_size(&self) -> u64;
}

/// What a dump holds for one page frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageState {
    /// The page's contents are in the dump.
    Present,
    /// The page is in the dump and known to be all zeros.
    Zero,
    /// The page existed but the dump filter left it out.
    Excluded,
    /// The page should be there but the file ends or is corrupt before it.
    Missing,
    /// Not RAM, or outside what the dump covers.
    NotInDump,
}

/// The container's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// ELF vmcore (`/proc/vmcore`, `makedumpfile -E`, QEMU `dump-guest-memory`).
    Elf,
    /// kdump-compressed ("diskdump"), as makedumpfile and QEMU write it.
    Kdump,
    /// VMware suspend checkpoint (`.vmss`), memory inline or in its `.vmem`.
    VmwareVmss,
    /// VMware snapshot checkpoint (`.vmsn`): the same container as `.vmss`.
    VmwareVmsn,
    /// VMware memory file (`.vmem`) opened by itself.
    VmwareVmem,
}

impl Format {
    /// The container a file's first bytes announce, without opening it: what a caller
    /// that takes "a dump or a log" (triage, the server's ingest) decides on. A
    /// flattened stream (`makedumpfile -F`) is `Some`: it encodes one of the others.
    pub fn sniff(head: &[u8]) -> Option<Sniffed> {
        if head.starts_with(b"\x7fELF") {
            Some(Sniffed::Elf)
        } else if head.starts_with(kdump::SIGNATURE) {
            Some(Sniffed::Kdump)
        } else if head.starts_with(b"makedumpfile") {
            Some(Sniffed::Flattened)
        } else if vmware::is_checkpoint(head) {
            Some(Sniffed::VmwareCheckpoint)
        } else {
            None
        }
    }

    /// [`Format::sniff`] on a file's first bytes, and the one format known only by
    /// its name: a VMware `.vmem` is bare guest memory, without a header.
    pub fn sniff_file(path: &Path) -> Option<Sniffed> {
        use std::io::Read;
        let mut head = [0u8; 16];
        let read = std::fs::File::open(path).and_then(|mut f| f.read(&mut head));
        Format::sniff(&head[..read.unwrap_or(0)])
            .or_else(|| vmware::is_memory_file_name(path).then_some(Sniffed::VmwareMemory))
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Elf => "elf",
            Format::Kdump => "kdump-compressed",
            Format::VmwareVmss => "vmware-vmss",
            Format::VmwareVmsn => "vmware-vmsn",
            Format::VmwareVmem => "vmware-vmem",
        }
    }
}

/// What [`Format::sniff`] recognises from a file's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Elf,
    Kdump,
    /// makedumpfile's flattened stream, holding a kdump-compressed (or ELF) dump.
    Flattened,
    /// A VMware `.vmss`/`.vmsn` checkpoint (including the unsupported 32-bit kind).
    VmwareCheckpoint,
    /// A VMware `.vmem`, known by its name.
    VmwareMemory,
}

/// Choices for [`Dump::open_with`]; the default is what [`Dump::open`] does.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// The memory file of a VMware checkpoint whose memory is not inside it, when it
    /// is not the `<stem>.vmem` beside it (ESXi may name it by a UUID).
    pub vmware_memory_file: Option<PathBuf>,
}

/// Facts the container states about itself (not about the kernel inside).
#[derive(Debug, Clone)]
pub struct DumpInfo {
    pub format: Format,
    /// kdump header version (1..6); ELF has none.
    pub format_version: Option<u32>,
    /// Read through makedumpfile's flattened (`-F`) stream.
    pub flattened: bool,
    pub page_size: u64,
    /// From the ELF machine or the kdump header's utsname.
    pub arch: Option<String>,
    pub dump_level: Option<u32>,
    /// utsname.release in a kdump header.
    pub header_release: Option<String>,
    /// Seconds since the epoch in a kdump header, when set.
    pub header_time: Option<i64>,
    /// CPU count the kdump header states.
    pub header_cpus: Option<u32>,
    pub phys_base: Option<u64>,
    /// Number of page frames the container can describe (highest PFN + 1).
    pub max_pfn: u64,
    /// Where VMCOREINFO came from: "note", "memory scan", or None.
    pub vmcoreinfo_source: Option<&'static str>,
    pub warnings: Vec<String>,
}

/// How many page frames are in each [`PageState`] (NotInDump is not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageCounts {
    pub present: u64,
    pub excluded: u64,
    pub zero: u64,
    pub missing: u64,
}

impl PageCounts {
    /// Pages of RAM the dump accounts for, whatever their state.
    pub fn total(&self) -> u64 {
        self.present + self.excluded + self.zero + self.missing
    }
}

/// The result of a whole-dump page census.
#[derive(Debug, Clone, Default)]
pub struct PageCensus {
    pub counts: PageCounts,
    /// Compressions used by the stored pages.
    pub compressions: BTreeSet<Compression>,
    /// Physical ranges `[start, end)` of pages that are missing.
    pub missing_ranges: Vec<(u64, u64)>,
}

pub(crate) enum Body {
    Elf(elf::ElfBody),
    Kdump(kdump::KdumpBody),
    Vmware(vmware::VmwareBody),
}

/// An opened crash dump.
pub struct Dump {
    path: PathBuf,
    info: DumpInfo,
    notes: Vec<Note>,
    vmcoreinfo: Option<Vec<u8>>,
    body: Body,
}

impl Dump {
    /// Opens any supported dump, sniffing its format from the first bytes.
    pub fn open(path: impl AsRef<Path>) -> Result<Dump, DumpError> {
        Dump::open_with(path, &OpenOptions::default())
    }

    /// [`Dump::open`] with choices the file cannot tell.
    pub fn open_with(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Dump, DumpError> {
        let path = path.as_ref().to_path_buf();
        let ctx = Context { path: path.clone() };
        let file = std::fs::File::open(&path).map_err(|e| ctx.io(e))?;
        // SAFETY: the map is read-only; a dump changing under us can only give wrong
        // bytes, which every parser already treats as untrusted input.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| ctx.io(e))?;
        Dump::from_backing(path, Backing::Map(map), options)
    }

    /// Opens a dump held in memory; `name` stands for the file in messages.
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Dump, DumpError> {
        Dump::from_backing(name.into(), Backing::Owned(bytes), &OpenOptions::default())
    }

    fn from_backing(path: PathBuf, map: Backing, options: &OpenOptions) -> Result<Dump, DumpError> {
        let ctx = Context { path: path.clone() };
        let mut warnings = Vec::new();
        let source = if vmware::is_memory_file_name(&path) && Format::sniff(&map).is_none() {
            let (body, info, notes) = vmware::open_memory_file(map, &path, &ctx)?;
            return Ok(Dump::assemble(path, body, info, notes));
        } else if map.starts_with(flat::SIGNATURE) {
            let index = flat::FlatIndex::build(&map, &ctx)?;
            if let Some(at) = index.truncated_at {
                warnings.push(format!(
                    "flattened stream ends early at offset {at:#x}: the capture was cut short"
                ));
            }
            Source::Flat { map, index }
        } else {
            Source::File(map)
        };
        let flattened = matches!(source, Source::Flat { .. });
        let mut head = [0u8; 8];
        let n = source.read_at(0, &mut head);
        let (body, mut info, notes) = if head[..n].starts_with(b"\x7fELF") {
            elf::open(source, &ctx)?
        } else if head[..n].starts_with(kdump::SIGNATURE) {
            kdump::open(source, &ctx)?
        } else if vmware::is_checkpoint(&head[..n]) && !flattened {
            let memory_file = options.vmware_memory_file.as_deref();
            vmware::open_checkpoint(source, &path, memory_file, &ctx)?
        } else {
            return Err(DumpError::NotADump {
                path,
                why: format!(
                    "first bytes {:02x?} are neither ELF, kdump-compressed (\"KDUMP   \"), flattened (\"makedumpfile\") nor a VMware checkpoint",
                    &head[..n]
                ),
            });
        };
        info.flattened = flattened;
        warnings.append(&mut info.warnings);
        info.warnings = warnings;
        Ok(Dump::assemble(path, body, info, notes))
    }

    fn assemble(path: PathBuf, body: Body, info: DumpInfo, notes: Vec<Note>) -> Dump {
        let mut dump = Dump {
            path,
            info,
            notes,
            vmcoreinfo: None,
            body,
        };
        dump.find_vmcoreinfo();
        dump
    }

    fn find_vmcoreinfo(&mut self) {
        let from_container = match &self.body {
            Body::Kdump(k) => k.vmcoreinfo(),
            Body::Elf(_) | Body::Vmware(_) => None,
        };
        let from_note = || {
            self.notes
                .iter()
                .find(|n| n.is_vmcoreinfo())
                .map(|n| n.desc.clone())
        };
        if let Some(text) = from_container.or_else(from_note) {
            self.vmcoreinfo = Some(text);
            self.info.vmcoreinfo_source = Some("note");
        } else if let Some(text) = vmcoreinfo_scan::scan(self) {
            self.vmcoreinfo = Some(text);
            self.info.vmcoreinfo_source = Some("memory scan");
            self.info
                .warnings
                .push("no VMCOREINFO note: found the VMCOREINFO text by scanning memory".into());
        } else {
            self.info.warnings.push(
                "no VMCOREINFO in the dump's notes or memory: kernel facts are limited".into(),
            );
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn info(&self) -> &DumpInfo {
        &self.info
    }

    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    /// The kernel release from the first `Linux version` banner in memory: the last
    /// resort when neither VMCOREINFO nor the container header names it. Scans
    /// memory, so callers ask only when they must.
    pub fn banner_release(&self) -> Option<String> {
        vmcoreinfo_scan::banner_release(self)
    }

    /// The raw VMCOREINFO text (`KEY=VALUE` lines), from a note or a memory scan.
    pub fn vmcoreinfo(&self) -> Option<&[u8]> {
        self.vmcoreinfo.as_deref()
    }

    /// Counts every page frame's state. ELF answers from its program headers; kdump
    /// walks its bitmaps and page descriptors (24 bytes per stored page, streamed).
    pub fn census(&self) -> PageCensus {
        match &self.body {
            Body::Elf(b) => b.census(),
            Body::Kdump(b) => b.census(),
            Body::Vmware(b) => b.census(),
        }
    }

    /// Physical ranges `[start, end)` that hold RAM according to the container.
    pub fn ram_ranges(&self) -> Vec<(u64, u64)> {
        match &self.body {
            Body::Elf(b) => b.ram_ranges(),
            Body::Kdump(b) => b.ram_ranges(false),
            Body::Vmware(b) => b.ram_ranges(),
        }
    }

    /// Physical ranges `[start, end)` whose bytes the file stores. Bounded by the
    /// file's size, so walking them is safe on hostile headers.
    pub fn stored_ranges(&self) -> Vec<(u64, u64)> {
        match &self.body {
            Body::Elf(b) => b.stored_ranges(),
            Body::Kdump(b) => b.ram_ranges(true),
            Body::Vmware(b) => b.stored_ranges(),
        }
    }
}

impl PhysMemory for Dump {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        match &self.body {
            Body::Elf(b) => b.read_phys(paddr, buf),
            Body::Kdump(b) => b.read_phys(paddr, buf),
            Body::Vmware(b) => b.read_phys(paddr, buf),
        }
    }

    fn page_state(&self, pfn: u64) -> PageState {
        match &self.body {
            Body::Elf(b) => b.page_state(pfn),
            Body::Kdump(b) => b.page_state(pfn),
            Body::Vmware(b) => b.page_state(pfn),
        }
    }

    fn page_size(&self) -> u64 {
        self.info.page_size
    }
}

/// Merges sorted-or-not `[start, end)` ranges into a sorted disjoint list.
pub(crate) fn merge_ranges(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges.into_iter().filter(|(s, e)| s < e) {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

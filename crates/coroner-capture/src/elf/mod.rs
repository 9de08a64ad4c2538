//! The ELF vmcore writer: what `/proc/vmcore` and kexec-tools give a capture
//! kernel, so crash, makedumpfile and drgn open it as a kdump. An ELF64 core with
//! the PT_NOTE segment first (every CPU's `NT_PRSTATUS`, the other input notes,
//! VMCOREINFO), a PT_LOAD at the kernel image's virtual address (kexec-tools'
//! "kernel text" header), then one PT_LOAD per range of RAM ([`layout`]).
//!
//! Streaming: the headers are planned from page states before any data, then
//! memory is copied a chunk at a time, so memory use does not grow with the guest.

mod header;
pub mod layout;

use crate::convert::{ConvertError, Image, Progress, Written};
use coroner_dump::{PageState, PhysMemory};
use header::{Elf64Header, ProgramHeader, EHDR_SIZE, PHDR_SIZE};
use std::io::Write;

/// Bytes copied per step: big enough for throughput, small enough to bound memory.
const CHUNK: u64 = 1 << 20;
/// Where the data of the first PT_LOAD starts: page-aligned, as the kernel's
/// `/proc/vmcore` aligns it (mmap-friendly for readers).
const DATA_ALIGN: u64 = 4096;

/// Writes `image` as an ELF vmcore to `out`, streamed, in bounded memory.
pub fn write(
    image: &Image,
    out: &mut dyn Write,
    progress: &dyn Progress,
) -> Result<Written, ConvertError> {
    let dump = image.dump;
    let page_size = dump.page_size();
    let machine = header::machine(dump.info().arch.as_deref())?;
    let text_pages = image
        .kernel_text
        .map(|t| (t.paddr / page_size, (t.paddr + t.size).div_ceil(page_size)));
    // The kernel image's pages are always in the file, so its PT_LOAD can
    // point at the bytes of the RAM segment that holds them.
    let mut candidates = dump.stored_ranges();
    candidates.extend(image.kernel_text.map(|t| (t.paddr, t.paddr + t.size)));
    let runs = layout::plan(&dump.ram_ranges(), &merge(candidates), page_size, |pfn| {
        dump.page_state(pfn) == PageState::Present
            || text_pages.is_some_and(|(s, e)| (s..e).contains(&pfn))
    });
    let notes = header::notes(&image.notes);
    let phnum = 1 + usize::from(image.kernel_text.is_some()) + runs.len();
    let notes_at = EHDR_SIZE + phnum as u64 * PHDR_SIZE;
    let data_at = (notes_at + notes.len() as u64).next_multiple_of(DATA_ALIGN);
    let mut loads = Vec::with_capacity(runs.len());
    let mut offset = data_at;
    for r in &runs {
        loads.push((*r, offset));
        offset += r.filesz;
    }
    let text = image.kernel_text.and_then(|t| {
        let (run, at) = loads
            .iter()
            .find(|(r, _)| r.paddr <= t.paddr && t.paddr + t.size <= r.paddr + r.filesz)?;
        Some(ProgramHeader::load(
            t.vaddr,
            t.paddr,
            at + (t.paddr - run.paddr),
            t.size,
            t.size,
        ))
    });
    let mut phdrs = vec![ProgramHeader::note(notes_at, notes.len() as u64)];
    phdrs.extend(text);
    // RAM's virtual address is the direct map's, which KASLR moves and only
    // the kernel's symbols tell: 0, as QEMU writes it.
    phdrs.extend(
        loads
            .iter()
            .map(|(r, at)| ProgramHeader::load(0, r.paddr, *at, r.filesz, r.memsz)),
    );
    let ehdr = Elf64Header {
        machine,
        phnum: phdrs.len() as u16,
    };
    let mut written = 0u64;
    let mut put = |out: &mut dyn Write, bytes: &[u8]| -> Result<(), ConvertError> {
        out.write_all(bytes).map_err(ConvertError::Write)?;
        written += bytes.len() as u64;
        Ok(())
    };
    put(out, &ehdr.to_bytes())?;
    for ph in &phdrs {
        put(out, &ph.to_bytes())?;
    }
    put(out, &notes)?;
    put(out, &vec![0; (data_at - notes_at) as usize - notes.len()])?;
    let memory: u64 = runs.iter().map(|r| r.filesz).sum();
    progress.start(memory);
    let mut stats = Copied::default();
    let mut buf = vec![0u8; CHUNK as usize];
    for r in &runs {
        let mut paddr = r.paddr;
        let end = r.paddr + r.filesz;
        while paddr < end {
            let n = (end - paddr).min(CHUNK - paddr % page_size);
            let chunk = &mut buf[..n as usize];
            stats.fill(dump, paddr, chunk);
            put(out, chunk)?;
            progress.advance(n);
            paddr += n;
        }
    }
    progress.finish();
    let mut warnings = Vec::new();
    if let Some(first) = stats.unreadable_at {
        warnings.push(format!(
                "{} page(s) the input says it holds could not be read (the first at physical {first:#x}): written as zeros",
                stats.unreadable
            ));
    }
    if image.kernel_text.is_some() && text.is_none() {
        warnings
            .push("the kernel image is not inside one RAM segment: no kernel-text PT_LOAD".into());
    }
    Ok(Written {
        bytes: written,
        loads: phdrs.len() - 1,
        kernel_text: text.is_some(),
        pages: stats.pages,
        zero_pages: stats.zeros,
        warnings,
    })
}

/// Sorted, disjoint `[start, end)` ranges covering `ranges`.
fn merge(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
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

/// Counts of what was copied, and the pages that failed to read.
#[derive(Default)]
struct Copied {
    pages: u64,
    zeros: u64,
    unreadable: u64,
    unreadable_at: Option<u64>,
}

impl Copied {
    /// Fills `chunk` with memory from `paddr`: stored pages as read, the others
    /// (zero, excluded, cut off) as zeros, a page at a time.
    fn fill(&mut self, dump: &coroner_dump::Dump, paddr: u64, chunk: &mut [u8]) {
        let page_size = dump.page_size();
        let mut at = 0usize;
        while at < chunk.len() {
            let addr = paddr + at as u64;
            let n = ((page_size - addr % page_size) as usize).min(chunk.len() - at);
            let part = &mut chunk[at..at + n];
            self.pages += 1;
            if dump.page_state(addr / page_size) != PageState::Present {
                part.fill(0);
                self.zeros += 1;
            } else if dump.read_phys(addr, part).is_err() {
                part.fill(0);
                self.unreadable += 1;
                self.unreadable_at.get_or_insert(addr);
            }
            at += n;
        }
    }
}

#[cfg(test)]
mod tests;

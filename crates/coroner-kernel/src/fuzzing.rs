//! Support for the `dmesg` fuzz target and its seeds: a kernel's memory reduced to
//! the pages one reader touched, so a fuzz input is small and self-contained.
//!
//! Input layout: VMCOREINFO text, a NUL, then regions, each `vaddr: u64 LE`,
//! `len: u32 LE` and `len` bytes of memory mapped at `vaddr`.

use crate::memory::{MemError, Memory};
use crate::VmcoreInfo;
use std::cell::RefCell;
use std::collections::BTreeMap;

const PAGE: u64 = 4096;

/// Kernel memory made of a few mapped regions; everything else is unmapped.
#[derive(Default)]
pub struct RegionMemory {
    regions: BTreeMap<u64, Vec<u8>>,
}

impl RegionMemory {
    /// Splits a fuzz input into its VMCOREINFO and its memory. A region cut short
    /// by the end of the input keeps the bytes that are there.
    pub fn decode(input: &[u8]) -> (VmcoreInfo, RegionMemory) {
        let nul = input.iter().position(|&b| b == 0).unwrap_or(input.len());
        let info = VmcoreInfo::parse(&input[..nul]);
        let mut mem = RegionMemory::default();
        let mut rest = input.get(nul + 1..).unwrap_or_default();
        while rest.len() >= 12 {
            let vaddr = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes"));
            let len = u32::from_le_bytes(rest[8..12].try_into().expect("4 bytes")) as usize;
            let bytes = &rest[12..rest.len().min(12 + len)];
            mem.regions.insert(vaddr, bytes.to_vec());
            rest = &rest[12 + bytes.len()..];
        }
        (info, mem)
    }

    /// The inverse of [`RegionMemory::decode`].
    pub fn encode(vmcoreinfo: &[u8], regions: &BTreeMap<u64, Vec<u8>>) -> Vec<u8> {
        let mut out = vmcoreinfo.to_vec();
        out.push(0);
        for (vaddr, bytes) in regions {
            out.extend(vaddr.to_le_bytes());
            out.extend((bytes.len() as u32).to_le_bytes());
            out.extend(bytes);
        }
        out
    }
}

impl Memory for RegionMemory {
    fn read(&self, vaddr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let mut done = 0;
        while done < buf.len() {
            let at = vaddr.wrapping_add(done as u64);
            let hit = self
                .regions
                .range(..=at)
                .next_back()
                .and_then(|(&start, bytes)| {
                    let skip = usize::try_from(at - start).ok()?;
                    bytes.get(skip..).filter(|b| !b.is_empty())
                });
            let Some(bytes) = hit else {
                return Err(MemError::new(
                    at,
                    coroner_mem::Space::Virtual,
                    coroner_mem::MemErrorKind::Unrecorded,
                    format!("virtual address {at:#x} is not mapped (not in the recorded regions)"),
                ));
            };
            let n = bytes.len().min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&bytes[..n]);
            done += n;
        }
        Ok(())
    }
}

/// Wraps real kernel memory and keeps every page a reader touches.
pub struct RecordingMemory<'a> {
    inner: &'a dyn Memory,
    pages: RefCell<BTreeMap<u64, Vec<u8>>>,
}

impl<'a> RecordingMemory<'a> {
    pub fn new(inner: &'a dyn Memory) -> Self {
        RecordingMemory {
            inner,
            pages: RefCell::default(),
        }
    }

    pub fn into_pages(self) -> BTreeMap<u64, Vec<u8>> {
        self.pages.into_inner()
    }
}

impl Memory for RecordingMemory<'_> {
    fn read(&self, vaddr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        self.inner.read(vaddr, buf)?;
        let end = vaddr.saturating_add(buf.len() as u64);
        let mut page = vaddr / PAGE * PAGE;
        while page < end {
            if !self.pages.borrow().contains_key(&page) {
                let mut bytes = vec![0u8; PAGE as usize];
                if self.inner.read(page, &mut bytes).is_ok() {
                    self.pages.borrow_mut().insert(page, bytes);
                }
            }
            page += PAGE;
        }
        Ok(())
    }
}

/// The fuzz target's body: reads and renders the log of a decoded input. Returns the
/// rendered length, so the work cannot be optimised away.
#[doc(hidden)]
pub fn fuzz_read_log(input: &[u8]) -> usize {
    let (info, mem) = RegionMemory::decode(input);
    match crate::dmesg::read_log(&mem, &info) {
        Ok(read) => crate::dmesg::text::render(&read.log).len() + read.warnings.len(),
        Err(e) => e.to_string().len(),
    }
}

//! Guest memory of a VMware checkpoint: the memory blob (the `.vmem` file, or the
//! `Memory` block inside the checkpoint) is guest pages packed without the holes,
//! and the `memory` group's regions say which guest page each blob page is.

use crate::compress::Compression;
use crate::error::ReadError;
use crate::memory::{merge_ranges, PageCensus, PageState};
use crate::source::Source;

pub(crate) const PAGE_SIZE: u64 = 4096;
/// Where guest RAM below the PCI hole ends on VMware when it does not fit below
/// 4 GiB (the real 6 GiB ESX sample in the research notes, and VMware guests' e820).
const LOW_MEMORY_END: u64 = 0xc000_0000;
const FOUR_GIB: u64 = 1 << 32;

/// Guest pages `[ppn, ppn + pages)` are blob pages `[page_num, page_num + pages)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Region {
    pub ppn: u64,
    pub page_num: u64,
    pub pages: u64,
}

impl Region {
    fn end_ppn(&self) -> u64 {
        self.ppn + self.pages
    }
}

/// Checks regions for what would make reads wrong or work unbounded: overflowing
/// numbers, two regions claiming the same guest page, two regions sharing blob pages
/// (so that the pages read, and the scans over them, never exceed the blob). Returns
/// them sorted by guest page, or what is wrong.
pub(crate) fn validate(mut regions: Vec<Region>) -> Result<Vec<Region>, String> {
    for (i, r) in regions.iter().enumerate() {
        let fits = |start: u64| {
            start
                .checked_add(r.pages)
                .and_then(|end| end.checked_mul(PAGE_SIZE))
                .is_some()
        };
        if !fits(r.ppn) || !fits(r.page_num) {
            return Err(format!(
                "region {i} (guest page {:#x}, memory file page {:#x}, {:#x} pages) overflows 64-bit addresses",
                r.ppn, r.page_num, r.pages
            ));
        }
    }
    let by_blob = {
        let mut v: Vec<(usize, Region)> = regions.iter().copied().enumerate().collect();
        v.sort_by_key(|(_, r)| r.page_num);
        v
    };
    for pair in by_blob.windows(2) {
        let ((i, a), (j, b)) = (pair[0], pair[1]);
        if a.pages > 0 && b.pages > 0 && b.page_num < a.page_num + a.pages {
            return Err(format!(
                "regions {i} and {j} both map memory file pages from {:#x}",
                b.page_num
            ));
        }
    }
    regions.retain(|r| r.pages > 0);
    regions.sort_by_key(|r| r.ppn);
    for pair in regions.windows(2) {
        if pair[1].ppn < pair[0].end_ppn() {
            return Err(format!(
                "two regions both claim guest page {:#x}",
                pair[1].ppn
            ));
        }
    }
    Ok(regions)
}

/// The layout assumed when nothing describes it (a `.vmem` alone, or a checkpoint
/// without regions): the blob is guest memory from address 0, except that a blob
/// larger than VMware's low memory continues at 4 GiB, above the PCI hole.
pub(crate) fn default_layout(blob_len: u64) -> Vec<Region> {
    let pages = blob_len.div_ceil(PAGE_SIZE);
    let low = LOW_MEMORY_END / PAGE_SIZE;
    let mut regions = vec![Region {
        ppn: 0,
        page_num: 0,
        pages: pages.min(low),
    }];
    if pages > low {
        regions.push(Region {
            ppn: FOUR_GIB / PAGE_SIZE,
            page_num: low,
            pages: pages - low,
        });
    }
    regions
}

/// True when [`default_layout`] had to guess where memory above the hole goes.
pub(crate) fn default_layout_guesses(blob_len: u64) -> bool {
    blob_len > LOW_MEMORY_END
}

/// Guest physical memory read through the region map.
pub(crate) struct VmwareBody {
    source: Source,
    /// File offset of blob page 0.
    base: u64,
    /// Bytes of the blob the file holds (less than the regions want when cut).
    stored: u64,
    /// Sorted by guest page, disjoint.
    regions: Vec<Region>,
}

impl VmwareBody {
    pub fn new(source: Source, base: u64, claimed: u64, regions: Vec<Region>) -> VmwareBody {
        let stored = claimed.min(source.len().saturating_sub(base));
        VmwareBody {
            source,
            base,
            stored,
            regions,
        }
    }

    fn region_for(&self, pfn: u64) -> Option<&Region> {
        let i = self.regions.partition_point(|r| r.ppn <= pfn);
        i.checked_sub(1)
            .map(|i| &self.regions[i])
            .filter(|r| pfn < r.end_ppn())
    }

    /// Blob offset of guest page `pfn`, if a region maps it.
    fn blob_page(&self, pfn: u64) -> Option<u64> {
        self.region_for(pfn)
            .map(|r| (r.page_num + (pfn - r.ppn)) * PAGE_SIZE)
    }

    pub fn read_phys(&self, mut paddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let mut done = 0;
        while done < buf.len() {
            let in_page = paddr % PAGE_SIZE;
            let n = ((PAGE_SIZE - in_page) as usize).min(buf.len() - done);
            let page_at = self
                .blob_page(paddr / PAGE_SIZE)
                .ok_or(ReadError::NotInDump { paddr })?;
            let at = page_at + in_page;
            if at + n as u64 > self.stored {
                return Err(ReadError::Missing {
                    paddr: paddr - in_page,
                });
            }
            let got = self
                .source
                .read_at(self.base + at, &mut buf[done..done + n]);
            if got < n {
                return Err(ReadError::Missing {
                    paddr: paddr - in_page,
                });
            }
            done += n;
            paddr += n as u64;
        }
        Ok(())
    }

    pub fn page_state(&self, pfn: u64) -> PageState {
        match self.blob_page(pfn) {
            None => PageState::NotInDump,
            Some(at) if at + PAGE_SIZE <= self.stored => PageState::Present,
            Some(_) => PageState::Missing,
        }
    }

    pub fn ram_ranges(&self) -> Vec<(u64, u64)> {
        merge_ranges(
            self.regions
                .iter()
                .map(|r| (r.ppn * PAGE_SIZE, r.end_ppn() * PAGE_SIZE))
                .collect(),
        )
    }

    /// Per region, the guest pages whose whole page the file holds.
    fn stored_pages(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let whole = self.stored / PAGE_SIZE;
        self.regions.iter().filter_map(move |r| {
            let pages = whole.saturating_sub(r.page_num).min(r.pages);
            (pages > 0).then_some((r.ppn, r.ppn + pages))
        })
    }

    pub fn stored_ranges(&self) -> Vec<(u64, u64)> {
        merge_ranges(
            self.stored_pages()
                .map(|(s, e)| (s * PAGE_SIZE, e * PAGE_SIZE))
                .collect(),
        )
    }

    /// Guest ranges the regions map past the end of the stored blob.
    pub fn missing_ranges(&self) -> Vec<(u64, u64)> {
        let whole = self.stored / PAGE_SIZE;
        merge_ranges(
            self.regions
                .iter()
                .filter(|r| r.page_num + r.pages > whole)
                .map(|r| {
                    let kept = whole.saturating_sub(r.page_num).min(r.pages);
                    ((r.ppn + kept) * PAGE_SIZE, r.end_ppn() * PAGE_SIZE)
                })
                .collect(),
        )
    }

    pub fn census(&self) -> PageCensus {
        let total: u64 = self.regions.iter().map(|r| r.pages).sum();
        let present: u64 = self.stored_pages().map(|(s, e)| e - s).sum();
        let mut census = PageCensus::default();
        census.counts.present = present;
        census.counts.missing = total - present;
        census.missing_ranges = self.missing_ranges();
        census.compressions.insert(Compression::None);
        census
    }

    /// Highest guest page frame + 1.
    pub fn max_pfn(&self) -> u64 {
        self.regions.last().map_or(0, Region::end_ppn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(ppn: u64, page_num: u64, pages: u64) -> Region {
        Region {
            ppn,
            page_num,
            pages,
        }
    }

    #[test]
    fn default_layout_moves_memory_past_3_gib_above_the_hole() {
        assert_eq!(default_layout(512 << 20), [r(0, 0, 0x20000)]);
        assert_eq!(
            default_layout(6 << 30),
            [r(0, 0, 0xc0000), r(0x100000, 0xc0000, 0xc0000)]
        );
        assert!(!default_layout_guesses(3 << 30));
        assert!(default_layout_guesses((3 << 30) + 1));
    }

    #[test]
    fn overlapping_and_overflowing_regions_are_refused() {
        let ok = validate(vec![r(0x100000, 0xc0000, 10), r(0, 0, 0xc0000)]).unwrap();
        assert_eq!(ok[0].ppn, 0, "sorted by guest page");
        let err = validate(vec![r(0, 0, 10), r(100, 5, 10)]).unwrap_err();
        assert!(err.contains("both map memory file pages from 0x5"), "{err}");
        let err = validate(vec![r(0, 0, 10), r(5, 10, 10)]).unwrap_err();
        assert!(err.contains("guest page 0x5"), "{err}");
        assert!(validate(vec![r(u64::MAX - 1, 0, 10)]).is_err());
        assert!(validate(vec![r(0, 0, u64::MAX / 4096)]).is_ok());
        assert!(validate(vec![r(0, 0, u64::MAX / 4096 + 1)]).is_err());
    }
}

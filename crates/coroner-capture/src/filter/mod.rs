//! makedumpfile's page filter: which page frames a dump at a given `-d` level keeps,
//! decided from VMCOREINFO and the `struct page` array alone.
//!
//! The result is the pair of bitmaps of a kdump-compressed file: frames that are RAM
//! (the ELF's PT_LOAD segments) and frames the dump stores. All-zero pages (level
//! bit 1) are found while pages are written, as makedumpfile does: they stay set in
//! the second bitmap and share one stored zero page.

mod classify;
mod layout;
mod sections;

pub use classify::Class;
pub use layout::{kernel_version, number, PageLayout};
pub use sections::MemMap;

use crate::bitmap::Bitmap;
use crate::CaptureError;
use classify::{classify, Verdict};
use coroner_dump::PhysMemory;
use coroner_kernel::{Kernel, Memory};

/// makedumpfile's `-d` bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DumpLevel(pub u8);

impl DumpLevel {
    pub const ZERO: u8 = 1;
    pub const CACHE: u8 = 2;
    pub const CACHE_PRIVATE: u8 = 4;
    pub const USER: u8 = 8;
    pub const FREE: u8 = 16;
    pub const MAX: u8 = 31;

    pub fn new(level: u8) -> Result<DumpLevel, CaptureError> {
        if level > Self::MAX {
            return Err(CaptureError::Usage(format!(
                "dump level {level} is out of range (0 to 31)"
            )));
        }
        Ok(DumpLevel(level))
    }

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// Pages left out, by makedumpfile's report categories.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Excluded {
    pub cache: u64,
    pub cache_private: u64,
    pub user: u64,
    pub free: u64,
    pub hwpoison: u64,
    pub offline: u64,
}

impl Excluded {
    fn add(&mut self, class: Class, n: u64) {
        let slot = match class {
            Class::Free => &mut self.free,
            Class::Cache => &mut self.cache,
            Class::CachePrivate => &mut self.cache_private,
            Class::User => &mut self.user,
            Class::Hwpoison => &mut self.hwpoison,
            Class::Offline => &mut self.offline,
        };
        *slot += n;
    }

    pub fn total(&self) -> u64 {
        self.cache + self.cache_private + self.user + self.free + self.hwpoison + self.offline
    }
}

/// The filter's answer.
#[derive(Debug, Clone)]
pub struct Filtered {
    /// Frames `0..max_mapnr` the dump describes.
    pub max_mapnr: u64,
    /// 1st bitmap: the frame is RAM.
    pub ram: Bitmap,
    /// 2nd bitmap: the frame is stored (before zero pages are found).
    pub dumpable: Bitmap,
    pub excluded: Excluded,
    pub warnings: Vec<String>,
}

/// Frames a dump may describe (256 TiB of 4 KiB pages): the bitmaps cost 2 bits a
/// frame, so a hostile header must not be able to ask for more.
const MAX_FRAMES: u64 = 1 << 36;

/// `struct page`s read per request, as makedumpfile does (`PGMM_CACHED`): a head
/// page that is the last of a batch is taken as order 0, as there.
const BATCH: u64 = 512;

/// Whether makedumpfile walks the `struct page` array at this level.
fn walk_needed(kernel: &Kernel, layout: Option<&PageLayout>, level: DumpLevel) -> bool {
    level.has(DumpLevel::CACHE | DumpLevel::CACHE_PRIVATE | DumpLevel::USER)
        || number(kernel.vmcoreinfo(), "PG_hwpoison").is_some()
        || (level.has(DumpLevel::FREE) && layout.is_some_and(|l| l.buddy.is_some()))
}

/// Runs the filter over the dump `kernel` reads.
pub fn filter(kernel: &Kernel, level: DumpLevel) -> Result<Filtered, CaptureError> {
    let dump = kernel.dump();
    let ps = dump.page_size();
    let ranges = dump.ram_ranges();
    let mut max_mapnr = ranges
        .iter()
        .map(|&(_, end)| end.div_ceil(ps))
        .max()
        .unwrap_or(0);
    if max_mapnr > MAX_FRAMES {
        return Err(CaptureError::Input(format!(
            "the dump's program headers claim {} TiB of RAM, more than any machine has",
            (max_mapnr * ps) >> 40
        )));
    }
    let info = kernel.vmcoreinfo();
    let layout = PageLayout::from_vmcoreinfo(info);
    let needs_walk = walk_needed(kernel, layout.as_ref().ok(), level);
    let needs_layout = needs_walk || level.has(DumpLevel::FREE);
    let mut warnings = Vec::new();
    let mut maps = Vec::new();
    match &layout {
        Ok(l) => {
            if l.page_size != ps {
                return Err(CaptureError::Vmcoreinfo(format!(
                    "PAGESIZE={} but the dump's pages are {ps} bytes",
                    l.page_size
                )));
            }
            match sections::mem_maps(kernel, info, l, max_mapnr) {
                Ok(m) => maps = m,
                Err(e) if needs_layout => return Err(e),
                Err(e) => warnings.push(format!("{e}: keeping every page")),
            }
        }
        Err(e) if needs_layout => {
            return Err(CaptureError::Vmcoreinfo(format!(
                "dump level {} needs the struct page array: {e}",
                level.0
            )))
        }
        Err(_) => {}
    }
    if level.has(DumpLevel::FREE) && layout.as_ref().is_ok_and(|l| l.buddy.is_none()) {
        return Err(CaptureError::Vmcoreinfo(
            "excluding free pages needs OFFSET(page.private) and a buddy marker (PAGE_BUDDY_MAPCOUNT_VALUE or PG_buddy); the free-list walk for older kernels is not implemented".into(),
        ));
    }
    // Linux may use less memory than the dump covers (`mem=`): end with the last
    // section that has struct pages.
    if let Some(end) = maps
        .iter()
        .filter(|m| m.mem_map.is_some())
        .map(|m| m.pfn_end)
        .max()
    {
        max_mapnr = max_mapnr.min(end);
    }
    let mut ram = Bitmap::new(max_mapnr);
    for &(start, end) in &ranges {
        ram.set_range(start / ps, end / ps);
    }
    // What the input itself lacks stays out: pages a filtered input (refiltering a
    // kdump file) excluded, ELF bytes past `p_filesz`, a file cut short.
    let mut dumpable = Bitmap::new(max_mapnr);
    for (start, end) in dump.stored_ranges() {
        dumpable.set_range(start.div_ceil(ps), end / ps);
    }
    dumpable.and_with(&ram);
    let mut excluded = Excluded::default();
    if needs_walk {
        let layout = layout.expect("checked above");
        walk(
            kernel,
            &layout,
            level,
            &ranges,
            &maps,
            &mut dumpable,
            &mut excluded,
            &mut warnings,
        );
    }
    Ok(Filtered {
        max_mapnr,
        ram,
        dumpable,
        excluded,
        warnings,
    })
}

fn in_ranges(ranges: &[(u64, u64)], addr: u64) -> bool {
    let i = ranges.partition_point(|&(s, _)| s <= addr);
    i > 0 && addr < ranges[i - 1].1
}

#[allow(clippy::too_many_arguments)]
fn walk(
    mem: &dyn Memory,
    layout: &PageLayout,
    level: DumpLevel,
    ranges: &[(u64, u64)],
    maps: &[MemMap],
    dumpable: &mut Bitmap,
    excluded: &mut Excluded,
    warnings: &mut Vec<String>,
) {
    let size = layout.size;
    let mut buf = vec![0u8; (BATCH * size) as usize];
    let mut bad_orders = 0u64;
    let mut unreadable = 0u64;
    for map in maps {
        let Some(mem_map) = map.mem_map else { continue };
        let mut pfn = map.pfn_start;
        // The batch in `buf`: frames [batch_start, batch_end).
        let (mut batch_start, mut batch_end) = (u64::MAX, 0u64);
        let mut batch_ok = false;
        while pfn < map.pfn_end {
            if !in_ranges(ranges, pfn * layout.page_size) {
                pfn += 1;
                continue;
            }
            if pfn < batch_start || pfn >= batch_end {
                let end = (pfn - pfn % BATCH + BATCH).min(map.pfn_end);
                let at = mem_map.wrapping_add((pfn - map.pfn_start) * size);
                let len = ((end - pfn) * size) as usize;
                batch_ok = mem.read(at, &mut buf[..len]).is_ok();
                if !batch_ok {
                    unreadable += end - pfn;
                }
                (batch_start, batch_end) = (pfn, end);
            }
            if !batch_ok {
                pfn += 1;
                continue;
            }
            let i = ((pfn - batch_start) * size) as usize;
            let page = &buf[i..i + size as usize];
            let tail = (pfn % BATCH != BATCH - 1 && pfn + 1 < batch_end)
                .then(|| &buf[i + size as usize..i + 2 * size as usize]);
            match classify(layout, level, pfn, page, tail) {
                Verdict::Keep | Verdict::Tail => pfn += 1,
                Verdict::BadFreeOrder(_) => {
                    bad_orders += 1;
                    pfn += 1;
                }
                Verdict::Exclude { class, pages } => {
                    let end = pfn.saturating_add(pages);
                    excluded.add(class, dumpable.clear_range(pfn, end));
                    pfn = end;
                }
            }
        }
    }
    if bad_orders > 0 {
        warnings.push(format!(
            "{bad_orders} free pages had an invalid buddy order and were kept"
        ));
    }
    if unreadable > 0 {
        warnings.push(format!(
            "the struct pages of {unreadable} frames could not be read; those frames are kept"
        ));
    }
}

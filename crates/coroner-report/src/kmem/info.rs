//! `kmem -i`: crash 8.0.2's memory summary (`dump_kmeminfo` in memory.c),
//! computed the way crash computes each line, so the numbers are crash's:
//!
//! - TOTAL MEM: `_totalram_pages` (`totalram_pages` before 5.0);
//! - FREE: each node's zones' `vm_stat[NR_FREE_PAGES]`;
//! - SHARED and SLAB: a walk of every present section's `struct page`s: pages
//!   without `PG_reserved` whose `_refcount` is above 1, and pages with
//!   `PG_slab` (crash's vm_stat override looks for `NR_SLAB_RECLAIMABLE`, which
//!   5.9 renamed `..._B`, so on newer kernels the walk decides);
//! - BUFFERS: the block-device inodes' page-cache pages (`blockdev_superblock`'s
//!   `s_inodes`, each `i_mapping->nrpages`), crash's `nr_blockdev_pages`;
//! - CACHED: `vm_node_stat[NR_FILE_PAGES]` less swap-cache pages and BUFFERS;
//! - huge pages from `hstates`, swap from `swap_info`, and the commit limit
//!   from the overcommit sysctls; COMMITTED is `vm_committed_as.count`, the
//!   percpu counter's central count only, as crash reads it.

use super::pages_to_size;
use super::read::{enumerator, int, symbol_u64, MemMap};
use crate::render::Render;
use crate::schema::{write_document, Stage, Warning};
use coroner_program::{AnalysisError, Program};
use coroner_types::Types;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Clone, Serialize)]
pub struct KmemInfoReport {
    pub page_size: u64,
    pub total_pages: u64,
    pub free_pages: u64,
    pub used_pages: u64,
    pub shared_pages: u64,
    pub buffer_pages: u64,
    pub cached_pages: i64,
    pub slab_pages: u64,
    /// (total, free) huge pages, in base pages; null when the kernel has none.
    pub huge_pages: Option<(u64, u64)>,
    /// (total, used) swap pages; null when the kernel has no swap.
    pub swap_pages: Option<(u64, u64)>,
    /// (limit, committed) pages; null when crash would not print them.
    pub commit_pages: Option<(u64, i64)>,
    pub warnings: Vec<Warning>,
}

fn percent(part: i128, whole: u64) -> i128 {
    if whole == 0 {
        0
    } else {
        part * 100 / i128::from(whole)
    }
}

impl KmemInfoReport {
    fn line(
        &self,
        out: &mut dyn Write,
        label: &str,
        pages: i128,
        of: Option<(&str, u64)>,
    ) -> io::Result<()> {
        let size = pages_to_size(pages.max(0) as u64, self.page_size);
        match of {
            None => writeln!(out, "{label:>13}  {pages:>7}  {size:>11}         ----"),
            Some((name, whole)) => writeln!(
                out,
                "{label:>13}  {pages:>7}  {size:>11}  {:>3}% of {name}",
                percent(pages, whole)
            ),
        }
    }
}

impl Render for KmemInfoReport {
    fn schema(&self) -> &'static str {
        "coroner.kmem-i/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "                 PAGES        TOTAL      PERCENTAGE")?;
        let total = self.total_pages;
        let mem = Some(("TOTAL MEM", total));
        self.line(out, "TOTAL MEM", total.into(), None)?;
        self.line(out, "FREE", self.free_pages.into(), mem)?;
        self.line(out, "USED", self.used_pages.into(), mem)?;
        self.line(out, "SHARED", self.shared_pages.into(), mem)?;
        self.line(out, "BUFFERS", self.buffer_pages.into(), mem)?;
        self.line(out, "CACHED", self.cached_pages.into(), mem)?;
        self.line(out, "SLAB", self.slab_pages.into(), mem)?;
        if let Some((huge, free)) = self.huge_pages {
            writeln!(out)?;
            self.line(out, "TOTAL HUGE", huge.into(), None)?;
            self.line(out, "HUGE FREE", free.into(), Some(("TOTAL HUGE", huge)))?;
        }
        writeln!(out)?;
        if let Some((swap, used)) = self.swap_pages {
            let of = Some(("TOTAL SWAP", swap));
            self.line(out, "TOTAL SWAP", swap.into(), None)?;
            self.line(out, "SWAP USED", used.into(), of)?;
            self.line(out, "SWAP FREE", (swap - used).into(), of)?;
        }
        if let Some((limit, committed)) = self.commit_pages {
            writeln!(out)?;
            self.line(out, "COMMIT LIMIT", limit.into(), None)?;
            match limit {
                0 => self.line(out, "COMMITTED", committed.into(), None)?,
                _ => self.line(
                    out,
                    "COMMITTED",
                    committed.into(),
                    Some(("TOTAL LIMIT", limit)),
                )?,
            }
        }
        Ok(())
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        write_document(out, self.schema(), self)
    }

    fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

/// Bits of `struct page`'s flags crash's walk tests.
struct PageBits {
    reserved: u64,
    slab: u64,
    refcount: usize,
}

pub fn kmem_info(program: &Program) -> Result<KmemInfoReport, AnalysisError> {
    let types = program.types()?;
    let info = program.kernel().vmcoreinfo();
    let page_size = info.page_size().unwrap_or(4096);
    let mut warnings = Warning::all(Stage::Program, program.warnings());
    let corrupt = |what: String| AnalysisError::Corrupt(what);

    let total_pages = int(program, types, "_totalram_pages.counter")
        .or_else(|_| int(program, types, "totalram_pages"))
        .map_err(corrupt)? as u64;

    // The page walk: SHARED and SLAB.
    let map = MemMap::read(program).map_err(corrupt)?;
    let flag = |name: &str, from_vmcoreinfo: Option<i64>| {
        from_vmcoreinfo
            .map(i128::from)
            .or_else(|| enumerator(types, name))
            .map(|bit| 1u64 << bit)
            .ok_or_else(|| AnalysisError::Layout(format!("enum pageflags {name}")))
    };
    let bits = PageBits {
        reserved: flag("PG_reserved", None)?,
        slab: flag("PG_slab", info.number("PG_slab"))?,
        refcount: info
            .offset("page", "_refcount")
            .or_else(|| types.offset_of("page", "_refcount"))
            .ok_or_else(|| AnalysisError::Layout("page._refcount".into()))?
            as usize,
    };
    let (mut shared, mut slab) = (0u64, 0u64);
    let lost = map.each_page(program, |_, _, page| {
        let flags = u64::from_le_bytes(page[..8].try_into().expect("8 bytes"));
        let count = i32::from_le_bytes(
            page[bits.refcount..bits.refcount + 4]
                .try_into()
                .expect("4 bytes"),
        );
        if flags & bits.slab != 0 {
            slab += 1;
        }
        if flags & bits.reserved == 0 && count > 1 {
            shared += 1;
        }
    });
    if lost > 0 {
        warnings.push(Warning::new(
            Stage::Dump,
            format!("{lost} page structs could not be read: SHARED and SLAB leave them out"),
        ));
    }

    let free_pages = free_pages(program, types).map_err(corrupt)?;
    let buffer_pages = match blockdev_pages(program, types) {
        Ok(n) => n,
        Err(e) => {
            warnings.push(Warning::new(Stage::Lookup, format!("BUFFERS: {e}")));
            0
        }
    };
    let file_pages = enumerator(types, "NR_FILE_PAGES")
        .and_then(|i| symbol_u64(program, "vm_node_stat", 8 * i as u64).ok())
        .unwrap_or(0) as i64;
    let swap_cache = swap_cache_pages(program, types);
    let cached_pages = file_pages - swap_cache as i64 - buffer_pages as i64;
    let huge_pages = huge_pages(program, types);
    let swap_pages = swap_pages(program, types);

    let commit_pages = (|| {
        program.address_of("sysctl_overcommit_memory")?;
        let kbytes = int(program, types, "sysctl_overcommit_kbytes").unwrap_or(0) as u64;
        let mut allowed = if kbytes != 0 {
            kbytes >> (page_size.trailing_zeros() - 10)
        } else {
            let ratio = int(program, types, "sysctl_overcommit_ratio").ok()? as u64;
            let (huge, _) = huge_pages?;
            (total_pages - huge) * ratio / 100
        };
        let committed = int(program, types, "vm_committed_as.count").ok()?.max(0) as i64;
        allowed += swap_pages.map_or(0, |(total, _)| total);
        Some((allowed, committed))
    })();

    Ok(KmemInfoReport {
        page_size,
        total_pages,
        free_pages,
        used_pages: total_pages.wrapping_sub(free_pages),
        shared_pages: shared,
        buffer_pages,
        cached_pages,
        slab_pages: slab,
        huge_pages,
        swap_pages,
        commit_pages,
        warnings,
    })
}

/// Every online node's `pglist_data` (`node_data[]`; a kernel without NUMA
/// has `contig_page_data`).
pub(crate) fn nodes(program: &Program, types: &Types) -> Vec<u64> {
    if let Some(node) = program.address_of("contig_page_data") {
        return vec![node];
    }
    let count = int(program, types, "nr_node_ids")
        .unwrap_or(1)
        .clamp(1, 1024) as u64;
    (0..count)
        .filter_map(|i| symbol_u64(program, "node_data", 8 * i).ok())
        .filter(|&node| node != 0)
        .collect()
}

/// The sum of every zone's `vm_stat[NR_FREE_PAGES]`.
fn free_pages(program: &Program, types: &Types) -> Result<u64, String> {
    let zones = types
        .offset_of("pglist_data", "node_zones")
        .ok_or("pglist_data.node_zones")?;
    let zone_size = types
        .find("struct zone")
        .and_then(|id| types.size_of(id))
        .ok_or("struct zone")?;
    let count = enumerator(types, "__MAX_NR_ZONES").ok_or("__MAX_NR_ZONES")? as u64;
    let vm_stat = types.offset_of("zone", "vm_stat").ok_or("zone.vm_stat")?;
    let index = enumerator(types, "NR_FREE_PAGES").ok_or("NR_FREE_PAGES")? as u64;
    let mut sum = 0u64;
    for node in nodes(program, types) {
        for z in 0..count {
            let at = node + zones + z * zone_size + vm_stat + 8 * index;
            sum = sum.wrapping_add(program.read_u64(at).map_err(|e| e.to_string())?);
        }
    }
    Ok(sum)
}

/// crash's `nr_blockdev_pages_v2`: page-cache pages of the block devices'
/// inodes.
fn blockdev_pages(program: &Program, types: &Types) -> Result<u64, String> {
    let sb = symbol_u64(program, "blockdev_superblock", 0)?;
    let s_inodes = types
        .offset_of("super_block", "s_inodes")
        .ok_or("super_block.s_inodes")?;
    let i_sb_list = types
        .offset_of("inode", "i_sb_list")
        .ok_or("inode.i_sb_list")?;
    let i_mapping = types
        .offset_of("inode", "i_mapping")
        .ok_or("inode.i_mapping")?;
    let nrpages = types
        .offset_of("address_space", "nrpages")
        .ok_or("address_space.nrpages")?;
    let read = |at: u64| program.read_u64(at).map_err(|e| e.to_string());
    let head = sb + s_inodes;
    let mut node = read(head)?;
    let mut pages = 0u64;
    let mut seen = 0;
    while node != head {
        seen += 1;
        if seen > 1 << 24 {
            return Err(format!(
                "the list at {head:#x} does not come back to its head"
            ));
        }
        let inode = node - i_sb_list;
        let mapping = read(inode + i_mapping)?;
        pages += read(mapping + nrpages)?;
        node = read(node)?;
    }
    Ok(pages)
}

/// Pages in the swap cache: every used swap type's address spaces'
/// `nrpages` (`swapper_spaces[type]`, `nr_swapper_spaces[type]` of them).
fn swap_cache_pages(program: &Program, types: &Types) -> u64 {
    let (Some(spaces), Some(counts)) = (
        program.address_of("swapper_spaces"),
        program.address_of("nr_swapper_spaces"),
    ) else {
        return 0;
    };
    let Some(size) = types
        .find("struct address_space")
        .and_then(|id| types.size_of(id))
    else {
        return 0;
    };
    let Some(nrpages) = types.offset_of("address_space", "nrpages") else {
        return 0;
    };
    let used = int(program, types, "nr_swapfiles")
        .unwrap_or(0)
        .clamp(0, 64) as u64;
    let mut pages = 0;
    for t in 0..used {
        let banks = program.read_u32(counts + 4 * t).unwrap_or(0) as u64;
        let Ok(array) = program.read_u64(spaces + 8 * t) else {
            continue;
        };
        if array == 0 {
            continue;
        }
        for bank in 0..banks.min(1 << 16) {
            pages += program.read_u64(array + bank * size + nrpages).unwrap_or(0);
        }
    }
    pages
}

/// (total, free) huge pages in base pages, from `hstates[]`.
fn huge_pages(program: &Program, types: &Types) -> Option<(u64, u64)> {
    let hstates = program.address_of("hstates")?;
    let size = types
        .find("struct hstate")
        .and_then(|id| types.size_of(id))?;
    let order = types.offset_of("hstate", "order")?;
    let nr = types.offset_of("hstate", "nr_huge_pages")?;
    let free = types.offset_of("hstate", "free_huge_pages")?;
    // HUGE_MAX_HSTATE entries; those past hugetlb_max_hstate have order 0.
    let count = int(program, types, "hugetlb_max_hstate")
        .unwrap_or(2)
        .clamp(0, 16) as u64;
    let (mut total, mut total_free) = (0, 0);
    for i in 0..count {
        let at = hstates + i * size;
        let horder = program.read_u32(at + order).ok()?;
        if horder == 0 {
            continue;
        }
        total += program.read_u64(at + nr).ok()? << horder;
        total_free += program.read_u64(at + free).ok()? << horder;
    }
    Some((total, total_free))
}

/// (total, used) swap pages of the swap areas in use.
fn swap_pages(program: &Program, types: &Types) -> Option<(u64, u64)> {
    program
        .address_of("swapper_spaces")
        .or_else(|| program.address_of("swapper_space"))?;
    let swap_info = program.address_of("swap_info")?;
    let count = int(program, types, "nr_swapfiles").ok()?.clamp(0, 64) as u64;
    let flags = types.offset_of("swap_info_struct", "flags")?;
    let pages = types.offset_of("swap_info_struct", "pages")?;
    let inuse = types.offset_of("swap_info_struct", "inuse_pages")?;
    const SWP_USED: u32 = 1;
    let (mut total, mut used) = (0, 0);
    for i in 0..count {
        let Ok(si) = program.read_u64(swap_info + 8 * i) else {
            continue;
        };
        if si == 0 || program.read_u32(si + flags).ok()? & SWP_USED == 0 {
            continue;
        }
        total += u64::from(program.read_u32(si + pages).ok()?);
        used += u64::from(program.read_u32(si + inuse).ok()?);
    }
    Some((total, used))
}

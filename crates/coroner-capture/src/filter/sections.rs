//! Where each page frame's `struct page` is: the sparsemem section walk (every
//! x86-64 kernel; `SPARSEMEM_EXTREME` roots or the flat section array), or one
//! `mem_map` array (FLATMEM), as makedumpfile finds them (`get_mm_sparsemem`,
//! `get_mm_flatmem`).

use super::layout::{number, PageLayout};
use crate::CaptureError;
use coroner_kernel::{Memory, VmcoreInfo};

/// Frames `[pfn_start, pfn_end)` whose `struct page`s start at `mem_map` (virtual),
/// or have none (a section without memory): their pages are never filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemMap {
    pub pfn_start: u64,
    pub pfn_end: u64,
    pub mem_map: Option<u64>,
}

const SECTION_MARKED_PRESENT: u64 = 1;
/// makedumpfile masks five low bits of `section_mem_map` whatever the kernel.
const SECTION_MAP_MASK: u64 = !((1 << 5) - 1);
/// Lowest kernel address on x86-64 (the upper canonical half).
const KVBASE: u64 = 0xffff_8000_0000_0000;
/// Refuse section tables no machine has (2^26 sections of 128 MiB = 8 EiB).
const MAX_SECTIONS: u64 = 1 << 26;

pub fn mem_maps(
    mem: &dyn Memory,
    info: &VmcoreInfo,
    layout: &PageLayout,
    max_mapnr: u64,
) -> Result<Vec<MemMap>, CaptureError> {
    let discontig = info.symbol("node_data").is_some()
        && info.length("node_data").is_some()
        && info.size("pglist_data").is_some()
        && info.offset("pglist_data", "node_mem_map").is_some()
        && info.offset("pglist_data", "node_start_pfn").is_some()
        && info.offset("pglist_data", "node_spanned_pages").is_some();
    if discontig {
        return Err(CaptureError::Vmcoreinfo(
            "DISCONTIGMEM kernels (pglist_data.node_mem_map in VMCOREINFO) are not supported"
                .into(),
        ));
    }
    match (
        info.symbol("mem_section"),
        info.size("mem_section"),
        info.offset("mem_section", "section_mem_map"),
    ) {
        (Some(sym), Some(size), Some(off)) => {
            sparse(mem, info, layout, max_mapnr, sym, size, off)
        }
        _ => match info.symbol("mem_map") {
            Some(sym) => {
                let map = mem.read_u64(sym).ok().filter(|&m| m != 0).ok_or_else(|| {
                    CaptureError::Vmcoreinfo(format!("cannot read mem_map at {sym:#x}"))
                })?;
                Ok(vec![MemMap {
                    pfn_start: 0,
                    pfn_end: max_mapnr,
                    mem_map: Some(map),
                }])
            }
            None => Err(CaptureError::Vmcoreinfo(
                "VMCOREINFO has neither SYMBOL(mem_section) with its size and offset nor SYMBOL(mem_map)".into(),
            )),
        },
    }
}

fn sparse(
    mem: &dyn Memory,
    info: &VmcoreInfo,
    layout: &PageLayout,
    max_mapnr: u64,
    symbol: u64,
    size: u64,
    map_offset: u64,
) -> Result<Vec<MemMap>, CaptureError> {
    let bad = |what: String| CaptureError::Vmcoreinfo(what);
    let l5 = number(info, "pgtable_l5_enabled") == Some(1);
    let section_bits = number(info, "SECTION_SIZE_BITS").unwrap_or(27);
    let physmem_bits = number(info, "MAX_PHYSMEM_BITS").unwrap_or(if l5 { 52 } else { 46 });
    let shift = i64::from(layout.page_shift);
    if !(shift..=shift + 40).contains(&section_bits) || !(section_bits..=64).contains(&physmem_bits)
    {
        return Err(bad(format!(
            "SECTION_SIZE_BITS={section_bits} / MAX_PHYSMEM_BITS={physmem_bits} are not plausible"
        )));
    }
    if size == 0 || size > layout.page_size {
        return Err(bad(format!("SIZE(mem_section)={size} is not plausible")));
    }
    let pfn_shift = (section_bits - shift) as u32;
    let per_section = 1u64 << pfn_shift;
    let num_section = max_mapnr.div_ceil(per_section);
    if num_section > MAX_SECTIONS {
        return Err(bad(format!(
            "{num_section} memory sections is more than any machine has"
        )));
    }
    let per_root_extreme = layout.page_size / size;
    let nr_mem_sections = 1u64 << (physmem_bits - section_bits).min(63);
    let extreme = info
        .length("mem_section")
        .is_none_or(|len| len == nr_mem_sections.div_ceil(per_root_extreme));
    let per_root = if extreme { per_root_extreme } else { 1 };
    let roots = num_section.div_ceil(per_root);

    // VMCOREINFO's SYMBOL(mem_section) is the root array itself; makedumpfile also
    // tries it as a pointer to that array (vmlinux-derived symbols on 4.15+).
    let geometry = Geometry {
        extreme,
        roots,
        per_root,
        per_section,
        size,
        map_offset,
        struct_page: layout.size,
        num_section,
    };
    let mut first = validate(mem, symbol, &geometry);
    if first.is_none() && extreme {
        if let Ok(ptr) = mem.read_u64(symbol) {
            first = validate(mem, ptr, &geometry);
        }
    }
    let maps = first.ok_or_else(|| {
        bad(format!(
            "mem_section at {symbol:#x} holds no valid section: cannot find the struct pages"
        ))
    })?;
    Ok(maps
        .into_iter()
        .enumerate()
        .map(|(nr, mem_map)| {
            let pfn_start = nr as u64 * per_section;
            MemMap {
                pfn_start,
                pfn_end: (pfn_start + per_section).min(max_mapnr),
                mem_map,
            }
        })
        .collect())
}

/// The shape of the section table.
struct Geometry {
    extreme: bool,
    roots: u64,
    per_root: u64,
    per_section: u64,
    /// `SIZE(mem_section)`.
    size: u64,
    map_offset: u64,
    /// `SIZE(page)`.
    struct_page: u64,
    num_section: u64,
}

/// Each section's decoded `mem_map`, or `None` when no section is present or a
/// present one decodes outside the kernel's addresses (a wrong guess of the array).
fn validate(mem: &dyn Memory, array: u64, geometry: &Geometry) -> Option<Vec<Option<u64>>> {
    let Geometry {
        extreme,
        roots,
        per_root,
        size,
        map_offset,
        struct_page,
        num_section,
        ..
    } = *geometry;
    let table_len = if extreme { 8 * roots } else { size * roots };
    let mut table = vec![0u8; table_len as usize];
    mem.read(array, &mut table).ok()?;
    let root = |i: u64| {
        let o = (i * 8) as usize;
        u64::from_le_bytes(table[o..o + 8].try_into().expect("8 bytes"))
    };
    let mut any = false;
    let mut out = Vec::with_capacity(num_section as usize);
    for nr in 0..num_section {
        let section = if extreme {
            match root(nr / per_root) {
                0 => None,
                r => Some(r.wrapping_add((nr & (per_root - 1)) * size)),
            }
        } else {
            Some(array.wrapping_add(nr * size))
        };
        let map = section
            .filter(|&s| s >= KVBASE)
            .and_then(|s| mem.read_u64(s.wrapping_add(map_offset)).ok())
            .filter(|m| m & SECTION_MARKED_PRESENT != 0);
        let decoded = match map {
            None => None,
            Some(m) => {
                let pfn = nr * geometry.per_section;
                let decoded = (m & SECTION_MAP_MASK).wrapping_add(pfn.wrapping_mul(struct_page));
                if decoded < KVBASE {
                    return None;
                }
                any = true;
                Some(decoded)
            }
        };
        out.push(decoded);
    }
    any.then_some(out)
}

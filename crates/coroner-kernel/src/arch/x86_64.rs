//! x86-64: kernel virtual addresses are translated by walking the kernel's own page
//! tables (`init_top_pgt`, 4- or 5-level, with 1 GiB and 2 MiB pages), which covers
//! the randomised direct map, vmalloc, vmemmap and modules alike. Without page tables
//! (no such symbol in VMCOREINFO: old kernels, synthetic dumps) it falls back, as
//! makedumpfile does, to the two fixed mappings: kernel text and the direct map. A
//! page-table page the dump lacks falls back to the kernel image's linear mapping
//! for image addresses, and to the direct map's once its base is known
//! (`page_offset_base`, which callers with symbols read); the rest stay unreadable.

use super::Translate;
use crate::memory::VirtError;
use crate::VmcoreInfo;
use coroner_dump::PhysMemory;

/// Where the kernel image is mapped: `vaddr - START_KERNEL_MAP + phys_base`.
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// Physical address bits of a page-table entry (bits 12..51).
const ENTRY_ADDR: u64 = 0x000f_ffff_ffff_f000;
const PRESENT: u64 = 1;
/// Set in a PUD or PMD entry that maps a 1 GiB or 2 MiB page directly.
const HUGE: u64 = 1 << 7;

/// How kernel addresses translate on one x86-64 dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X86_64 {
    /// Physical address of the top-level page table, when VMCOREINFO names one.
    top_table: Option<u64>,
    five_level: bool,
    phys_base: u64,
    /// AMD SME's encryption bit, set in page-table entries; never part of an address.
    sme_mask: u64,
    /// Direct-map base for the fallback translation.
    page_offset: u64,
    /// Where the kernel image's linear mapping ends (the modules area starts).
    image_map_end: u64,
    /// The direct map's base and size, once told ([`Translate::set_direct_map`]).
    direct_map: Option<(u64, u64)>,
    max_physmem_bits: u32,
}

impl X86_64 {
    /// Builds the translation from VMCOREINFO. `phys_base` comes from VMCOREINFO's
    /// NUMBER(phys_base) when present, else from the container (`fallback_phys_base`).
    pub fn new(info: &VmcoreInfo, fallback_phys_base: Option<u64>) -> X86_64 {
        // NUMBER(phys_base) is printed signed: a kernel loaded below its link address
        // has a negative one, and the arithmetic below wraps as the CPU's does.
        let phys_base = info
            .number("phys_base")
            .map(|n| n as u64)
            .or(fallback_phys_base)
            .unwrap_or(0);
        let top_symbol = info
            .symbol("init_top_pgt")
            .or_else(|| info.symbol("init_level4_pgt"))
            .or_else(|| info.symbol("swapper_pg_dir"));
        let five_level = info.number("pgtable_l5_enabled") == Some(1);
        X86_64 {
            top_table: top_symbol.map(|v| v.wrapping_sub(START_KERNEL_MAP).wrapping_add(phys_base)),
            five_level,
            phys_base,
            sme_mask: info.number("sme_mask").unwrap_or(0) as u64,
            page_offset: default_page_offset(info.osrelease(), five_level),
            image_map_end: START_KERNEL_MAP.saturating_add(
                info.number("KERNEL_IMAGE_SIZE")
                    .filter(|&n| n > 0 && n <= 1 << 31)
                    .unwrap_or(1 << 30) as u64,
            ),
            direct_map: None,
            max_physmem_bits: info
                .number("MAX_PHYSMEM_BITS")
                .filter(|n| (32..=52).contains(n))
                .unwrap_or(46) as u32,
        }
    }

    /// The fixed translations, used when no page table is known.
    fn fixed(&self, vaddr: u64) -> Result<u64, VirtError> {
        if vaddr >= START_KERNEL_MAP {
            Ok((vaddr - START_KERNEL_MAP).wrapping_add(self.phys_base))
        } else if vaddr >= self.page_offset {
            Ok(vaddr - self.page_offset)
        } else {
            Err(not_mapped(
                vaddr,
                "below the direct map, and the dump names no page tables",
            ))
        }
    }

    fn walk(&self, phys: &dyn PhysMemory, top: u64, vaddr: u64) -> Result<u64, VirtError> {
        let va_bits = if self.five_level { 57 } else { 48 };
        if !is_canonical(vaddr, va_bits) {
            return Err(not_mapped(vaddr, "not a canonical address"));
        }
        let shifts: &[u32] = if self.five_level {
            &[48, 39, 30, 21, 12]
        } else {
            &[39, 30, 21, 12]
        };
        let mut table = top;
        for &shift in shifts {
            let index = (vaddr >> shift) & 0x1ff;
            let entry = read_entry(phys, table + index * 8, vaddr)? & !self.sme_mask;
            if entry & PRESENT == 0 {
                return Err(not_mapped(
                    vaddr,
                    &format!("{} entry not present", level_name(shift)),
                ));
            }
            let leaf = shift == 12 || ((shift == 30 || shift == 21) && entry & HUGE != 0);
            if leaf {
                let within = (1u64 << shift) - 1;
                return Ok((entry & ENTRY_ADDR & !within) | (vaddr & within));
            }
            table = entry & ENTRY_ADDR;
        }
        unreachable!("the last level (shift 12) always returns")
    }
}

impl Translate for X86_64 {
    fn translate(&self, phys: &dyn PhysMemory, vaddr: u64) -> Result<u64, VirtError> {
        match self.top_table {
            // A page-table page the dump lacks (cut short, corrupt) does not hide
            // the kernel image: its mapping is linear, as the fixed one says.
            Some(top) => match self.walk(phys, top, vaddr) {
                Err(VirtError::Phys { .. })
                    if (START_KERNEL_MAP..self.image_map_end).contains(&vaddr) =>
                {
                    self.fixed(vaddr)
                }
                // So is the direct map's, once its base is known.
                Err(e @ VirtError::Phys { .. }) => match self.direct_map {
                    Some((base, size)) if vaddr >= base && vaddr - base < size => Ok(vaddr - base),
                    _ => Err(e),
                },
                walked => walked,
            },
            None => self.fixed(vaddr),
        }
    }

    fn min_page_size(&self) -> u64 {
        4096
    }

    fn set_direct_map(&mut self, base: u64) {
        // Canonical upper half, 1 GiB aligned (KASLR moves it in such steps).
        if base >> 47 == 0x1ffff && base.is_multiple_of(1 << 30) {
            self.direct_map = Some((base, 1u64 << self.max_physmem_bits));
        }
    }

    fn describe(&self) -> String {
        match self.top_table {
            Some(top) => format!(
                "x86_64 {}-level page tables at {top:#x}, phys_base {:#x}",
                if self.five_level { 5 } else { 4 },
                self.phys_base
            ),
            None => format!(
                "x86_64 fixed mappings (no page tables named): direct map at {:#x}, phys_base {:#x}",
                self.page_offset, self.phys_base
            ),
        }
    }
}

fn read_entry(phys: &dyn PhysMemory, paddr: u64, vaddr: u64) -> Result<u64, VirtError> {
    let mut b = [0u8; 8];
    phys.read_phys(paddr, &mut b)
        .map_err(|source| VirtError::Phys { vaddr, source })?;
    Ok(u64::from_le_bytes(b))
}

fn is_canonical(vaddr: u64, va_bits: u32) -> bool {
    let high = (vaddr as i64) >> (va_bits - 1);
    high == 0 || high == -1
}

fn level_name(shift: u32) -> &'static str {
    match shift {
        48 => "PML5",
        39 => "PML4",
        30 => "PUD",
        21 => "PMD",
        _ => "PTE",
    }
}

fn not_mapped(vaddr: u64, why: &str) -> VirtError {
    VirtError::NotMapped {
        vaddr,
        why: why.to_string(),
    }
}

/// The unrandomised direct-map base for a kernel release (as makedumpfile assumes
/// when it has no page tables): it moved in 2.6.27 and again in 4.20.
fn default_page_offset(release: Option<&str>, five_level: bool) -> u64 {
    if five_level {
        return 0xff11_0000_0000_0000;
    }
    match release.and_then(parse_version) {
        Some(v) if v < (2, 6, 27) => 0xffff_8100_0000_0000,
        Some(v) if v < (4, 20, 0) => 0xffff_8800_0000_0000,
        _ => 0xffff_8880_0000_0000,
    }
}

/// `"4.18.0-372.el8.x86_64"` → (4, 18, 0).
fn parse_version(release: &str) -> Option<(u32, u32, u32)> {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().ok());
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use coroner_dump::{PageState, ReadError};
    use std::collections::HashMap;

    /// Sparse physical memory built page-table entry by entry.
    #[derive(Default)]
    struct Phys(HashMap<u64, u64>);

    impl Phys {
        fn set(&mut self, table: u64, index: u64, entry: u64) {
            self.0.insert(table + index * 8, entry);
        }
    }

    impl PhysMemory for Phys {
        fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
            let word = self.0.get(&paddr).ok_or(ReadError::NotInDump { paddr })?;
            buf.copy_from_slice(&word.to_le_bytes()[..buf.len()]);
            Ok(())
        }
        fn page_state(&self, _pfn: u64) -> PageState {
            PageState::Present
        }
        fn page_size(&self) -> u64 {
            4096
        }
    }

    fn idx(vaddr: u64, shift: u32) -> u64 {
        (vaddr >> shift) & 0x1ff
    }

    fn translator(top: u64, five_level: bool) -> X86_64 {
        X86_64 {
            top_table: Some(top),
            five_level,
            phys_base: 0,
            sme_mask: 1 << 47,
            page_offset: 0xffff_8880_0000_0000,
            image_map_end: START_KERNEL_MAP + (1 << 30),
            direct_map: None,
            max_physmem_bits: 46,
        }
    }

    const TOP: u64 = 0x1000;
    const PUD: u64 = 0x2000;
    const PMD: u64 = 0x3000;
    const PT: u64 = 0x4000;

    #[test]
    fn four_level_with_4k_2m_and_1g_pages() {
        let mut m = Phys::default();
        let small = 0xffff_c900_0012_3456u64; // vmalloc, 4 KiB page
        m.set(TOP, idx(small, 39), PUD | PRESENT | (1 << 47)); // SME bit is stripped
        m.set(PUD, idx(small, 30), PMD | PRESENT);
        m.set(PMD, idx(small, 21), PT | PRESENT);
        m.set(PT, idx(small, 12), 0x7777_7000 | PRESENT | (1 << 63));
        let t = translator(TOP, false);
        assert_eq!(t.translate(&m, small).unwrap(), 0x7777_7456);

        let mid = small + (1 << 21); // next PMD slot: a 2 MiB page
        m.set(PMD, idx(mid, 21), 0x4020_0000 | PRESENT | HUGE);
        assert_eq!(
            t.translate(&m, mid).unwrap(),
            0x4020_0000 | (mid & 0x1f_ffff)
        );

        let big = 0xffff_8880_4abc_def0u64; // direct map, 1 GiB page
        m.set(TOP, idx(big, 39), 0x5000 | PRESENT);
        m.set(0x5000, idx(big, 30), 0x1_4000_0000 | PRESENT | HUGE);
        assert_eq!(
            t.translate(&m, big).unwrap(),
            0x1_4000_0000 | (big & 0x3fff_ffff)
        );
    }

    #[test]
    fn five_level_walk_uses_the_pml5() {
        let mut m = Phys::default();
        let v = 0xff11_0000_0000_1234u64;
        m.set(TOP, idx(v, 48), 0x6000 | PRESENT);
        m.set(0x6000, idx(v, 39), PUD | PRESENT);
        m.set(PUD, idx(v, 30), PMD | PRESENT);
        m.set(PMD, idx(v, 21), PT | PRESENT);
        m.set(PT, idx(v, 12), 0x9000 | PRESENT);
        assert_eq!(translator(TOP, true).translate(&m, v).unwrap(), 0x9234);
        // The same address is not canonical with 48 bits.
        let err = translator(TOP, false).translate(&m, v).unwrap_err();
        assert!(err.to_string().contains("canonical"), "{err}");
    }

    #[test]
    fn absent_entries_and_unreadable_tables_are_errors() {
        let mut m = Phys::default();
        let v = 0xffff_c900_0000_0000u64;
        m.set(TOP, idx(v, 39), PUD | PRESENT);
        m.set(PUD, idx(v, 30), 0);
        let t = translator(TOP, false);
        let err = t.translate(&m, v).unwrap_err();
        assert!(err.to_string().contains("PUD entry not present"), "{err}");
        // A PML4 slot whose table page is not in the dump.
        let w = 0xffff_d000_0000_0000u64;
        m.set(TOP, idx(w, 39), 0x8_0000 | PRESENT);
        assert!(matches!(t.translate(&m, w), Err(VirtError::Phys { .. })));
    }

    #[test]
    fn fixed_mappings_without_page_tables() {
        let info =
            VmcoreInfo::parse(b"OSRELEASE=3.10.0-1160.el7.x86_64\nNUMBER(phys_base)=16777216\n");
        let t = X86_64::new(&info, None);
        let m = Phys::default();
        assert_eq!(t.translate(&m, 0xffff_ffff_8100_0000).unwrap(), 0x200_0000);
        assert_eq!(t.translate(&m, 0xffff_8800_0123_4000).unwrap(), 0x123_4000);
        assert!(t.translate(&m, 0x1000).is_err());
        let new = VmcoreInfo::parse(b"OSRELEASE=6.1.0\n");
        let t = X86_64::new(&new, Some(0x100_0000));
        assert_eq!(t.translate(&m, 0xffff_8880_0000_1000).unwrap(), 0x1000);
        assert_eq!(t.translate(&m, 0xffff_ffff_8000_1000).unwrap(), 0x100_1000);
    }
}

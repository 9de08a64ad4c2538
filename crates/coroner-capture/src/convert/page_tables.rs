//! x86-64 page tables read from physical memory, with no kernel symbols: what a
//! vCPU's CR3 says about where the kernel image is mapped, for inputs whose
//! kernel left no VMCOREINFO (crash's `find_kernel_start` does the same for VMware
//! and QEMU dumps).

use coroner_dump::PhysMemory;

const ENTRY_ADDR: u64 = 0x000f_ffff_ffff_f000;
const PRESENT: u64 = 1;
/// A PUD or PMD entry that maps a 1 GiB or 2 MiB page itself.
const HUGE: u64 = 1 << 7;
const ENTRIES: u64 = 512;

/// One address space's tables: the top table's physical address and its depth.
pub struct PageTables<'a> {
    memory: &'a dyn PhysMemory,
    top: u64,
    five_level: bool,
}

impl<'a> PageTables<'a> {
    pub fn new(memory: &'a dyn PhysMemory, top: u64, five_level: bool) -> PageTables<'a> {
        PageTables {
            memory,
            top,
            five_level,
        }
    }

    fn shifts(&self) -> &'static [u32] {
        if self.five_level {
            &[48, 39, 30, 21, 12]
        } else {
            &[39, 30, 21, 12]
        }
    }

    fn entry(&self, table: u64, index: u64) -> Option<u64> {
        let mut b = [0u8; 8];
        self.memory.read_phys(table + index * 8, &mut b).ok()?;
        Some(u64::from_le_bytes(b))
    }

    /// The physical address `vaddr` maps to, if it is mapped.
    pub fn translate(&self, vaddr: u64) -> Option<u64> {
        let mut table = self.top;
        for &shift in self.shifts() {
            let entry = self.entry(table, (vaddr >> shift) & (ENTRIES - 1))?;
            if entry & PRESENT == 0 {
                return None;
            }
            if shift == 12 || (shift <= 30 && entry & HUGE != 0) {
                let within = (1u64 << shift) - 1;
                return Some((entry & ENTRY_ADDR & !within) | (vaddr & within));
            }
            table = entry & ENTRY_ADDR;
        }
        None
    }

    /// The first mapped address in `[from, to)` (both in the upper half) and
    /// where it maps: entries are scanned, not addresses, so a sparse gigabyte
    /// costs a few table reads.
    pub fn first_mapped(&self, from: u64, to: u64) -> Option<(u64, u64)> {
        self.scan(self.top, 0, from, to, None)
    }

    /// The canonical address of top-level entry `index`.
    fn top_address(&self, index: u64) -> u64 {
        let bits = if self.five_level { 57 } else { 48 };
        let va = index << self.shifts()[0];
        if va >> (bits - 1) & 1 == 1 {
            va | !((1u64 << bits) - 1)
        } else {
            va
        }
    }

    /// Scans `table` (level `level` of the walk, covering addresses from `base`)
    /// for the first mapping at or after `from`, below `to`.
    fn scan(
        &self,
        table: u64,
        level: usize,
        from: u64,
        to: u64,
        base: Option<u64>,
    ) -> Option<(u64, u64)> {
        let shift = self.shifts()[level];
        let span = 1u64 << shift;
        let first = match base {
            None => (from >> shift) & (ENTRIES - 1),
            Some(base) if from > base => (from - base) >> shift,
            Some(_) => 0,
        };
        for index in first..ENTRIES {
            let start = match base {
                None => self.top_address(index),
                Some(base) => base + (index << shift),
            };
            if start >= to {
                break;
            }
            let entry = self.entry(table, index)?;
            if entry & PRESENT == 0 {
                continue;
            }
            let at = start.max(from);
            if shift == 12 || (shift <= 30 && entry & HUGE != 0) {
                let page = entry & ENTRY_ADDR & !(span - 1);
                return Some((at, page + (at - start)));
            }
            if let Some(found) = self.scan(entry & ENTRY_ADDR, level + 1, at, to, Some(start)) {
                return Some(found);
            }
        }
        None
    }
}

//! An ORC table in kernel memory: `.orc_unwind_ip` (one `int` per entry, each the
//! distance from itself to the code address it covers, sorted by that address) and
//! `.orc_unwind` (the parallel `struct orc_entry` array). vmlinux also has
//! `orc_lookup`, filled at boot: for each 256-byte block of `_stext.._etext`, the
//! index of the entry covering the block's start, so a lookup searches one block.
//!
//! Nothing is copied up front: a lookup reads one block's offsets, or probes the
//! table in a binary search, so a 100k-entry table costs a few hundred bytes.

use crate::entry::{OrcEntry, OrcVersion, ENTRY_SIZE};
use coroner_mem::{MemError, Memory};

/// More entries than any kernel has (a distribution vmlinux has ~100k).
pub const MAX_ENTRIES: u64 = 1 << 24;
/// `LOOKUP_BLOCK_SIZE`: code bytes per `orc_lookup` slot.
const LOOKUP_BLOCK: u64 = 256;
/// A fast-lookup block with more entries than this is not trusted; it is
/// searched by probing instead of read whole.
const MAX_BLOCK_ENTRIES: u64 = 4096;

/// The boot-time `orc_lookup` table of vmlinux.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastLookup {
    /// Address of `orc_lookup` (`u32` per block).
    pub table: u64,
    /// Number of slots (`orc_lookup_end - orc_lookup`).
    pub blocks: u64,
    /// `LOOKUP_START_IP` (`_stext`) and `LOOKUP_STOP_IP` (`_etext`).
    pub start_ip: u64,
    pub stop_ip: u64,
}

/// An ORC table located in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrcTable {
    pub(crate) ip_table: u64,
    pub(crate) entries: u64,
    count: u64,
    pub(crate) fast: Option<FastLookup>,
}

/// ORC table bounds that cannot be a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableError {
    Reversed,
    Disagree { ip_bytes: u64, entry_bytes: u64 },
    Count(u64),
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableError::Reversed => write!(f, "ORC table bounds are reversed"),
            TableError::Disagree {
                ip_bytes,
                entry_bytes,
            } => write!(
                f,
                "ORC tables disagree: {ip_bytes} bytes of addresses, {entry_bytes} bytes of entries"
            ),
            TableError::Count(count) => write!(f, "ORC table of {count} entries"),
        }
    }
}

impl std::error::Error for TableError {}

impl OrcTable {
    /// A table from its bounds (`__start_orc_unwind_ip`, `__stop_orc_unwind_ip`,
    /// `__start_orc_unwind`, `__stop_orc_unwind`), checked as the kernel's
    /// `unwind_init` checks them.
    pub fn from_bounds(
        ip_start: u64,
        ip_stop: u64,
        unwind_start: u64,
        unwind_stop: u64,
    ) -> Result<OrcTable, TableError> {
        let ip_bytes = ip_stop.checked_sub(ip_start);
        let entry_bytes = unwind_stop.checked_sub(unwind_start);
        let (Some(ip_bytes), Some(entry_bytes)) = (ip_bytes, entry_bytes) else {
            return Err(TableError::Reversed);
        };
        let count = ip_bytes / 4;
        if ip_bytes % 4 != 0
            || entry_bytes % ENTRY_SIZE as u64 != 0
            || entry_bytes / ENTRY_SIZE as u64 != count
        {
            return Err(TableError::Disagree {
                ip_bytes,
                entry_bytes,
            });
        }
        OrcTable::new(ip_start, unwind_start, count)
    }

    /// A table of `count` entries (a module's `arch.num_orcs`).
    pub fn new(ip_table: u64, entries: u64, count: u64) -> Result<OrcTable, TableError> {
        if count == 0 || count > MAX_ENTRIES {
            return Err(TableError::Count(count));
        }
        Ok(OrcTable {
            ip_table,
            entries,
            count,
            fast: None,
        })
    }

    /// Adds vmlinux's `orc_lookup` table.
    pub fn with_fast_lookup(mut self, fast: FastLookup) -> OrcTable {
        self.fast = Some(fast);
        self
    }

    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The code address entry `i` starts at.
    fn ip_at(&self, mem: &dyn Memory, i: u64) -> Result<u64, MemError> {
        let at = self.ip_table.wrapping_add(4 * i);
        let rel = mem.read_u32(at)? as i32;
        Ok(at.wrapping_add_signed(i64::from(rel)))
    }

    /// Entry `i`, decoded.
    pub fn entry(
        &self,
        mem: &dyn Memory,
        i: u64,
        version: OrcVersion,
    ) -> Result<OrcEntry, MemError> {
        let mut raw = [0u8; ENTRY_SIZE];
        mem.read(self.entries.wrapping_add(ENTRY_SIZE as u64 * i), &mut raw)?;
        Ok(OrcEntry::decode(raw, version))
    }

    /// The index of the entry covering `ip`: the last one starting at or before it
    /// (of duplicates, the last: section terminators come first). `None` when
    /// `ip` is below the table.
    pub fn find(&self, mem: &dyn Memory, ip: u64) -> Result<Option<u64>, MemError> {
        if let Some((first, n)) = self.fast_block(mem, ip) {
            // A block that cannot be read, or that is stale, is searched around.
            if let Ok(Some(found)) = self.search_block(mem, first, n, ip) {
                return Ok(found);
            }
        }
        self.search(mem, 0, self.count, ip)
    }

    /// The entries `orc_lookup` says cover `ip`, if it has a plausible answer.
    fn fast_block(&self, mem: &dyn Memory, ip: u64) -> Option<(u64, u64)> {
        let fast = self.fast?;
        if ip < fast.start_ip || ip >= fast.stop_ip {
            return None;
        }
        let idx = (ip - fast.start_ip) / LOOKUP_BLOCK;
        if idx + 1 >= fast.blocks {
            return None;
        }
        let start = u64::from(mem.read_u32(fast.table.wrapping_add(4 * idx)).ok()?);
        let stop = u64::from(mem.read_u32(fast.table.wrapping_add(4 * (idx + 1))).ok()?) + 1;
        (start < stop && stop <= self.count).then(|| (start, stop - start))
    }

    /// Searches a small block, read in one go; `Ok(None)` when the block turns
    /// out not to cover `ip`.
    fn search_block(
        &self,
        mem: &dyn Memory,
        first: u64,
        n: u64,
        ip: u64,
    ) -> Result<Option<Option<u64>>, MemError> {
        if n > MAX_BLOCK_ENTRIES {
            return self.search(mem, first, n, ip).map(Some);
        }
        let mut raw = vec![0u8; 4 * n as usize];
        let base = self.ip_table.wrapping_add(4 * first);
        mem.read(base, &mut raw)?;
        let ips: Vec<u64> = raw
            .chunks_exact(4)
            .enumerate()
            .map(|(k, b)| {
                let rel = i32::from_le_bytes(b.try_into().expect("4 bytes"));
                base.wrapping_add(4 * k as u64)
                    .wrapping_add_signed(i64::from(rel))
            })
            .collect();
        let k = ips.partition_point(|&start| start <= ip);
        // The block's first entry covers the block's start, so it is at or
        // before ip; if not, the lookup table is stale and the caller searches all.
        Ok(k.checked_sub(1).map(|k| Some(first + k as u64)))
    }

    /// Binary search of entries `first..first + n`, one probe at a time.
    fn search(
        &self,
        mem: &dyn Memory,
        first: u64,
        n: u64,
        ip: u64,
    ) -> Result<Option<u64>, MemError> {
        let (mut lo, mut hi) = (first, first + n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.ip_at(mem, mid)? <= ip {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok((lo > first).then(|| lo - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coroner_mem::{MemErrorKind, Space};
    use std::collections::BTreeMap;

    /// A flat byte image at `base`.
    struct Image {
        base: u64,
        bytes: Vec<u8>,
    }

    impl Memory for Image {
        fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
            let outside =
                |why: &str| MemError::new(addr, Space::Virtual, MemErrorKind::Unrecorded, why);
            let off = addr.checked_sub(self.base).ok_or(outside("below image"))? as usize;
            let src = self
                .bytes
                .get(off..off + buf.len())
                .ok_or(outside("past image"))?;
            buf.copy_from_slice(src);
            Ok(())
        }
    }

    const BASE: u64 = 0xffff_ffff_8100_0000;

    /// Entries at the given code addresses, each with sp_offset = its index.
    fn table(ips: &[u64]) -> (Image, OrcTable) {
        let ip_table = BASE + 0x10_0000;
        let entries = ip_table + 4 * ips.len() as u64;
        let mut bytes = vec![0u8; 0x10_0000];
        for (i, &ip) in ips.iter().enumerate() {
            let at = ip_table + 4 * i as u64;
            bytes.extend(((ip as i64 - at as i64) as i32).to_le_bytes());
        }
        for i in 0..ips.len() {
            bytes.extend((i as i16).to_le_bytes());
            bytes.extend([0, 0, 0x05, 0x00]);
        }
        let t = OrcTable::new(ip_table, entries, ips.len() as u64).unwrap();
        (Image { base: BASE, bytes }, t)
    }

    #[test]
    fn finds_the_last_entry_at_or_before_an_address() {
        let ips = [BASE + 0x100, BASE + 0x200, BASE + 0x200, BASE + 0x300];
        let (mem, t) = table(&ips);
        let find = |ip| t.find(&mem, ip).unwrap();
        assert_eq!(find(BASE + 0xff), None);
        assert_eq!(find(BASE + 0x100), Some(0));
        assert_eq!(find(BASE + 0x1ff), Some(0));
        assert_eq!(find(BASE + 0x200), Some(2), "the later duplicate wins");
        assert_eq!(find(BASE + 0x5000), Some(3));
        assert_eq!(t.entry(&mem, 2, OrcVersion::V1).unwrap().sp_offset, 2);
    }

    #[test]
    fn fast_lookup_agrees_with_binary_search() {
        let ips: Vec<u64> = (0..200u64).map(|i| BASE + 0x1000 + i * 37).collect();
        let (mut mem, plain) = table(&ips);
        // Build orc_lookup as the kernel's unwind_init does.
        let start_ip = BASE + 0x1000;
        let stop_ip = BASE + 0x1000 + 200 * 37;
        let blocks = (stop_ip - start_ip) / LOOKUP_BLOCK + 2;
        let lookup_at = BASE + mem.bytes.len() as u64;
        let mut slots = BTreeMap::new();
        for b in 0..blocks {
            let ip = start_ip + b * LOOKUP_BLOCK;
            slots.insert(b, plain.find(&mem, ip).unwrap().unwrap() as u32);
        }
        for v in slots.values() {
            mem.bytes.extend(v.to_le_bytes());
        }
        let fast = plain.clone().with_fast_lookup(FastLookup {
            table: lookup_at,
            blocks,
            start_ip,
            stop_ip,
        });
        for ip in (BASE + 0xf00..stop_ip + 0x100).step_by(7) {
            assert_eq!(fast.find(&mem, ip), plain.find(&mem, ip), "{ip:#x}");
        }
        // A corrupt lookup table falls back to the full search.
        let n = mem.bytes.len();
        mem.bytes[n - 4 * blocks as usize..].fill(0xff);
        assert_eq!(
            fast.find(&mem, BASE + 0x1400),
            plain.find(&mem, BASE + 0x1400)
        );
    }

    #[test]
    fn bounds_are_checked() {
        assert!(OrcTable::from_bounds(0x1000, 0x1008, 0x2000, 0x200c).is_ok());
        assert!(OrcTable::from_bounds(0x1000, 0x1008, 0x2000, 0x2010).is_err());
        assert!(OrcTable::from_bounds(0x1008, 0x1000, 0x2000, 0x2000).is_err());
        assert!(
            OrcTable::from_bounds(0x1000, 0x1000, 0x2000, 0x2000).is_err(),
            "empty"
        );
        assert!(OrcTable::new(0, 0, MAX_ENTRIES + 1).is_err());
    }

    #[test]
    fn unreadable_tables_are_errors() {
        let (mem, _) = table(&[BASE + 0x100]);
        let t = OrcTable::new(0x1000, 0x2000, 10).unwrap();
        assert!(t.find(&mem, BASE).is_err());
    }
}

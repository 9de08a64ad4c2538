//! Architectures: kernel virtual to physical translation behind one trait, so callers
//! (the log, symbols, tasks) never name the machine.

pub mod x86_64;

use crate::memory::VirtError;
use coroner_dump::PhysMemory;

/// Translates kernel virtual addresses of one architecture.
pub trait Translate: Send + Sync {
    /// The physical address of `vaddr`, reading page tables from `phys` as needed.
    fn translate(&self, phys: &dyn PhysMemory, vaddr: u64) -> Result<u64, VirtError>;
    /// The smallest page the architecture maps: reads are split at its boundaries.
    fn min_page_size(&self) -> u64;
    /// How translation is done, for `--verbose` output and warnings.
    fn describe(&self) -> String;
    /// The direct map's base (Linux's `page_offset_base`), once known: direct-map
    /// addresses whose page-table pages the dump lacks translate linearly.
    fn set_direct_map(&mut self, _base: u64) {}
}

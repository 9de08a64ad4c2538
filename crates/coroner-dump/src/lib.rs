//! Kernel crash dump containers, read as physical memory plus ELF notes.
//!
//! [`Dump::open`] sniffs the format (ELF vmcore, kdump-compressed, makedumpfile's
//! flattened stream, VMware checkpoints and memory files); callers never name it. Everything above this crate sees only
//! [`PhysMemory`], the notes and the container's own metadata in [`DumpInfo`].

mod compress;
mod elf;
mod error;
mod flat;
mod kdump;
mod memory;
mod notes;
mod source;
mod vbox;
mod vmcoreinfo_scan;
mod vmware;

pub use compress::Compression;
pub use error::{DumpError, ReadError};
pub use memory::{
    Dump, DumpInfo, Format, OpenOptions, PageCensus, PageCounts, PageState, PhysMemory, Sniffed,
};
pub use notes::{Note, NT_PRPSINFO, NT_PRSTATUS};

/// Opens `bytes` as a dump and reads every page it says it stores, the page census
/// and the notes: the single entry point of the fuzz targets and of the test that
/// replays their seeds. Returns how many pages read successfully.
#[doc(hidden)]
pub fn fuzz_open_and_read(bytes: &[u8]) -> usize {
    let Ok(dump) = Dump::from_bytes("fuzz-input", bytes.to_vec()) else {
        return 0;
    };
    let census = dump.census();
    let ps = dump.page_size();
    let mut page = vec![0u8; ps as usize];
    let mut ok = 0;
    let mut budget = census.counts.total().min(1 << 16);
    'ranges: for (start, end) in dump.stored_ranges() {
        for pfn in start / ps..end / ps {
            if budget == 0 {
                break 'ranges;
            }
            budget -= 1;
            ok += usize::from(dump.read_phys(pfn * ps, &mut page).is_ok());
        }
    }
    ok + dump.notes().len()
}

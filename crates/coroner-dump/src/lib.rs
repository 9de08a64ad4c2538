//! Kernel crash dump containers, read as physical memory plus ELF notes.
//!
//! [`Dump::open`] sniffs the format (ELF vmcore, kdump-compressed, makedumpfile's
//! flattened stream); callers never name it. Everything above this crate sees only
//! [`PhysMemory`], the notes and the container's own metadata in [`DumpInfo`].

mod compress;
mod elf;
mod error;
mod flat;
mod kdump;
mod memory;
mod notes;
mod source;
mod vmcoreinfo_scan;

pub use compress::Compression;
pub use error::{DumpError, ReadError};
pub use memory::{Dump, DumpInfo, Format, PageCensus, PageCounts, PageState, PhysMemory};
pub use notes::{Note, NT_PRPSINFO, NT_PRSTATUS};

//! Kernel virtual memory: the kernel log, symbols and tasks read through
//! [`coroner_mem::Memory`], whatever the architecture and however addresses are
//! translated; [`VirtError`] is the translator's own error, which converts into
//! [`MemError`].

use coroner_dump::ReadError;
pub use coroner_mem::{MemError, Memory};

/// Why a kernel virtual read failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VirtError {
    /// The page tables (or the fixed mappings) do not map this address.
    #[error("virtual address {vaddr:#x} is not mapped ({why})")]
    NotMapped { vaddr: u64, why: String },
    /// The address translates, but the physical page cannot be read.
    #[error("virtual address {vaddr:#x}: {source}")]
    Phys {
        vaddr: u64,
        #[source]
        source: ReadError,
    },
}

impl From<VirtError> for coroner_mem::MemError {
    fn from(e: VirtError) -> Self {
        let (vaddr, kind) = match &e {
            VirtError::NotMapped { vaddr, .. } => (*vaddr, coroner_mem::MemErrorKind::NotMapped),
            VirtError::Phys { vaddr, source } => {
                (*vaddr, coroner_mem::MemError::from(source.clone()).kind)
            }
        };
        coroner_mem::MemError::new(vaddr, coroner_mem::Space::Virtual, kind, e.to_string())
    }
}

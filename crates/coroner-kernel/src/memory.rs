//! Kernel virtual memory: the one interface the kernel log, symbols and tasks are
//! read through, whatever the architecture and however addresses are translated.

use coroner_dump::ReadError;

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

/// Read access to kernel virtual memory.
pub trait KernelMemory {
    /// Fills `buf` from kernel virtual address `vaddr`, across pages if needed;
    /// fails without partial results if any byte cannot be read.
    fn read_virt(&self, vaddr: u64, buf: &mut [u8]) -> Result<(), VirtError>;

    fn read_u64(&self, vaddr: u64) -> Result<u64, VirtError> {
        let mut b = [0u8; 8];
        self.read_virt(vaddr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn read_u32(&self, vaddr: u64) -> Result<u32, VirtError> {
        let mut b = [0u8; 4];
        self.read_virt(vaddr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn read_u16(&self, vaddr: u64) -> Result<u16, VirtError> {
        let mut b = [0u8; 2];
        self.read_virt(vaddr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    fn read_u8(&self, vaddr: u64) -> Result<u8, VirtError> {
        let mut b = [0u8; 1];
        self.read_virt(vaddr, &mut b)?;
        Ok(b[0])
    }
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

/// The kernel view is memory for every reader that takes [`coroner_mem::Memory`].
impl coroner_mem::Memory for crate::Kernel {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), coroner_mem::MemError> {
        self.read_virt(addr, buf).map_err(Into::into)
    }
}

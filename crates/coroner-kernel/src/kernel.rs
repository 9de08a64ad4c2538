//! [`Kernel`]: an opened dump seen as the kernel saw its memory — VMCOREINFO plus
//! virtual address translation for the dump's architecture.

use crate::arch::{x86_64::X86_64, Translate};
use crate::memory::{MemError, Memory, VirtError};
use crate::VmcoreInfo;
use coroner_dump::{Dump, PhysMemory};

/// Why a dump cannot be seen as a kernel.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("{path}: architecture {arch} is not supported yet (x86_64 is)")]
    UnsupportedArch { path: String, arch: String },
}

/// A dump plus the kernel's view of it.
pub struct Kernel {
    dump: Dump,
    info: VmcoreInfo,
    arch: Box<dyn Translate>,
}

impl Kernel {
    /// Chooses the translation for the dump's architecture. A dump without VMCOREINFO
    /// still opens; reads then use the fixed mappings and may fail.
    pub fn new(dump: Dump) -> Result<Kernel, KernelError> {
        let info = VmcoreInfo::parse(dump.vmcoreinfo().unwrap_or_default());
        let arch: Box<dyn Translate> = match dump.info().arch.as_deref() {
            Some("x86_64") | None => Box::new(X86_64::new(&info, dump.info().phys_base)),
            Some(other) => {
                return Err(KernelError::UnsupportedArch {
                    path: dump.path().display().to_string(),
                    arch: other.to_string(),
                })
            }
        };
        Ok(Kernel { dump, info, arch })
    }

    pub fn dump(&self) -> &Dump {
        &self.dump
    }

    pub fn vmcoreinfo(&self) -> &VmcoreInfo {
        &self.info
    }

    /// Tells the translation where the direct map starts (the kernel's
    /// `page_offset_base`, read by a caller that knows symbols): direct-map
    /// addresses whose page-table pages the dump lacks (often the first lost when
    /// a dump is cut short: they sit at the top of memory) then still translate.
    pub fn set_direct_map_base(&mut self, base: u64) {
        self.arch.set_direct_map(base);
    }

    /// The physical address of kernel virtual address `vaddr`.
    pub fn translate(&self, vaddr: u64) -> Result<u64, VirtError> {
        self.arch.translate(&self.dump, vaddr)
    }

    /// How addresses are translated (page tables or fixed mappings).
    pub fn translation(&self) -> String {
        self.arch.describe()
    }
}

/// Reads at least this long are shared between two threads: a compressed dump's
/// pages decode at some hundreds of MB/s, and BTF alone is 4-6 MiB.
const PARALLEL_READ: usize = 256 << 10;

impl Kernel {
    fn read_pages(&self, vaddr: u64, buf: &mut [u8]) -> Result<(), VirtError> {
        let page = self.arch.min_page_size();
        let mut done = 0usize;
        while done < buf.len() {
            let at = vaddr.wrapping_add(done as u64);
            let chunk = ((page - at % page) as usize).min(buf.len() - done);
            let paddr = self.translate(at)?;
            self.dump
                .read_phys(paddr, &mut buf[done..done + chunk])
                .map_err(|source| VirtError::Phys { vaddr: at, source })?;
            done += chunk;
        }
        Ok(())
    }
}

impl Memory for Kernel {
    fn read(&self, vaddr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        if buf.len() < PARALLEL_READ {
            return self.read_pages(vaddr, buf).map_err(Into::into);
        }
        let page = self.arch.min_page_size() as usize;
        let (first, second) = buf.split_at_mut(buf.len() / 2 / page * page);
        let second_at = vaddr.wrapping_add(first.len() as u64);
        let (a, b) = std::thread::scope(|scope| {
            let other = scope.spawn(|| self.read_pages(second_at, second));
            (self.read_pages(vaddr, first), other.join())
        });
        // The first failing address, as a read in one thread would report it.
        a?;
        Ok(b.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?)
    }
}

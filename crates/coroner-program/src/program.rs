//! [`Program`]: a dump, its kernel view and the kernel's symbols.

use crate::modules::{load_modules, Module};
use crate::symbols::{load_symbols, SymbolSource};
use crate::types::load_btf;
use coroner_dump::Dump;
use coroner_kernel::{Kernel, KernelMemory, VirtError};
use coroner_symbols::{Symbol, SymbolTable};
use coroner_types::Types;
use std::path::Path;
use std::sync::Arc;

/// A C `char[]`: the bytes before the first NUL (all of them if there is none).
pub(crate) fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    #[error(transparent)]
    Dump(#[from] coroner_dump::DumpError),
    #[error(transparent)]
    Kernel(#[from] coroner_kernel::KernelError),
    #[error("{0}")]
    Symbols(String),
}

/// An opened crash dump seen as the kernel program it holds.
pub struct Program {
    kernel: Kernel,
    symbols: SymbolTable,
    symbol_source: SymbolSource,
    /// vmlinux BTF, or why it could not be read.
    btf: Result<Arc<Types>, String>,
    modules: Vec<Module>,
    warnings: Vec<String>,
}

impl Program {
    /// Opens a dump; `system_map` overrides the symbols found in the dump.
    pub fn open(path: &Path, system_map: Option<&Path>) -> Result<Program, ProgramError> {
        let kernel = Kernel::new(Dump::open(path)?)?;
        let mut warnings = Vec::new();
        let (symbols, symbol_source) = load_symbols(&kernel, system_map, &mut warnings)?;
        // Three names are needed before the table exists: found in the decoded list,
        // so the table can be built on a second thread while BTF is read and parsed.
        let address = |name: &str| symbols.iter().find(|s| s.name == name).map(|s| s.address);
        let (btf_start, btf_stop) = (address("__start_BTF"), address("__stop_BTF"));
        let modules_head = address("modules");
        let (mut symbols, btf) = std::thread::scope(|scope| {
            let table = scope.spawn(|| SymbolTable::new(symbols));
            let btf = load_btf(&kernel, btf_start, btf_stop);
            let table = table
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (table, btf)
        });
        let mut modules = Vec::new();
        if let Ok(btf) = &btf {
            match load_modules(&kernel, btf, modules_head) {
                Ok((found, module_symbols)) => {
                    modules = found;
                    symbols.extend(module_symbols);
                }
                Err(e) => warnings.push(format!("modules: {e}")),
            }
        }
        Ok(Program {
            kernel,
            symbols,
            symbol_source,
            btf,
            modules,
            warnings,
        })
    }

    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    pub fn symbols(&self) -> &SymbolTable {
        &self.symbols
    }

    /// Where the symbols came from.
    pub fn symbol_source(&self) -> &SymbolSource {
        &self.symbol_source
    }

    /// Things that did not load but did not stop the program from opening.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The address of a named symbol.
    pub fn address_of(&self, name: &str) -> Option<u64> {
        self.symbols.by_name(name).map(|s| s.address)
    }

    /// The symbol containing `address`, and the offset into it. Kernel-image
    /// symbols end at `_end`: past it an address belongs to a module or to nothing.
    pub fn symbolize(&self, address: u64) -> Option<(&Symbol, u64)> {
        let (symbol, offset) = self.symbols.lookup(address)?;
        let past_image =
            symbol.module.is_none() && self.address_of("_end").is_some_and(|end| address > end);
        (!past_image).then_some((symbol, offset))
    }

    /// Loaded modules, in the kernel's list order (most recently loaded first).
    pub fn modules(&self) -> &[Module] {
        &self.modules
    }

    /// The kernel's types, or why there are none.
    pub fn btf(&self) -> Result<&Types, String> {
        self.btf.as_deref().map_err(Clone::clone)
    }

    pub fn read_u64(&self, vaddr: u64) -> Result<u64, VirtError> {
        self.kernel.read_u64(vaddr)
    }

    pub fn read_u32(&self, vaddr: u64) -> Result<u32, VirtError> {
        self.kernel.read_u32(vaddr)
    }

    /// Reads kernel virtual memory.
    pub fn read(&self, vaddr: u64, buf: &mut [u8]) -> Result<(), VirtError> {
        self.kernel.read_virt(vaddr, buf)
    }
}

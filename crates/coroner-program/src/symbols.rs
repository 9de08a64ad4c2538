//! Where a program's symbols come from, best first: a System.map the user gives,
//! then kallsyms decoded from the dump (located by VMCOREINFO since Linux 6.0).

use crate::ProgramError;
use coroner_kernel::{Kernel, KernelMemory};
use coroner_symbols::{kallsyms, system_map, Symbol};
use std::path::{Path, PathBuf};

/// The origin of a program's symbol table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SymbolSource {
    /// kallsyms tables in the dump's memory.
    Kallsyms,
    /// A System.map file, shifted by the dump's KASLR offset.
    SystemMap(PathBuf),
    /// Nothing usable: the program has no symbols.
    None,
}

pub(crate) fn load_symbols(
    kernel: &Kernel,
    system_map: Option<&Path>,
    warnings: &mut Vec<String>,
) -> Result<(Vec<Symbol>, SymbolSource), ProgramError> {
    if let Some(path) = system_map {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProgramError::Symbols(format!("{}: {e}", path.display())))?;
        let slide = kernel.vmcoreinfo().kernel_offset().unwrap_or(0);
        let (symbols, skipped) = system_map::parse(&text, slide);
        if symbols.is_empty() {
            return Err(ProgramError::Symbols(format!(
                "{}: no `ADDRESS TYPE NAME` lines: not a System.map",
                path.display()
            )));
        }
        if skipped > 0 {
            warnings.push(format!("{}: {skipped} lines skipped", path.display()));
        }
        return Ok((symbols, SymbolSource::SystemMap(path.to_path_buf())));
    }
    match kallsyms_location(kernel) {
        Some(at) => {
            let mut read =
                |addr: u64, buf: &mut [u8]| kernel.read_virt(addr, buf).map_err(|e| e.to_string());
            match kallsyms::decode(&at, &mut read) {
                Ok(symbols) => Ok((symbols, SymbolSource::Kallsyms)),
                Err(e) => {
                    warnings.push(format!("kallsyms: {e}"));
                    Ok((Vec::new(), SymbolSource::None))
                }
            }
        }
        None => {
            warnings.push(
                "VMCOREINFO does not locate kallsyms (Linux < 6.0): give --symbols System.map"
                    .into(),
            );
            Ok((Vec::new(), SymbolSource::None))
        }
    }
}

fn kallsyms_location(kernel: &Kernel) -> Option<kallsyms::Location> {
    let info = kernel.vmcoreinfo();
    let sym = |name: &str| info.symbol(name);
    Some(kallsyms::Location {
        num_syms: sym("kallsyms_num_syms")?,
        names: sym("kallsyms_names")?,
        token_table: sym("kallsyms_token_table")?,
        token_index: sym("kallsyms_token_index")?,
        addresses: kallsyms::Addresses::Relative {
            offsets: sym("kallsyms_offsets")?,
            base: sym("kallsyms_relative_base")?,
        },
    })
}

//! Where a program's symbols come from, best first: a System.map the user gives,
//! then kallsyms decoded from the dump (located by VMCOREINFO since Linux 6.0, found
//! by their shape in the kernel image before).

use crate::ProgramError;
use coroner_kernel::{Kernel, Memory};
use coroner_symbols::kallsyms::Kallsyms;
use coroner_symbols::{kallsyms, kallsyms_scan, system_map, Symbol, SymbolTable};
use std::path::{Path, PathBuf};

/// The origin of a program's symbol table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SymbolSource {
    /// kallsyms tables in the dump's memory, where VMCOREINFO says.
    Kallsyms,
    /// kallsyms tables found by scanning the kernel image (VMCOREINFO before 6.0
    /// does not give their addresses).
    KallsymsScanned(kallsyms::Location),
    /// A System.map file, shifted by the dump's KASLR offset.
    SystemMap(PathBuf),
    /// Nothing usable: the program has no symbols.
    None,
}

/// Symbols as loaded: decoded already, or kallsyms tables read but not yet decoded,
/// so that a few names can be looked up while the rest decode.
pub(crate) enum Loaded {
    Decoded(Vec<Symbol>),
    Tables(Kallsyms),
}

impl Loaded {
    /// The address of each name (the lowest of a repeated name); a name nobody has,
    /// or tables too damaged to say, give `None`.
    pub(crate) fn addresses(&self, names: &[&str]) -> Vec<Option<u64>> {
        match self {
            Loaded::Decoded(symbols) => names
                .iter()
                .map(|&n| symbols.iter().find(|s| s.name == n).map(|s| s.address))
                .collect(),
            Loaded::Tables(tables) => tables
                .find(names)
                .unwrap_or_else(|_| vec![None; names.len()]),
        }
    }

    /// Whether kallsyms tables were read with losses (so a name missing from them
    /// may have been lost, not absent from the kernel).
    pub(crate) fn damaged(&self) -> bool {
        matches!(self, Loaded::Tables(t) if !t.warnings().is_empty())
    }

    /// The table of every symbol; kallsyms that fail to decode are a warning and
    /// an empty table.
    pub(crate) fn into_table(self, warnings: &mut Vec<String>) -> SymbolTable {
        let symbols = match self {
            Loaded::Decoded(symbols) => symbols,
            Loaded::Tables(tables) => {
                warnings.extend(tables.warnings().iter().cloned());
                tables.symbols().unwrap_or_else(|e| {
                    warnings.push(format!("kallsyms: {e}"));
                    Vec::new()
                })
            }
        };
        SymbolTable::new(symbols)
    }
}

pub(crate) fn load_symbols(
    kernel: &Kernel,
    system_map: Option<&Path>,
    warnings: &mut Vec<String>,
) -> Result<(Loaded, SymbolSource), ProgramError> {
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
        return Ok((
            Loaded::Decoded(symbols),
            SymbolSource::SystemMap(path.to_path_buf()),
        ));
    }
    if let Some(at) = kallsyms_location(kernel) {
        let mut read = |addr: u64, buf: &mut [u8]| kernel.read(addr, buf);
        // _stext, whose address VMCOREINFO gives, rebuilds a lost relative base.
        let anchor = kernel.vmcoreinfo().symbol("_stext").map(|a| ("_stext", a));
        return match Kallsyms::read_anchored(&at, &mut read, anchor) {
            Ok(tables) => Ok((Loaded::Tables(tables), SymbolSource::Kallsyms)),
            Err(e) => {
                warnings.push(format!("kallsyms: {e}"));
                Ok((Loaded::Decoded(Vec::new()), SymbolSource::None))
            }
        };
    }
    match scan_kallsyms(kernel) {
        Ok(found) => Ok((
            Loaded::Decoded(found.symbols),
            SymbolSource::KallsymsScanned(found.location),
        )),
        Err(e) => {
            warnings.push(format!(
                "VMCOREINFO does not locate kallsyms (Linux < 6.0), and {e}: give --symbols System.map"
            ));
            Ok((Loaded::Decoded(Vec::new()), SymbolSource::None))
        }
    }
}

/// The kallsyms tables found by their shape between the kernel's text start and
/// `.data`, as `Program::open` looks for them when VMCOREINFO does not say where.
pub fn scan_kallsyms(kernel: &Kernel) -> Result<kallsyms_scan::Found, kallsyms_scan::NotFound> {
    let info = kernel.vmcoreinfo();
    let text_start = info.symbol("_stext");
    // Without _stext in VMCOREINFO, x86-64's default link address, moved by KASLR.
    let start = text_start.unwrap_or(0xffff_ffff_8100_0000 + info.kernel_offset().unwrap_or(0));
    // .rodata, where kallsyms is, ends below .data, where init_uts_ns is.
    let end = info
        .symbol("init_uts_ns")
        .filter(|&end| end > start)
        .unwrap_or(start.saturating_add(kallsyms_scan::MAX_SCAN_BYTES));
    let mut read = |addr: u64, buf: &mut [u8]| kernel.read(addr, buf);
    kallsyms_scan::scan(&mut read, start..end, text_start)
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

//! A kernel's DWARF debuginfo, read from its vmlinux: the types into
//! coroner-types' model (the same model BTF fills), global variables with their
//! addresses, source lines with inlined frames, and the ELF symbol table.
//!
//! ```text
//! vmlinux bytes ──► Debuginfo ──► types()   ──► DwarfTypes (Types + variables)
//!                             ├─► lines()   ──► Lines (address → file:line, inlined frames)
//!                             ├─► symbols() ──► Vec<ElfSymbol>
//!                             └─► cfi()     ──► Cfi (pc → CFA and saved-register rules)
//! ```
//!
//! Everything borrows the caller's bytes (a memory map of the file); sections are
//! read in place. Malformed DWARF is a [`DwarfError`] naming the section offset.

mod cfi;
mod error;
pub mod fuzzing;
mod lines;
mod statements;
mod symbols;
mod types;

use gimli::Section as _;
use object::{Object, ObjectSection};

pub use cfi::{Cfa, Cfi, Saved, UnwindRow};
pub use error::DwarfError;
pub use lines::{Frame, Lines};
pub use statements::LineRow;
pub use symbols::{ElfSymbol, SymbolKind};
pub use types::{DwarfTypes, Variable};

/// The DWARF sections as gimli reads them: borrowed, little-endian (x86-64).
pub(crate) type Reader<'data> = gimli::EndianSlice<'data, gimli::LittleEndian>;

/// An opened vmlinux: its ELF and its DWARF sections.
pub struct Debuginfo<'data> {
    elf: object::File<'data>,
    dwarf: gimli::Dwarf<Reader<'data>>,
    /// Each unit's code ranges, for [`Debuginfo::line_rows`]; read on first use.
    unit_ranges: statements::UnitRanges,
}

impl<'data> Debuginfo<'data> {
    /// Opens a little-endian 64-bit ELF with DWARF (split or compressed sections
    /// are not supported: distribution vmlinux files use neither).
    pub fn parse(data: &'data [u8]) -> Result<Debuginfo<'data>, DwarfError> {
        let elf = object::File::parse(data)
            .map_err(|e| DwarfError::new("ELF", 0, format!("not an ELF file: {e}")))?;
        if !elf.is_little_endian() || !elf.is_64() {
            return Err(DwarfError::new(
                "ELF",
                0,
                "only little-endian 64-bit files are supported",
            ));
        }
        let dwarf = gimli::Dwarf::load(|id| section(&elf, id.name()))?;
        if dwarf.debug_info.reader().is_empty() {
            return Err(DwarfError::new(
                ".debug_info",
                0,
                "the file has no DWARF (a stripped vmlinux?)",
            ));
        }
        Ok(Debuginfo {
            elf,
            dwarf,
            unit_ranges: statements::UnitRanges::new(),
        })
    }

    /// The GNU build-id note (`.note.gnu.build-id`), as the kernel's VMCOREINFO
    /// `BUILD-ID` spells it: lower-case hex.
    pub fn build_id(&self) -> Option<String> {
        let id = self.elf.build_id().ok()??;
        Some(id.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub(crate) fn section(&self, name: &str) -> Result<Reader<'data>, DwarfError> {
        section(&self.elf, name)
    }

    pub(crate) fn dwarf(&self) -> &gimli::Dwarf<Reader<'data>> {
        &self.dwarf
    }
}

/// A section's bytes in place; empty when absent. Compressed sections would need
/// a copy: refused rather than misread.
fn section<'data>(elf: &object::File<'data>, name: &str) -> Result<Reader<'data>, DwarfError> {
    let Some(found) = elf.section_by_name(name) else {
        return Ok(gimli::EndianSlice::new(&[], gimli::LittleEndian));
    };
    let compressed = found
        .compressed_file_range()
        .map(|r| r.format != object::CompressionFormat::None)
        .unwrap_or(false);
    if compressed {
        return Err(DwarfError::new(
            "ELF",
            found.file_range().map_or(0, |r| r.0),
            format!("{name} is compressed, which is not supported"),
        ));
    }
    let bytes = found
        .data()
        .map_err(|e| DwarfError::new("ELF", 0, format!("{name}: {e}")))?;
    Ok(gimli::EndianSlice::new(bytes, gimli::LittleEndian))
}

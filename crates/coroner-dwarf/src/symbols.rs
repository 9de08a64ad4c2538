//! The vmlinux's ELF symbol table, in the shape of a System.map: address, nm's
//! type letter and name — plus the size, which kallsyms and System.map lack.

use object::{
    Object, ObjectSection, ObjectSymbol, SectionFlags, SectionKind, SymbolKind as ElfKind,
    SymbolSection,
};

use crate::{Debuginfo, DwarfError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolKind {
    Function,
    Object,
    Section,
    File,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfSymbol {
    pub address: u64,
    pub name: String,
    /// The letter `nm` (and so System.map) prints: `T`/`t` text, `D`/`d` data,
    /// `B`/`b` bss, `R`/`r` read-only, `A` absolute, `W`/`w` weak, ...
    pub letter: char,
    /// Bytes, as the assembler or compiler recorded (0 for labels).
    pub size: u64,
    pub kind: SymbolKind,
}

impl Debuginfo<'_> {
    /// Every named symbol of `.symtab`, in table order.
    pub fn symbols(&self) -> Result<Vec<ElfSymbol>, DwarfError> {
        let mut out = Vec::new();
        for symbol in self.elf.symbols() {
            let name = symbol.name().map_err(|e| {
                DwarfError::new(".symtab", symbol.index().0 as u64 * 24, e.to_string())
            })?;
            if name.is_empty() || matches!(symbol.kind(), ElfKind::File | ElfKind::Section) {
                continue;
            }
            out.push(ElfSymbol {
                address: symbol.address(),
                name: name.to_string(),
                letter: self.letter(&symbol),
                size: symbol.size(),
                kind: match symbol.kind() {
                    ElfKind::Text => SymbolKind::Function,
                    ElfKind::Data | ElfKind::Tls => SymbolKind::Object,
                    ElfKind::Section => SymbolKind::Section,
                    ElfKind::File => SymbolKind::File,
                    _ => SymbolKind::Other,
                },
            });
        }
        Ok(out)
    }

    /// nm's letter, decided as binutils' `decode_section_type` does from the
    /// flags of the symbol's section; lower case for local symbols.
    fn letter(&self, symbol: &object::Symbol<'_, '_>) -> char {
        use object::elf::{SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE};
        if symbol.is_undefined() {
            return 'U';
        }
        if symbol.is_weak() {
            return if symbol.kind() == ElfKind::Data {
                'V'
            } else {
                'W'
            };
        }
        let section = match symbol.section() {
            SymbolSection::Section(i) => self.elf.section_by_index(i).ok(),
            SymbolSection::Common => return 'C',
            _ => None,
        };
        let letter = match section {
            None => 'a',
            Some(section) => {
                let flags = match section.flags() {
                    SectionFlags::Elf { sh_flags } => sh_flags,
                    _ => 0,
                };
                let has = |flag: u32| flags & u64::from(flag) != 0;
                let nobits = matches!(
                    section.kind(),
                    SectionKind::UninitializedData | SectionKind::UninitializedTls
                );
                if has(SHF_EXECINSTR) {
                    't'
                } else if nobits {
                    'b'
                } else if has(SHF_ALLOC) {
                    if has(SHF_WRITE) {
                        'd'
                    } else {
                        'r'
                    }
                } else if section.kind() == SectionKind::Debug {
                    'N'
                } else if !has(SHF_WRITE) {
                    'n'
                } else {
                    '?'
                }
            }
        };
        if symbol.is_global() {
            letter.to_ascii_uppercase()
        } else {
            letter
        }
    }
}

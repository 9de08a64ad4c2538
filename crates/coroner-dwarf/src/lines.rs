//! Address → source line, with the frames of functions inlined there, through
//! the addr2line crate: it reads a unit's line program and function ranges only
//! when an address first falls in that unit, so opening costs little. Where the
//! DWARF names no function (assembly), the ELF symbol table does, as binutils'
//! `addr2line -f` answers.

use crate::{Debuginfo, DwarfError, Reader, SymbolKind};

/// One frame at an address: innermost (the most deeply inlined) first, the
/// function the code was compiled in last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// `None` when the DWARF names no function there.
    pub function: Option<String>,
    /// As the line table spells it: the unit's directory joined with the file.
    pub file: Option<String>,
    pub line: Option<u32>,
    /// For an inlined frame, where its caller called it; for the last frame, the
    /// line of the address itself.
    pub column: Option<u32>,
    /// `function` is the ELF symbol before the address: the DWARF names no
    /// function there (assembly, padding after a function).
    pub from_symbols: bool,
}

/// Lazily built line and inline tables of one vmlinux.
pub struct Lines<'data> {
    context: addr2line::Context<Reader<'data>>,
    /// Code and untyped symbols by address, for code without DWARF functions.
    symbols: Vec<(u64, String)>,
}

impl<'data> Debuginfo<'data> {
    /// Prepares line lookups (reading only the unit ranges now).
    pub fn lines(&self) -> Result<Lines<'data>, DwarfError> {
        let dwarf = gimli::Dwarf::load(|id| self.section(id.name()))?;
        let context = addr2line::Context::from_dwarf(dwarf)
            .map_err(|e| DwarfError::new(".debug_info", 0, format!("unit ranges: {e}")))?;
        let mut symbols: Vec<(u64, String)> = self
            .symbols()?
            .into_iter()
            .filter(|s| matches!(s.kind, SymbolKind::Function | SymbolKind::Other))
            .filter(|s| s.letter.eq_ignore_ascii_case(&'t') || s.letter == 'W')
            .map(|s| (s.address, s.name))
            .collect();
        symbols.sort_by_key(|s| s.0);
        Ok(Lines { context, symbols })
    }
}

impl Lines<'_> {
    /// The frames at `address` as linked (before KASLR). For a return address,
    /// pass the address minus one, to land in the call instruction.
    pub fn frames(&self, address: u64) -> Result<Vec<Frame>, DwarfError> {
        let fail = |e: gimli::Error| {
            DwarfError::new(".debug_info", 0, format!("frames at {address:#x}: {e}"))
        };
        let mut iter = self
            .context
            .find_frames(address)
            .skip_all_loads()
            .map_err(fail)?;
        let mut frames = Vec::new();
        while let Some(frame) = iter.next().map_err(fail)? {
            let function = match frame.function {
                Some(name) => Some(name.raw_name().map_err(fail)?.into_owned()),
                None => None,
            };
            let location = frame.location;
            frames.push(Frame {
                function,
                file: location.as_ref().and_then(|l| l.file).map(str::to_string),
                line: location.as_ref().and_then(|l| l.line),
                column: location.as_ref().and_then(|l| l.column),
                from_symbols: false,
            });
        }
        let unnamed = frames.last().is_none_or(|f| f.function.is_none());
        if unnamed {
            if let Some(name) = self.symbol_before(address) {
                match frames.last_mut() {
                    Some(last) => {
                        last.function = Some(name.to_string());
                        last.from_symbols = true;
                    }
                    None => frames.push(Frame {
                        function: Some(name.to_string()),
                        file: None,
                        line: None,
                        column: None,
                        from_symbols: true,
                    }),
                }
            }
        }
        Ok(frames)
    }

    /// The last code symbol at or below `address` (the first of several there).
    fn symbol_before(&self, address: u64) -> Option<&str> {
        let end = self.symbols.partition_point(|s| s.0 <= address);
        let at = self.symbols[..end].last()?.0;
        let first = self.symbols[..end].partition_point(|s| s.0 < at);
        Some(&self.symbols[first].1)
    }
}

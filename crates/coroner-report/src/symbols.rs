//! `sym`: symbol lookups as crash prints them, and the address arguments crash
//! accepts everywhere (hex with or without `0x`, a symbol, `symbol+offset`).

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use coroner_program::Program;
use serde::Serialize;
use std::io::{self, Write};

/// Why an address argument names no address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("{0}: not a hex address")]
    BadHex(String),
    #[error("bad offset in {0:?}")]
    BadOffset(String),
    #[error("{0}: no such symbol")]
    NoSymbol(String),
}

/// Resolves `ffffffff81000000`, `0x...`, `panic` or `panic+0x10` / `panic+16`.
pub fn resolve(program: &Program, text: &str) -> Result<u64, AddressError> {
    if let Some(hex) = text.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).map_err(|_| AddressError::BadHex(text.into()));
    }
    // A bare word is a symbol if one has that name (`bad`, `face` are both), else hex.
    if program.address_of(text).is_none() {
        if let Ok(value) = u64::from_str_radix(text, 16) {
            return Ok(value);
        }
    }
    let (name, offset) = match text.split_once('+') {
        Some((name, off)) => {
            let off = parse_number(off).ok_or_else(|| AddressError::BadOffset(text.into()))?;
            (name, off)
        }
        None => (text, 0),
    };
    let base = program
        .address_of(name)
        .ok_or_else(|| AddressError::NoSymbol(name.into()))?;
    Ok(base.wrapping_add(offset))
}

/// `0x10` hex, `16` decimal.
fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// One query's answer.
#[derive(Debug, Clone, Serialize)]
pub struct FoundSymbol {
    pub query: String,
    pub address: Addr,
    pub symbol: String,
    /// The `nm` letter.
    pub kind: String,
    pub offset: u64,
    /// Bytes to the next symbol: kallsyms records no sizes (null for the last).
    pub size: Option<u64>,
    /// `None`: the kernel image.
    pub module: Option<String>,
    /// The source line there, with a vmlinux (crash's `sym` prints it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SymReport {
    pub symbols: Vec<FoundSymbol>,
    /// Queries that found nothing, with why (in `warnings` too).
    pub misses: Vec<String>,
    pub warnings: Vec<Warning>,
}

pub fn sym(program: &Program, queries: &[String]) -> SymReport {
    let mut report = SymReport {
        symbols: Vec::new(),
        misses: Vec::new(),
        warnings: Warning::all(Stage::Program, program.warnings()),
    };
    for query in queries {
        let lookup = resolve(program, query)
            .map_err(|e| e.to_string())
            .and_then(|address| {
                let (sym, offset) = program
                    .symbolize(address)
                    .ok_or_else(|| format!("{address:#x}: no symbol contains this address"))?;
                Ok(FoundSymbol {
                    query: query.clone(),
                    address: Addr(address),
                    symbol: sym.name.clone(),
                    kind: sym.kind.to_string(),
                    offset,
                    size: program.symbols().size(sym),
                    module: sym.module.clone(),
                    file: None,
                    line: None,
                })
            });
        match lookup {
            Ok(mut found) => {
                add_line(program, &mut found, &mut report.warnings);
                report.symbols.push(found)
            }
            Err(e) => {
                report
                    .warnings
                    .push(Warning::new(Stage::Lookup, format!("sym: {e}")));
                report.misses.push(query.clone());
            }
        }
    }
    report
}

/// The source line of a kernel address from the vmlinux, as gdb finds it for the
/// address itself (crash's `sym`).
fn add_line(program: &Program, found: &mut FoundSymbol, warnings: &mut Vec<Warning>) {
    let Some(vmlinux) = program.vmlinux().filter(|_| found.module.is_none()) else {
        return;
    };
    match vmlinux.line_at(found.address.0) {
        Ok(Some(row)) => {
            found.file = Some(row.file);
            found.line = Some(row.line);
        }
        Ok(None) => {}
        Err(e) => warnings.push(Warning::new(Stage::Debuginfo, format!("sym: {e}"))),
    }
}

impl Render for SymReport {
    fn schema(&self) -> &'static str {
        "coroner.sym/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        for f in &self.symbols {
            let offset = if f.offset > 0 {
                format!("+{}", f.offset)
            } else {
                String::new()
            };
            let module = f
                .module
                .as_ref()
                .map(|m| format!(" [{m}]"))
                .unwrap_or_default();
            let source = match (&f.file, f.line) {
                (Some(file), Some(line)) => format!(" {file}: {line}"),
                _ => String::new(),
            };
            writeln!(
                out,
                "{:016x} ({}) {}{offset}{module}{source}",
                f.address.0, f.kind, f.symbol
            )?;
        }
        Ok(())
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        write_document(out, self.schema(), self)
    }

    fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

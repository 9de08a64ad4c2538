//! `source *ADDR`: gdb's `list *ADDR` — where an address is in the source
//! (`0x... is in FUNC (FILE:LINE).`) and, when a source tree is given, the ten
//! lines around it, numbered as gdb numbers them. Files are named as the line
//! table names them (relative to the build directory), and looked up under the
//! given tree.

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use crate::symbols::{resolve, AddressError};
use coroner_program::Program;
use serde::Serialize;
use std::io::{self, Write};
use std::path::Path;

/// gdb shows this many lines, from five before the line.
const SHOWN: u32 = 10;
/// A source line longer than this is cut: the tree is the user's, not trusted.
const MAX_LINE: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error("source lines need the kernel's vmlinux with DWARF (--vmlinux)")]
    NoVmlinux,
    #[error("{0:#x}: no line number information")]
    NoLine(u64),
    #[error("{0}")]
    Debuginfo(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct ListReport {
    pub address: Addr,
    /// The function holding the address (the one it was compiled in, not one
    /// inlined there); `None` past a function's end (padding).
    pub function: Option<String>,
    /// As the line table names it (`drivers/tty/sysrq.c`).
    pub file: String,
    pub line: u32,
    /// The lines around it, when the source was found (else a warning says why,
    /// as gdb does on stderr: `160\tFILE: No such file or directory.`).
    pub lines: Vec<(u32, String)>,
    pub warnings: Vec<Warning>,
}

/// Where `target` (`*ADDR`, `ADDR`, `func+off`) is in the source; the text from
/// `source` (a kernel tree) when given.
pub fn list(
    program: &Program,
    target: &str,
    source: Option<&Path>,
) -> Result<ListReport, ListError> {
    let address = resolve(program, target.trim_start_matches('*'))?;
    let vmlinux = program.vmlinux().ok_or(ListError::NoVmlinux)?;
    let row = vmlinux
        .line_at(address)
        .map_err(ListError::Debuginfo)?
        .ok_or(ListError::NoLine(address))?;
    // gdb names the function the code was compiled in, when the DWARF has one.
    let frames = vmlinux.frames(address).map_err(ListError::Debuginfo)?;
    let function = (frames.last())
        .filter(|f| !f.from_symbols)
        .and_then(|f| f.function.clone());
    let first = row.line.saturating_sub(5).max(1);
    let (lines, missing) = match source {
        Some(dir) => match read_lines(&dir.join(&row.name), first, first + SHOWN) {
            Ok(lines) => (lines, None),
            Err(e) => (Vec::new(), Some(e)),
        },
        None => (Vec::new(), None),
    };
    let first_line = first;
    let warnings = (missing.iter())
        .map(|e| Warning::new(Stage::Lookup, format!("{first_line}\t{}: {e}.", row.name)))
        .collect();
    Ok(ListReport {
        address: Addr(address),
        function,
        file: row.name,
        line: row.line,
        lines,
        warnings,
    })
}

/// Lines `from..to` (1-based) of `path`.
fn read_lines(path: &Path, from: u32, to: u32) -> Result<Vec<(u32, String)>, String> {
    let text = std::fs::read(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => "No such file or directory".to_string(),
        _ => e.to_string(),
    })?;
    let text = String::from_utf8_lossy(&text);
    Ok(text
        .lines()
        .zip(1u32..)
        .skip_while(|(_, n)| *n < from)
        .take_while(|(_, n)| *n < to)
        .map(|(l, n)| (n, l.chars().take(MAX_LINE).collect()))
        .collect())
}

impl Render for ListReport {
    fn schema(&self) -> &'static str {
        "coroner.source/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let at = format!("{}:{}", self.file, self.line);
        match &self.function {
            Some(f) => writeln!(out, "{:#x} is in {f} ({at}).", self.address.0)?,
            None => writeln!(out, "{:#x} is at {at}.", self.address.0)?,
        }
        for (n, text) in &self.lines {
            writeln!(out, "{n}\t{text}")?;
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

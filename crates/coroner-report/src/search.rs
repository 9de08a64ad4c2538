//! `search`: crash's search of kernel virtual memory for 64-bit values, word
//! by word (8-byte aligned), optionally under a mask; pages the dump lacks are
//! skipped. A range is `-s START` with `-e END` or `-l LENGTH`; without one,
//! coroner searches the direct map (`page_offset_base`, `max_pfn` pages) and
//! the kernel image (`_text` to `_end`), where crash also searches vmalloc,
//! module and vmemmap space.

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use coroner_program::Program;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub start: Option<u64>,
    /// One past the last byte searched.
    pub end: Option<u64>,
    /// Bits that take part in the comparison (all when `None`).
    pub mask: Option<u64>,
    pub values: Vec<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Match {
    pub address: Addr,
    pub value: Addr,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchReport {
    pub matches: Vec<Match>,
    /// Pages of the ranges the dump did not have.
    pub pages_skipped: u64,
    pub warnings: Vec<Warning>,
}

impl Render for SearchReport {
    fn schema(&self) -> &'static str {
        "coroner.search/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        for m in &self.matches {
            writeln!(out, "{:x}: {:x} ", m.address.0, m.value.0)?;
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

const PAGE: u64 = 4096;
/// More matches than anyone reads: the search stops there and says so.
const MAX_MATCHES: usize = 1 << 20;

pub fn search(program: &Program, q: &SearchQuery) -> Result<SearchReport, String> {
    let ranges = match (q.start, q.end) {
        (Some(start), Some(end)) => vec![(start, end)],
        (Some(start), None) => vec![(start, start.saturating_add(PAGE))],
        (None, _) => default_ranges(program)?,
    };
    let mask = q.mask.unwrap_or(u64::MAX);
    let mut matches = Vec::new();
    let mut skipped = 0;
    let mut warnings = Warning::all(Stage::Program, program.warnings());
    let mut buf = vec![0u8; PAGE as usize];
    'ranges: for (start, end) in ranges {
        let mut at = start & !7;
        while at < end {
            let chunk_end = ((at / PAGE) + 1) * PAGE;
            let chunk_end = chunk_end.min(end);
            let len = (chunk_end - at) as usize & !7;
            if len == 0 {
                break;
            }
            if program.read(at, &mut buf[..len]).is_err() {
                skipped += 1;
            } else {
                for (i, word) in buf[..len].chunks_exact(8).enumerate() {
                    let value = u64::from_le_bytes(word.try_into().expect("8 bytes"));
                    if q.values.iter().any(|&v| value & mask == v & mask) {
                        if matches.len() == MAX_MATCHES {
                            warnings.push(Warning::new(
                                Stage::Lookup,
                                format!("search: stopped after {MAX_MATCHES} matches"),
                            ));
                            break 'ranges;
                        }
                        matches.push(Match {
                            address: Addr(at + 8 * i as u64),
                            value: Addr(value),
                        });
                    }
                }
            }
            at = chunk_end;
        }
    }
    Ok(SearchReport {
        matches,
        pages_skipped: skipped,
        warnings,
    })
}

/// The direct map of every page frame, then the kernel image.
fn default_ranges(program: &Program) -> Result<Vec<(u64, u64)>, String> {
    let word = |name: &str| {
        program
            .address_of(name)
            .and_then(|at| program.read_u64(at).ok())
            .ok_or_else(|| format!("search: cannot read {name}"))
    };
    let base = word("page_offset_base")?;
    let pages = word("max_pfn")?;
    let text = program
        .address_of("_text")
        .ok_or("search: no _text symbol")?;
    let end = program.address_of("_end").ok_or("search: no _end symbol")?;
    Ok(vec![(base, base + pages * PAGE), (text, end)])
}

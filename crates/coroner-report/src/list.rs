//! `list`: crash's walk of a linked list. From a head (`-H`: the head is not an
//! entry) or from an entry (`-h`, or a bare start), through the `next` pointer
//! `offset` bytes into each entry (`-o OFFSET`, `-o struct.member`, or the
//! first argument `struct.member`), printing each entry's address and, with
//! `-s struct[.member,...]`, its members as `struct` prints them.

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use crate::structure::{structure, StructBody, StructError, StructQuery};
use crate::symbols::resolve;
use coroner_program::Program;
use serde::Serialize;
use std::collections::HashSet;
use std::io::{self, Write};

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Where the walk starts: hex, a symbol, or `symbol+offset`.
    pub start: String,
    /// `start` is a list head, not an entry.
    pub head: bool,
    /// The `next` pointer's offset in an entry: a number or `struct.member`.
    pub offset: Option<String>,
    /// `-s`: a struct, with members, to print for each entry.
    pub show: Option<String>,
    /// Numbers in hex (`-x`).
    pub hex: bool,
    /// Stop at this entry address (`-e`), not printing it.
    pub end: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListEntry {
    pub address: Addr,
    /// With `-s`: the entry's members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<StructBody>,
    #[serde(skip)]
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListReport {
    pub entries: Vec<ListEntry>,
    pub warnings: Vec<Warning>,
}

/// A list longer than this is taken as corrupt (it never came back).
const MAX_ENTRIES: usize = 1 << 22;

impl Render for ListReport {
    fn schema(&self) -> &'static str {
        "coroner.list/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        for entry in &self.entries {
            writeln!(out, "{:x}", entry.address.0)?;
            out.write_all(entry.text.as_bytes())?;
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

/// An offset as crash takes it: `struct.member` (through anonymous members),
/// or a number (decimal, `0x` hex).
fn offset_of(program: &Program, text: &str) -> Result<u64, StructError> {
    if let Some(hex) = text.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16)
            .map_err(|_| StructError::Lookup(format!("invalid offset: {text}")));
    }
    if let Ok(n) = text.parse::<u64>() {
        return Ok(n);
    }
    let (ty, member) = text
        .split_once('.')
        .ok_or_else(|| StructError::Lookup(format!("invalid offset: {text}")))?;
    let found = program
        .find_type(ty)?
        .ok_or_else(|| StructError::Lookup(format!("{ty}: no such struct or union")))?;
    found
        .types
        .member(found.id, member)
        .map(|f| f.byte_offset())
        .ok_or_else(|| StructError::Lookup(format!("struct {ty} has no member {member}")))
}

pub fn list(program: &Program, q: &ListQuery) -> Result<ListReport, StructError> {
    let failed = |e: String| StructError::Failed(e);
    let start = resolve(program, &q.start).map_err(|e| failed(e.to_string()))?;
    let end = q
        .end
        .as_deref()
        .map(|e| resolve(program, e))
        .transpose()
        .map_err(|e| failed(e.to_string()))?;
    let offset = match &q.offset {
        Some(o) => offset_of(program, o)?,
        None => 0,
    };
    let mut warnings = Warning::all(Stage::Program, program.warnings());
    let read = |at: u64| {
        program
            .read_u64(at)
            .map_err(|e| failed(format!("list: cannot read next pointer: {e}")))
    };
    // The entries, in list order.
    let mut addresses = Vec::new();
    let mut seen = HashSet::new();
    let stop = if q.head {
        start
    } else {
        start.wrapping_add(offset)
    };
    let mut node = if q.head {
        read(start)?
    } else {
        addresses.push(start);
        seen.insert(start);
        read(start.wrapping_add(offset))?
    };
    while node != stop && node != 0 {
        let entry = node.wrapping_sub(offset);
        if Some(entry) == end {
            break;
        }
        if !seen.insert(entry) {
            warnings.push(Warning::new(
                Stage::Lookup,
                format!(
                    "list: duplicate entry {entry:x}: the list loops without reaching its start"
                ),
            ));
            break;
        }
        if addresses.len() >= MAX_ENTRIES {
            warnings.push(Warning::new(
                Stage::Lookup,
                format!("list: stopped after {MAX_ENTRIES} entries"),
            ));
            break;
        }
        addresses.push(entry);
        node = read(node)?;
    }
    let mut entries = Vec::with_capacity(addresses.len());
    for address in addresses {
        let (members, text) = match &q.show {
            Some(target) => {
                let shown = structure(
                    program,
                    &StructQuery {
                        target: target.clone(),
                        address: Some(format!("{address:#x}")),
                        hex: q.hex,
                        ..StructQuery::default()
                    },
                )?;
                (Some(shown.body), shown.text)
            }
            None => (None, String::new()),
        };
        entries.push(ListEntry {
            address: Addr(address),
            members,
            text,
        });
    }
    Ok(ListReport { entries, warnings })
}

//! The source line of each instruction of a range, chosen as gdb 10 (crash 8's)
//! chooses it for `dis -l`. gdb records a row of the line program unless it
//! repeats the line before it and that line had a non-zero discriminator (gdb PR
//! 17276), or
//! is a non-statement row where another file's statement row stands at the same
//! address; a lookup takes the last recorded row at or below the address and, when
//! that is not a statement, the statement row before it at the same address.
//! addr2line keeps the last row of an address whatever its kind, which names
//! another line at many function entries (`write_sysrq_trigger+0`: 1158 where gdb
//! says 1159), hence this reader of the raw line program.

use crate::{Debuginfo, DwarfError, Reader};
use std::sync::OnceLock;

/// From `address` on (up to the next row), the code is of `file:line`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineRow {
    pub address: u64,
    /// The unit's directory, the row's directory and its file name joined, as
    /// gdb prints them (`/usr/src/linux-source-6.1/./include/linux/rcupdate.h`).
    pub file: String,
    /// The file as the line table names it, without the unit's directory
    /// (`./include/linux/rcupdate.h`): gdb's name for it in `list`.
    pub name: String,
    pub line: u32,
}

/// A raw row of a line program, with its statement flag.
struct RawRow {
    address: u64,
    file: u64,
    line: u32,
    is_stmt: bool,
    discriminator: u64,
    end_sequence: bool,
}

/// Each unit's address ranges, sorted, found on first use.
pub(crate) struct UnitRanges {
    ranges: OnceLock<Vec<(u64, u64, gimli::DebugInfoOffset)>>,
}

impl UnitRanges {
    pub(crate) fn new() -> UnitRanges {
        UnitRanges {
            ranges: OnceLock::new(),
        }
    }

    fn get(
        &self,
        dwarf: &gimli::Dwarf<Reader<'_>>,
    ) -> Result<&[(u64, u64, gimli::DebugInfoOffset)], DwarfError> {
        if let Some(ranges) = self.ranges.get() {
            return Ok(ranges);
        }
        let mut ranges = Vec::new();
        let mut headers = dwarf.units();
        while let Some(header) = headers.next().map_err(|e| DwarfError::info(0, e))? {
            let Some(offset) = header.offset().as_debug_info_offset() else {
                continue;
            };
            let unit = dwarf
                .unit(header)
                .map_err(|e| DwarfError::info(offset.0 as u64, e))?;
            let mut iter = dwarf
                .unit_ranges(&unit)
                .map_err(|e| DwarfError::info(offset.0 as u64, e))?;
            while let Some(range) = iter
                .next()
                .map_err(|e| DwarfError::info(offset.0 as u64, e))?
            {
                if range.begin < range.end {
                    ranges.push((range.begin, range.end, offset));
                }
            }
        }
        ranges.sort_unstable_by_key(|r| r.0);
        Ok(self.ranges.get_or_init(|| ranges))
    }

    /// The unit whose code starts first in `low..high`.
    fn unit_in(
        &self,
        dwarf: &gimli::Dwarf<Reader<'_>>,
        low: u64,
        high: u64,
    ) -> Result<Option<gimli::DebugInfoOffset>, DwarfError> {
        let ranges = self.get(dwarf)?;
        // The first unit with code in low..high (units do not overlap in a linked
        // image; look back a little in case they do).
        let end = ranges.partition_point(|r| r.0 < high);
        Ok(ranges[end.saturating_sub(16)..end]
            .iter()
            .find(|r| low < r.1)
            .map(|r| r.2))
    }
}

impl Debuginfo<'_> {
    /// The line of every instruction in `low..high` (link-time addresses): one row
    /// per address where the line starts, the first at or below `low` when a row
    /// covers it. Empty when no unit has code there.
    pub fn line_rows(&self, low: u64, high: u64) -> Result<Vec<LineRow>, DwarfError> {
        let dwarf = self.dwarf();
        let Some(offset) = self.unit_ranges.unit_in(dwarf, low, high)? else {
            return Ok(Vec::new());
        };
        let fail = |e: gimli::Error| DwarfError::new(".debug_line", offset.0 as u64, e.to_string());
        let header = dwarf.debug_info.header_from_offset(offset).map_err(fail)?;
        let unit = dwarf.unit(header).map_err(fail)?;
        let Some(program) = unit.line_program.clone() else {
            return Ok(Vec::new());
        };
        let mut raw = Vec::new();
        let mut rows = program.rows();
        // The sequence holding `low`: rows from its start, kept until it ends.
        let mut sequence: Vec<RawRow> = Vec::new();
        while let Some((_, row)) = rows.next_row().map_err(fail)? {
            let r = RawRow {
                address: row.address(),
                file: row.file_index(),
                line: row.line().map_or(0, |l| l.get() as u32),
                is_stmt: row.is_stmt(),
                discriminator: row.discriminator(),
                end_sequence: row.end_sequence(),
            };
            let done = r.end_sequence;
            sequence.push(r);
            if done {
                let first = sequence.first().map_or(u64::MAX, |r| r.address);
                let last = sequence.last().map_or(0, |r| r.address);
                if first < high && low < last {
                    raw = std::mem::take(&mut sequence);
                    break;
                }
                sequence.clear();
            }
        }
        let header = rows.header().clone();
        let chosen = choose(&raw, low, high);
        chosen
            .into_iter()
            .map(|r| {
                let (file, name) = file_name(dwarf, &unit, &header, r.file).map_err(fail)?;
                Ok(LineRow {
                    address: r.address,
                    file,
                    name,
                    line: r.line,
                })
            })
            .collect()
    }
}

/// The rows gdb keeps of one sequence (see the module's comment).
fn recorded(raw: &[RawRow]) -> Vec<&RawRow> {
    let mut kept: Vec<&RawRow> = Vec::new();
    let mut last: Option<(u64, u32)> = None;
    let mut last_address = None;
    let mut stmt_at_address = false;
    // gdb's `m_line_has_non_zero_discriminator`: any discriminator since the
    // state machine's line last changed.
    let mut previous_line = None;
    let mut discriminated = false;
    for row in raw.iter().filter(|r| !r.end_sequence) {
        if previous_line != Some(row.line) {
            discriminated = row.discriminator != 0;
        } else {
            discriminated |= row.discriminator != 0;
        }
        previous_line = Some(row.line);
        if last_address != Some(row.address) {
            stmt_at_address = false;
        }
        let file_changed = last.is_none_or(|(file, _)| file != row.file);
        let ignore = row.line == 0
            || (file_changed
                && last_address == Some(row.address)
                && !row.is_stmt
                && stmt_at_address);
        stmt_at_address |= row.is_stmt;
        last_address = Some(row.address);
        if ignore {
            continue;
        }
        let repeat = last.is_some_and(|(_, line)| line == row.line);
        if file_changed || !repeat || !discriminated {
            kept.push(row);
        }
        last = Some((row.file, row.line));
    }
    kept
}

/// gdb's row for each address in `low..high` where one starts (and the row that
/// covers `low`), from one sequence in address order.
fn choose(raw: &[RawRow], low: u64, high: u64) -> Vec<&RawRow> {
    let kept = recorded(raw);
    let end = raw.last().map_or(0, |r| r.address);
    let mut out: Vec<&RawRow> = Vec::new();
    let mut i = 0;
    while i < kept.len() {
        let address = kept[i].address;
        let mut j = i;
        while j + 1 < kept.len() && kept[j + 1].address == address {
            j += 1;
        }
        // Rows i..=j share an address: the last, or the statement before it.
        let last = kept[j];
        let pick = if last.is_stmt {
            last
        } else {
            (kept[i..=j].iter().rev().find(|r| r.is_stmt)).map_or(last, |r| *r)
        };
        let next = kept.get(j + 1).map_or(end, |r| r.address);
        if address < high && next > low {
            out.push(pick);
        }
        i = j + 1;
    }
    out
}

/// `comp_dir/dir/file` as gdb joins them (an absolute part starts afresh), and
/// `dir/file` alone.
fn file_name(
    dwarf: &gimli::Dwarf<Reader<'_>>,
    unit: &gimli::Unit<Reader<'_>>,
    header: &gimli::LineProgramHeader<Reader<'_>>,
    index: u64,
) -> Result<(String, String), gimli::Error> {
    let Some(file) = header.file(index) else {
        return Ok((String::new(), String::new()));
    };
    let text = |value: gimli::AttributeValue<Reader<'_>>| -> Result<String, gimli::Error> {
        let s = dwarf.attr_string(unit, value)?;
        Ok(s.to_string_lossy().into_owned())
    };
    let comp_dir = match &unit.comp_dir {
        Some(dir) => dir.to_string_lossy().into_owned(),
        None => String::new(),
    };
    let mut name = String::new();
    // DWARF 4's directory 0 is the unit's own: its files are named bare.
    if let Some(dir) = file.directory(header) {
        let dir = text(dir)?;
        if dir != comp_dir {
            push(&mut name, &dir);
        }
    }
    push(&mut name, &text(file.path_name())?);
    let mut path = comp_dir;
    push(&mut path, &name);
    Ok((path, name))
}

fn push(path: &mut String, part: &str) {
    if part.starts_with('/') || path.is_empty() {
        *path = part.to_string();
    } else {
        if !path.ends_with('/') {
            path.push('/');
        }
        path.push_str(part);
    }
}

//! The kernel's own symbol table (`CONFIG_KALLSYMS_ALL`), as scripts/kallsyms lays it
//! out in `.rodata`: `kallsyms_offsets` (one s32 per symbol) + `kallsyms_relative_base`
//! (before 4.6, `kallsyms_addresses`: one u64 per symbol), `kallsyms_num_syms`,
//! `kallsyms_names` (per symbol: a length, then that many token numbers),
//! `kallsyms_token_table` (256 NUL-terminated strings) and `kallsyms_token_index`
//! (256 u16 offsets into it). The first character of a decoded name is its `nm` type
//! letter. Since Linux 6.0 VMCOREINFO gives every table's address; before,
//! [`crate::kallsyms_scan`] finds them.

use crate::symbols::Symbol;
use crate::ReadFn;
use coroner_mem::{MemError, MemErrorKind, Space};
use std::ops::Range;

/// Where the tables are (virtual addresses, e.g. from VMCOREINFO `SYMBOL(...)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub num_syms: u64,
    pub names: u64,
    pub token_table: u64,
    pub token_index: u64,
    pub addresses: Addresses,
}

/// How symbol addresses are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addresses {
    /// `kallsyms_offsets` from `kallsyms_relative_base` (CONFIG_KALLSYMS_BASE_RELATIVE).
    Relative { offsets: u64, base: u64 },
    /// `kallsyms_addresses`.
    Absolute(u64),
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum KallsymsError {
    #[error("reading kallsyms {table} at {address:#x}: {source}")]
    Read {
        table: &'static str,
        address: u64,
        source: MemError,
    },
    /// A table every name needs could not be read.
    #[error("{0} (every name needs it: no symbol can be decoded)")]
    NeededWhole(Box<KallsymsError>),
    #[error("kallsyms is corrupt: {0}")]
    Corrupt(String),
}

/// More symbols than any kernel has (a distribution kernel has ~150k with modules).
pub(crate) const MAX_SYMS: u32 = 4 << 20;
/// Upper bound for the names table; a kernel's is a few MiB.
pub(crate) const MAX_NAMES_BYTES: u64 = 64 << 20;
const TOKEN_TABLE_MAX: u64 = 64 << 10;

fn read_table(
    read: ReadFn,
    table: &'static str,
    address: u64,
    len: usize,
) -> Result<Vec<u8>, KallsymsError> {
    // Read in pieces, each as long as what was read so far, so a table claiming more
    // than memory holds costs at most twice what exists, and long tables are still
    // read in long (parallel) reads.
    const FIRST_PIECE: usize = 64 << 10;
    let mut buf = Vec::with_capacity(len.min(FIRST_PIECE));
    while buf.len() < len {
        let done = buf.len();
        buf.resize(len.min(done + done.max(FIRST_PIECE)), 0);
        let at = address.wrapping_add(done as u64);
        read(at, &mut buf[done..]).map_err(|source| KallsymsError::Read {
            table,
            address: at,
            source,
        })?;
    }
    Ok(buf)
}

/// Bytes of a table read page by page where a piece fails: the unreadable 4 KiB
/// pages are zeros in the table and listed (sorted, as offsets into it). Fails only
/// when nothing at all is readable.
fn read_table_with_holes(
    read: ReadFn,
    table: &'static str,
    address: u64,
    len: usize,
) -> Result<(Vec<u8>, Vec<Range<usize>>), KallsymsError> {
    const FIRST_PIECE: usize = 64 << 10;
    const PAGE: u64 = 4096;
    let mut buf = Vec::with_capacity(len.min(FIRST_PIECE));
    let mut holes: Vec<Range<usize>> = Vec::new();
    let mut first_error = None;
    while buf.len() < len {
        let done = buf.len();
        buf.resize(len.min(done + done.max(FIRST_PIECE)), 0);
        let at = address.wrapping_add(done as u64);
        let Err(why) = read(at, &mut buf[done..]) else {
            continue;
        };
        first_error.get_or_insert((at, why));
        // Page by page, each piece ending on a page boundary of the address space.
        let mut pos = done;
        while pos < buf.len() {
            let here = address.wrapping_add(pos as u64);
            let page_left = (PAGE - here % PAGE) as usize;
            let end = buf.len().min(pos + page_left);
            if read(here, &mut buf[pos..end]).is_err() {
                buf[pos..end].fill(0);
                match holes.last_mut() {
                    Some(last) if last.end == pos => last.end = end,
                    _ => holes.push(pos..end),
                }
            }
            pos = end;
        }
    }
    if holes.iter().map(|h| h.len()).sum::<usize>() == len {
        let (address, source) = first_error.unwrap_or_else(|| {
            let why = MemError::new(
                address,
                Space::Virtual,
                MemErrorKind::Unrecorded,
                "unreadable",
            );
            (address, why)
        });
        return Err(KallsymsError::Read {
            table,
            address,
            source,
        });
    }
    Ok((buf, holes))
}

/// Whether `range` overlaps any of the sorted `holes`.
fn in_hole(holes: &[Range<usize>], range: Range<usize>) -> bool {
    let i = holes.partition_point(|h| h.end <= range.start);
    holes
        .get(i)
        .is_some_and(|h| h.start < range.end.max(range.start + 1))
}

/// Decodes the whole table.
pub fn decode(at: &Location, read: ReadFn) -> Result<Vec<Symbol>, KallsymsError> {
    Kallsyms::read(at, read)?.symbols()
}

/// The tables, read from memory once: a few names can be looked up before all of
/// them are decoded (a program needs three to start reading its types).
///
/// Pages of the names or the address table that cannot be read (a dump cut short,
/// a corrupt page) cost only the symbols they hold: `kallsyms_markers` (the names'
/// offset every 256 symbols, right after the names) gives places to resume, and a
/// symbol whose name or address is unreadable is dropped while the others keep
/// their own addresses. [`Kallsyms::warnings`] says what was lost. The token table
/// and index are needed for every name: unreadable, they are an error.
pub struct Kallsyms {
    addresses: Vec<u64>,
    names: Vec<u8>,
    token_table: Vec<u8>,
    /// Each token's bytes in `token_table`, checked to lie inside it.
    tokens: Vec<std::ops::Range<usize>>,
    /// With damaged tables: the symbols still readable, as (index, names position).
    readable: Option<Vec<(u32, u32)>>,
    warnings: Vec<String>,
}

impl Kallsyms {
    pub fn read(at: &Location, read: ReadFn) -> Result<Kallsyms, KallsymsError> {
        Kallsyms::read_anchored(at, read, None)
    }

    /// [`Kallsyms::read`], with one symbol whose address the caller knows (e.g.
    /// `_stext` from VMCOREINFO): if `kallsyms_relative_base` is unreadable (it
    /// shares a page with `kallsyms_num_syms` and the names' start), the base is
    /// what puts that symbol at its address.
    pub fn read_anchored(
        at: &Location,
        read: ReadFn,
        anchor: Option<(&str, u64)>,
    ) -> Result<Kallsyms, KallsymsError> {
        let mut warnings = Vec::new();
        // Without num_syms, the offsets table's length says it, give or take its
        // 4-byte padding; the names settle which below.
        let (mut count, count_known) = match read_table(read, "num_syms", at.num_syms, 4) {
            Ok(bytes) => (u32::from_le_bytes(bytes.try_into().expect("4 bytes")), true),
            Err(e) => {
                let slots = count_from_offsets(at.addresses).ok_or(e.clone())?;
                warnings.push(format!("{e}: counting symbols from the offsets table"));
                (slots, false)
            }
        };
        if count == 0 || count > MAX_SYMS {
            return Err(KallsymsError::Corrupt(format!(
                "kallsyms_num_syms is {count}"
            )));
        }
        let (mut addresses, mut lost_addresses, rebase) =
            addresses(read, at.addresses, count as usize, anchor.is_some())?;
        let index: Vec<usize> = read_table(read, "token_index", at.token_index, 512)
            .map_err(needed_whole)?
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]) as usize)
            .collect();
        let table_len = span(
            ("the tokens", at.token_table),
            ("their index", at.token_index),
            TOKEN_TABLE_MAX,
        )?;
        let token_table =
            read_table(read, "token_table", at.token_table, table_len).map_err(needed_whole)?;
        let tokens = tokens(&token_table, &index)?;
        let names_len = span(
            ("names", at.names),
            ("the token table", at.token_table),
            MAX_NAMES_BYTES,
        )?;
        let (names, holes) = read_table_with_holes(read, "names", at.names, names_len)?;
        if !count_known {
            count = pick_count(&names, &holes, at.names, count);
            addresses.truncate(count as usize);
            lost_addresses.retain_mut(|r| {
                r.end = r.end.min(count as usize);
                r.start < r.end
            });
            warnings.push(format!("kallsyms: taking {count} symbols"));
        }
        // Every entry must lie inside the table: later walks can rely on it. Whole
        // tables whose names do not all decode, or do not land on the markers, hold
        // wrong bytes somewhere (a dump format that cannot tell corrupt pages):
        // the markers find where.
        let damage = Damage {
            names: &names,
            holes: &holes,
            names_at: at.names,
            count: count as usize,
            lost_addresses: &lost_addresses,
        };
        let whole = holes.is_empty() && lost_addresses.is_empty();
        let readable = if whole && damage.consistent() {
            None
        } else {
            let readable = damage.readable(&mut warnings);
            if readable.is_empty() {
                return Err(KallsymsError::Corrupt(format!(
                    "no symbol decodes ({})",
                    warnings.join("; ")
                )));
            }
            Some(readable)
        };
        let mut tables = Kallsyms {
            addresses,
            names,
            token_table,
            tokens,
            readable,
            warnings,
        };
        if let Some((error, shifted)) = rebase {
            tables.rebase(error, &shifted, anchor)?;
        }
        Ok(tables)
    }

    /// Adds the unreadable `kallsyms_relative_base` to the addresses that are
    /// relative to it (`shifted`), found from the anchor's known address.
    fn rebase(
        &mut self,
        error: KallsymsError,
        shifted: &[bool],
        anchor: Option<(&str, u64)>,
    ) -> Result<(), KallsymsError> {
        let Some((name, address)) = anchor else {
            return Err(error);
        };
        let found = self.each_entry().filter_map(Result::ok).find(|&(_, pos)| {
            entry(&self.names, pos).is_ok_and(|(encoded, _)| self.spells(encoded, name.as_bytes()))
        });
        let Some((i, _)) = found.filter(|&(i, _)| shifted[i]) else {
            return Err(error);
        };
        let base = address.wrapping_sub(self.addresses[i]);
        for (a, _) in self.addresses.iter_mut().zip(shifted).filter(|(_, &s)| s) {
            *a = a.wrapping_add(base);
        }
        self.warnings.push(format!(
            "{error}: the base is {base:#x}, which puts {name} at {address:#x}"
        ));
        Ok(())
    }

    /// What could not be read: empty for whole tables, else how many symbols were
    /// lost and where.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The (symbol index, names position) of every symbol to decode.
    fn each_entry(&self) -> Box<dyn Iterator<Item = Result<(usize, usize), KallsymsError>> + '_> {
        match &self.readable {
            Some(readable) => Box::new(
                readable
                    .iter()
                    .map(|&(i, pos)| Ok((i as usize, pos as usize))),
            ),
            None => {
                let mut pos = 0;
                Box::new((0..self.addresses.len()).map(move |i| {
                    let at = pos;
                    pos = entry(&self.names, pos)?.1;
                    Ok((i, at))
                }))
            }
        }
    }

    /// The address of each of `wanted` (names without their type letter), the first
    /// of a name in table order, which is address order. Names are compared token
    /// by token where they are stored, so this costs far less than decoding.
    pub fn find(&self, wanted: &[&str]) -> Result<Vec<Option<u64>>, KallsymsError> {
        let mut found = vec![None; wanted.len()];
        for item in self.each_entry() {
            let (i, pos) = item?;
            let (encoded, _) = entry(&self.names, pos)?;
            for (slot, name) in found.iter_mut().zip(wanted) {
                if slot.is_none() && self.spells(encoded, name.as_bytes()) {
                    *slot = Some(self.addresses[i]);
                }
            }
        }
        Ok(found)
    }

    /// Whether `encoded` expands to a type letter followed by `name`.
    fn spells(&self, encoded: &[u8], name: &[u8]) -> bool {
        let mut rest = name;
        let mut letter = true;
        for &t in encoded {
            let mut token = &self.token_table[self.tokens[t as usize].clone()];
            if letter {
                let Some((_, after)) = token.split_first() else {
                    continue;
                };
                token = after;
                letter = false;
            }
            match rest.strip_prefix(token) {
                Some(after) => rest = after,
                None => return false,
            }
        }
        !letter && rest.is_empty()
    }

    /// Every symbol, in table (address) order.
    pub fn symbols(&self) -> Result<Vec<Symbol>, KallsymsError> {
        let tokens: Vec<&[u8]> = self
            .tokens
            .iter()
            .map(|r| &self.token_table[r.clone()])
            .collect();
        let table = Expander {
            names: &self.names,
            tokens: &tokens,
        };
        let addresses = &self.addresses;
        if let Some(readable) = &self.readable {
            let mut symbols = Vec::with_capacity(readable.len());
            for &(i, pos) in readable {
                let address = std::slice::from_ref(&addresses[i as usize]);
                table.symbols_into(pos as usize, address, &mut symbols)?;
            }
            return Ok(symbols);
        }
        if addresses.len() < PARALLEL_SYMBOLS {
            return table.symbols(0, addresses);
        }
        // Finding where the second half's names start costs one length byte a name;
        // expanding them is the work, done by two threads.
        let (first, second) = addresses.split_at(addresses.len() / 2);
        let second_pos = skip(&self.names, 0, first.len())?;
        let (symbols, rest) = std::thread::scope(|scope| {
            let rest = scope.spawn(|| table.symbols(second_pos, second));
            // Room for both halves, so joining them copies only the second.
            let mut symbols = Vec::with_capacity(addresses.len());
            let symbols = table.symbols_into(0, first, &mut symbols).map(|()| symbols);
            let rest = rest
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (symbols, rest)
        });
        let mut symbols = symbols?;
        symbols.append(&mut rest?);
        Ok(symbols)
    }
}

/// The length of a table that ends where the next one starts, at most `max`.
fn span(table: (&str, u64), next: (&str, u64), max: u64) -> Result<usize, KallsymsError> {
    next.1
        .checked_sub(table.1)
        .filter(|&l| l > 0 && l <= max)
        .map(|l| l as usize)
        .ok_or_else(|| {
            KallsymsError::Corrupt(format!(
                "{} at {:#x} are not followed by {} at {:#x} within {max} bytes",
                table.0, table.1, next.0, next.1
            ))
        })
}

/// Names tables with unreadable stretches, and what is needed to walk around them.
struct Damage<'a> {
    /// From `kallsyms_names` to the token table: the names, then the markers
    /// (and, in 6.1 stable and 6.2+, `kallsyms_seqs_of_names`).
    names: &'a [u8],
    holes: &'a [Range<usize>],
    names_at: u64,
    count: usize,
    lost_addresses: &'a [Range<usize>],
}

/// At most this many warnings name a damaged stretch; the rest are summed up.
const MAX_DAMAGE_WARNINGS: usize = 8;

impl Damage<'_> {
    /// The symbols whose name and address are readable, as (index, names
    /// position), in table order; `warnings` gets what was lost and where.
    fn readable(&self, warnings: &mut Vec<String>) -> Vec<(u32, u32)> {
        let mut readable = Vec::with_capacity(self.count);
        // Symbol ranges lost, with why.
        let mut lost: Vec<(Range<usize>, String)> = Vec::new();
        for r in self.lost_addresses {
            lost.push((r.clone(), "their addresses are unreadable".into()));
        }
        let markers = self.markers();
        if markers.is_none() && !self.holes.is_empty() {
            warnings.push(
                "kallsyms_markers not found after the names: decoding stops at the first \
                 unreadable name"
                    .into(),
            );
        }
        let groups: Vec<(usize, usize, usize)> = match &markers {
            // (first symbol, names position, end of the group's names)
            Some((values, names_end)) => (0..values.len())
                .map(|g| {
                    let end = values.get(g + 1).copied().unwrap_or(*names_end);
                    (g * 256, values[g], end)
                })
                .collect(),
            None => vec![(0, 0, self.names.len())],
        };
        for (n, &(first, start, end)) in groups.iter().enumerate() {
            let last = if markers.is_some() {
                (first + 256).min(self.count)
            } else {
                self.count
            };
            let kept_before = readable.len();
            let mut pos = start;
            let mut i = first;
            while i < last {
                let cut = |why: &str| (i..last, format!("{why} at kallsyms_names+{pos:#x}"));
                if in_hole(self.holes, pos..pos + 2) {
                    lost.push(cut("names unreadable"));
                    break;
                }
                // A name that cannot be (runs past its group, or is empty) means
                // wrong bytes that read fine: none of the group's names can be
                // trusted, those before it included, and its range is lost.
                let corrupt = match entry_length(self.names, pos) {
                    Ok((len, tokens)) => (len == 0 || tokens + len > end).then_some(()),
                    Err(_) => Some(()),
                };
                if corrupt.is_some() {
                    // (Without markers the group is the whole table: what decoded
                    // before the bad name is kept, as nothing better can be had.)
                    if markers.is_some() {
                        readable.truncate(kept_before);
                    }
                    lost.push((
                        first..last,
                        format!("a corrupt name at kallsyms_names+{pos:#x}"),
                    ));
                    break;
                }
                let (len, tokens) = entry_length(self.names, pos).expect("checked above");
                let next = tokens + len;
                if in_hole(self.holes, pos..next) {
                    lost.push((
                        i..i + 1,
                        format!("name unreadable at kallsyms_names+{pos:#x}"),
                    ));
                } else if !self.address_lost(i) {
                    readable.push((i as u32, pos as u32));
                }
                pos = next;
                i += 1;
            }
            // A group whose names do not end on the next marker holds bytes that
            // are wrong without being unreadable: none of its names can be trusted.
            let is_last = n + 1 == groups.len();
            if i == last && !is_last && pos != end {
                readable.truncate(kept_before);
                lost.push((
                    first..last,
                    format!("names do not end on their marker (kallsyms_names+{end:#x})"),
                ));
            }
        }
        lost.sort_by_key(|(r, _)| r.start);
        let total: usize = self.count - readable.len();
        if total > 0 {
            warnings.push(format!(
                "kallsyms: {total} of {} symbols lost to unreadable or corrupt tables \
                 (the others keep their addresses)",
                self.count
            ));
        }
        for (range, why) in lost.iter().take(MAX_DAMAGE_WARNINGS) {
            warnings.push(format!(
                "kallsyms: symbols {}..{} ({}): {why} ({:#x})",
                range.start,
                range.end,
                range.len(),
                self.names_at
            ));
        }
        if lost.len() > MAX_DAMAGE_WARNINGS {
            warnings.push(format!(
                "kallsyms: {} more damaged stretches",
                lost.len() - MAX_DAMAGE_WARNINGS
            ));
        }
        readable
    }

    /// Whether whole tables decode: every entry inside the table and, when the
    /// markers are found, every group of 256 ending on the next marker.
    fn consistent(&self) -> bool {
        let Ok(end) = skip(self.names, 0, self.count) else {
            return false;
        };
        match self.markers() {
            Some((values, names_end)) => {
                let tail = self.count - 256 * (values.len() - 1);
                let last = values[values.len() - 1];
                self.group_checks(&values, names_end).1 == 0
                    && skip(&self.names[..names_end], last, tail).ok() == Some(end)
            }
            None => true,
        }
    }

    fn address_lost(&self, i: usize) -> bool {
        let r = self.lost_addresses;
        let k = r.partition_point(|h| h.end <= i);
        r.get(k).is_some_and(|h| h.start <= i)
    }

    /// `kallsyms_markers` (one names offset every 256 symbols), at the end of the
    /// names span (before the token table, or before `kallsyms_seqs_of_names`),
    /// u32 or u64 each, and where the names end (the markers' start). Accepted
    /// only when the markers are readable, start at 0, rise by a plausible step
    /// and agree with every readable group of names.
    fn markers(&self) -> Option<(Vec<usize>, usize)> {
        let groups = self.count.div_ceil(256);
        let seqs = (3 * self.count).next_multiple_of(8);
        for end in [Some(self.names.len()), self.names.len().checked_sub(seqs)] {
            let Some(end) = end else { continue };
            for width in [4usize, 8] {
                let len = groups * width;
                for pad in [0, 4] {
                    let Some(at) = end.checked_sub(len + pad) else {
                        continue;
                    };
                    if at % width != 0 || (at % 8 != 0) || in_hole(self.holes, at..at + len) {
                        continue;
                    }
                    let values: Vec<usize> = self.names[at..at + len]
                        .chunks_exact(width)
                        .map(|c| {
                            let mut w = [0u8; 8];
                            w[..width].copy_from_slice(c);
                            u64::from_le_bytes(w) as usize
                        })
                        .collect();
                    if values[0] != 0
                        || values.last().is_some_and(|&v| v >= at)
                        || !values.windows(2).all(|w| {
                            w[1].checked_sub(w[0])
                                .is_some_and(|d| (2 * 256..=514 * 256).contains(&d))
                        })
                    {
                        continue;
                    }
                    if self.agrees(&values, at) {
                        return Some((values, at));
                    }
                }
            }
        }
        None
    }

    /// Whether the markers agree with the names: most fully readable groups of
    /// 256 end on the next marker (wrong bytes may break a few), at least one
    /// does (or there is one group).
    fn agrees(&self, values: &[usize], names_end: usize) -> bool {
        let (agree, disagree) = self.group_checks(values, names_end);
        (agree > 0 || values.len() == 1) && agree > 4 * disagree
    }

    /// Fully readable groups that end on their next marker, and those that do not.
    fn group_checks(&self, values: &[usize], names_end: usize) -> (usize, usize) {
        let (mut agree, mut disagree) = (0, 0);
        for g in 0..values.len().saturating_sub(1) {
            let (start, end) = (values[g], values[g + 1]);
            if in_hole(self.holes, start..end) {
                continue;
            }
            if skip(&self.names[..names_end], start, 256).ok() == Some(end) {
                agree += 1;
            } else {
                disagree += 1;
            }
        }
        (agree, disagree)
    }
}

/// Above this many symbols (a kernel has ~100k), two threads expand the names.
const PARALLEL_SYMBOLS: usize = 16 << 10;

/// The decoded tables a name expansion needs.
struct Expander<'a> {
    names: &'a [u8],
    tokens: &'a [&'a [u8]],
}

impl Expander<'_> {
    /// The symbols at `addresses`, their names starting at `pos`.
    fn symbols(&self, pos: usize, addresses: &[u64]) -> Result<Vec<Symbol>, KallsymsError> {
        let mut symbols = Vec::with_capacity(addresses.len());
        self.symbols_into(pos, addresses, &mut symbols)?;
        Ok(symbols)
    }

    fn symbols_into(
        &self,
        mut pos: usize,
        addresses: &[u64],
        symbols: &mut Vec<Symbol>,
    ) -> Result<(), KallsymsError> {
        // One buffer for every expansion: a name is copied out once, with its type letter cut.
        let mut name = Vec::with_capacity(256);
        for &address in addresses {
            let at = pos;
            pos = expand_name(self.names, pos, self.tokens, &mut name)?;
            let (&kind, rest) = name
                .split_first()
                .ok_or_else(|| KallsymsError::Corrupt(format!("empty name at names+{at:#x}")))?;
            symbols.push(Symbol {
                address,
                name: match std::str::from_utf8(rest) {
                    Ok(valid) => valid.to_owned(),
                    Err(_) => String::from_utf8_lossy(rest).into_owned(),
                },
                kind: char::from(kind),
                module: None,
            });
        }
        Ok(())
    }
}

/// The position `count` names after `pos`.
fn skip(names: &[u8], mut pos: usize, count: usize) -> Result<usize, KallsymsError> {
    for _ in 0..count {
        pos = entry(names, pos)?.1;
    }
    Ok(pos)
}

/// The token numbers of the entry at `pos`, and where the next entry starts.
fn entry(names: &[u8], pos: usize) -> Result<(&[u8], usize), KallsymsError> {
    let (len, start) = entry_length(names, pos)?;
    let encoded = names.get(start..start + len).ok_or_else(|| past_end(pos))?;
    Ok((encoded, start + len))
}

fn past_end(pos: usize) -> KallsymsError {
    KallsymsError::Corrupt(format!("names table ends inside the entry at +{pos:#x}"))
}

/// An entry's token count and where its tokens start. A length byte with bit 7 set
/// is the low half of a two-byte length ("big" symbols, 6.1+).
pub(crate) fn entry_length(names: &[u8], pos: usize) -> Result<(usize, usize), KallsymsError> {
    let first = *names.get(pos).ok_or_else(|| past_end(pos))? as usize;
    if first & 0x80 == 0 {
        return Ok((first, pos + 1));
    }
    let second = *names.get(pos + 1).ok_or_else(|| past_end(pos))? as usize;
    Ok(((first & 0x7f) | (second << 7), pos + 2))
}

/// Where each of the 256 tokens lies in the token table.
fn tokens(table: &[u8], index: &[usize]) -> Result<Vec<std::ops::Range<usize>>, KallsymsError> {
    index
        .iter()
        .map(|&start| {
            let rest = table.get(start..).ok_or_else(|| {
                KallsymsError::Corrupt(format!("token offset {start:#x} past the table"))
            })?;
            let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            Ok(start..start + len)
        })
        .collect()
}

/// Expands the name at `pos` into `name` (type letter first); returns the position
/// of the next one.
fn expand_name(
    names: &[u8],
    pos: usize,
    tokens: &[&[u8]],
    name: &mut Vec<u8>,
) -> Result<usize, KallsymsError> {
    let (encoded, next) = entry(names, pos)?;
    name.clear();
    for &t in encoded {
        name.extend_from_slice(tokens[t as usize]);
    }
    Ok(next)
}

/// How many 4-byte slots `kallsyms_offsets` has: it ends where
/// `kallsyms_relative_base` starts, after padding to 8 bytes, so `num_syms` is this
/// or one less ([`pick_count`] settles it).
fn count_from_offsets(at: Addresses) -> Option<u32> {
    let Addresses::Relative { offsets, base } = at else {
        return None;
    };
    let slots = base.checked_sub(offsets)? / 4;
    u32::try_from(slots)
        .ok()
        .filter(|&n| n > 1 && n <= MAX_SYMS)
}

/// The symbol count, `slots - 1` or `slots`: the one whose markers are found and
/// whose last names end where the markers start; else `slots - 1`.
fn pick_count(names: &[u8], holes: &[Range<usize>], names_at: u64, slots: u32) -> u32 {
    for count in [slots - 1, slots] {
        let damage = Damage {
            names,
            holes,
            names_at,
            count: count as usize,
            lost_addresses: &[],
        };
        if let Some((values, names_end)) = damage.markers() {
            let last = values[values.len() - 1];
            let tail = count as usize - 256 * (values.len() - 1);
            if skip(&names[..names_end], last, tail).ok() == Some(names_end.next_multiple_of(8))
                || skip(&names[..names_end], last, tail).ok() == Some(names_end)
            {
                return count;
            }
        }
    }
    // Undecided: one symbol too few rather than one made up from the padding.
    slots - 1
}

/// A table every name needs: unreadable, nothing can be decoded.
fn needed_whole(e: KallsymsError) -> KallsymsError {
    match e {
        read @ KallsymsError::Read { .. } => KallsymsError::NeededWhole(Box::new(read)),
        other => other,
    }
}

/// The `count` symbol addresses, from either table form, the ranges of symbols
/// whose address is unreadable (their slots hold 0), and, when
/// `kallsyms_relative_base` is unreadable and `rebase_later`, the error and which
/// addresses still need the base added.
#[allow(clippy::type_complexity)]
fn addresses(
    read: ReadFn,
    at: Addresses,
    count: usize,
    rebase_later: bool,
) -> Result<
    (
        Vec<u64>,
        Vec<Range<usize>>,
        Option<(KallsymsError, Vec<bool>)>,
    ),
    KallsymsError,
> {
    let symbols_of = |holes: Vec<Range<usize>>, width: usize| -> Vec<Range<usize>> {
        holes
            .into_iter()
            .map(|h| h.start / width..h.end.div_ceil(width).min(count))
            .collect()
    };
    match at {
        Addresses::Absolute(table) => {
            let (bytes, holes) = read_table_with_holes(read, "addresses", table, count * 8)?;
            let addresses = bytes
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect();
            Ok((addresses, symbols_of(holes, 8), None))
        }
        Addresses::Relative { offsets, base } => {
            let (base, missing) = match read_table(read, "relative_base", base, 8) {
                Ok(bytes) => (u64::from_le_bytes(bytes.try_into().expect("8 bytes")), None),
                Err(e) if rebase_later => (0, Some(e)),
                Err(e) => return Err(needed_whole(e)),
            };
            let (bytes, holes) = read_table_with_holes(read, "offsets", offsets, count * 4)?;
            let offsets: Vec<i32> = bytes
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect();
            let lost = symbols_of(holes, 4);
            let absolute_percpu = uses_absolute_percpu(&offsets, &lost);
            let rebase = missing.map(|e| {
                let relative = offsets.iter().map(|&o| !absolute_percpu || o < 0).collect();
                (e, relative)
            });
            let addresses = offsets
                .into_iter()
                .map(|o| address(base, o, absolute_percpu))
                .collect();
            Ok((addresses, lost, rebase))
        }
    }
}

/// With `CONFIG_KALLSYMS_ABSOLUTE_PERCPU` (x86-64 SMP) ordinary symbols are stored as
/// negative offsets below the base and per-CPU ones as small absolute values; without
/// it every offset is an unsigned distance above the base. Most symbols tell which.
fn uses_absolute_percpu(offsets: &[i32], lost: &[Range<usize>]) -> bool {
    let lost_count: usize = lost.iter().map(|r| r.len()).sum();
    let known = offsets.len().saturating_sub(lost_count);
    // Lost slots hold 0, which counts as not negative: compare with the known ones.
    offsets.iter().filter(|&&o| o < 0).count() * 2 > known
}

fn address(base: u64, offset: i32, absolute_percpu: bool) -> u64 {
    match (absolute_percpu, offset >= 0) {
        (false, _) => base.wrapping_add(u64::from(offset as u32)),
        (true, true) => offset as u64,
        (true, false) => base.wrapping_sub(1).wrapping_sub(offset as i64 as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lays out tables for the given (address offset, "Tname") pairs, one token per char.
    fn layout(symbols: &[(i32, &str)]) -> (Location, Vec<u8>) {
        let base_addr = 0xffff_0000u64;
        let mut token_table = Vec::new();
        let mut token_index = vec![0u8; 512];
        for t in 0..256usize {
            token_index[t * 2..t * 2 + 2]
                .copy_from_slice(&(token_table.len() as u16).to_le_bytes());
            token_table.extend([t as u8, 0]);
        }
        let mut names = Vec::new();
        for (_, n) in symbols {
            names.push(n.len() as u8);
            names.extend(n.bytes());
        }
        let names_at = (0x200 + symbols.len() as u64 * 4).next_multiple_of(0x100);
        let table_at = (names_at + names.len() as u64 + 0x100).next_multiple_of(0x100);
        let relative_base = names_at - 0x100 + base_addr;
        let at = Location {
            addresses: Addresses::Relative {
                offsets: base_addr,
                base: relative_base,
            },
            num_syms: names_at - 0xf8 + base_addr,
            names: base_addr + names_at,
            token_table: base_addr + table_at,
            token_index: base_addr + table_at + token_table.len() as u64,
        };
        let mut mem =
            vec![0u8; (table_at as usize + token_table.len() + 512).next_multiple_of(0x1000)];
        let put = |mem: &mut Vec<u8>, addr: u64, bytes: &[u8]| {
            let o = (addr - base_addr) as usize;
            mem[o..o + bytes.len()].copy_from_slice(bytes);
        };
        let offsets: Vec<u8> = symbols.iter().flat_map(|(o, _)| o.to_le_bytes()).collect();
        put(&mut mem, base_addr, &offsets);
        put(
            &mut mem,
            relative_base,
            &0xffffffff81000000u64.to_le_bytes(),
        );
        put(&mut mem, at.num_syms, &(symbols.len() as u32).to_le_bytes());
        put(&mut mem, at.names, &names);
        put(&mut mem, at.token_table, &token_table);
        put(&mut mem, at.token_index, &token_index);
        (at, mem)
    }

    fn reader(mem: &[u8]) -> impl FnMut(u64, &mut [u8]) -> Result<(), MemError> + '_ {
        move |addr, buf| {
            let outside =
                |why: &str| MemError::new(addr, Space::Virtual, MemErrorKind::Unrecorded, why);
            let o = addr.checked_sub(0xffff_0000).ok_or(outside("below"))? as usize;
            buf.copy_from_slice(mem.get(o..o + buf.len()).ok_or(outside("beyond"))?);
            Ok(())
        }
    }

    #[test]
    fn decodes_names_types_and_absolute_percpu_addresses() {
        let (at, mem) = layout(&[
            (0x2000, "Dfixed_percpu_data"),
            (-1, "T_stext"),
            (-0x101, "tdo_one"),
        ]);
        let syms = decode(&at, &mut reader(&mem)).unwrap();
        let got: Vec<(u64, char, &str)> = syms
            .iter()
            .map(|s| (s.address, s.kind, s.name.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (0x2000, 'D', "fixed_percpu_data"),
                (0xffffffff81000000, 'T', "_stext"),
                (0xffffffff81000100, 't', "do_one")
            ]
        );
    }

    #[test]
    fn a_large_table_decodes_in_two_halves_as_in_one() {
        let names: Vec<String> = (0..PARALLEL_SYMBOLS as i32 * 2 + 3)
            .map(|i| format!("t{}", "f".repeat(1 + i as usize % 7) + &i.to_string()))
            .collect();
        let table: Vec<(i32, &str)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (-1 - i as i32 * 16, n.as_str()))
            .collect();
        let (at, mem) = layout(&table);
        let syms = decode(&at, &mut reader(&mem)).unwrap();
        assert_eq!(syms.len(), table.len());
        for (i, (s, n)) in syms.iter().zip(&names).enumerate() {
            assert_eq!((s.name.as_str(), s.kind), (&n[1..], 't'));
            assert_eq!(s.address, 0xffffffff81000000 + i as u64 * 16);
        }
        // A name that runs past the table costs it (these tables have no markers
        // to resume at, so the names after it too), with a warning.
        let (at, mut mem) = layout(&table);
        let last = (at.names - 0xffff_0000) as usize
            + names.iter().map(|n| n.len() + 1).sum::<usize>()
            - 1;
        let entry = last - names.last().unwrap().len();
        mem[entry..entry + 2].copy_from_slice(&[0xff, 0xff]);
        let tables = Kallsyms::read(&at, &mut reader(&mem)).unwrap();
        assert!(!tables.warnings().is_empty());
        let syms = tables.symbols().unwrap();
        assert_eq!(syms.len(), table.len() - 1);
        assert_eq!(syms[syms.len() - 1].name, names[names.len() - 2][1..]);
    }

    #[test]
    fn find_compares_names_token_by_token() {
        // Tokens: "Td" (a type letter with the name's start), "o_", "one", "T", "d".
        let token_table = b"Td\0o_\0one\0T\0d\0".to_vec();
        let tokens = vec![0..2, 3..5, 6..9, 10..11, 12..13];
        let names = vec![
            3, 0, 1, 2, // "Tdo_one"
            4, 3, 4, 1, 2, // "Tdo_one" again, spelled otherwise, higher address
            2, 3, 4, // "Td"
        ];
        let k = Kallsyms {
            addresses: vec![0x10, 0x20, 0x30],
            names,
            token_table,
            tokens,
            readable: None,
            warnings: Vec::new(),
        };
        let found = k.find(&["do_one", "d", "do_on", "", "T"]).unwrap();
        assert_eq!(found, [Some(0x10), Some(0x30), None, None, None]);
        let all = k.symbols().unwrap();
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["do_one", "do_one", "d"]);
    }

    #[test]
    fn corrupt_tables_are_errors() {
        let (at, mut mem) = layout(&[(-1, "T_stext")]);
        let num_syms = (at.num_syms - 0xffff_0000) as usize;
        mem[num_syms..num_syms + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode(&at, &mut reader(&mem)),
            Err(KallsymsError::Corrupt(_))
        ));
        let (at, mut mem) = layout(&[(-1, "T_stext")]);
        let names = (at.names - 0xffff_0000) as usize;
        mem[names..names + 2].copy_from_slice(&[0xff, 0xff]); // a name longer than the table
        assert!(decode(&at, &mut reader(&mem)).is_err());
        let (mut at, mem) = layout(&[(-1, "T_stext")]);
        at.names = 0x10;
        assert!(matches!(
            decode(&at, &mut reader(&mem)),
            Err(KallsymsError::Corrupt(_))
        ));
        let (mut at, mem) = layout(&[(-1, "T_stext")]);
        at.addresses = Addresses::Relative {
            offsets: 0x10,
            base: 0xffff_0000,
        };
        assert!(matches!(
            decode(&at, &mut reader(&mem)),
            Err(KallsymsError::Read { .. })
        ));
    }
}

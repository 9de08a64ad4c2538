//! Finds the kallsyms tables in kernel memory by their shape, for kernels whose
//! VMCOREINFO does not say where they are (before Linux 6.0).
//!
//! Up to 6.1 at least (a later kernel reordered them; VMCOREINFO has their addresses
//! from 6.0), scripts/kallsyms puts them in `.rodata` in this order, each 8-byte
//! aligned: `kallsyms_offsets` (s32 a symbol) and `kallsyms_relative_base` (u64),
//! or before 4.6 `kallsyms_addresses` (u64 a symbol); `kallsyms_num_syms`;
//! `kallsyms_names`; `kallsyms_markers` (the names' offset every 256 symbols; u64
//! each in older kernels, u32 in newer); in 6.2 and 6.1 stable kernels
//! `kallsyms_seqs_of_names` (3 bytes a symbol); `kallsyms_token_table` (256
//! NUL-terminated strings); `kallsyms_token_index` (256 u16 offsets into it).
//!
//! The token index (0, then 255 increasing offsets, each just past a NUL of the table
//! before it) is the signature searched for, page by page. From it the scan walks
//! back through the markers to the names, `num_syms` and the addresses, and accepts
//! tables only when every name decodes exactly onto the markers and the symbols are
//! a kernel's: sorted, printable, `_stext` where the caller expects it, the tables
//! inside `.rodata`, `linux_banner` reading "Linux version ".

use crate::kallsyms::{self, entry_length, Addresses, Location, MAX_NAMES_BYTES, MAX_SYMS};
use crate::symbols::Symbol;
use crate::ReadFn;
use coroner_mem::{MemError, MemErrorKind, Space};
use std::collections::HashMap;
use std::ops::Range;

const PAGE: u64 = 4096;
/// The most memory one scan looks through (a kernel image is tens of MiB).
pub const MAX_SCAN_BYTES: u64 = 256 << 20;
/// A token expands to at most a symbol name (KSYM_NAME_LEN: 128, 512 since 6.1).
const MAX_TOKEN: u64 = 512;
/// A name's entry: a length of up to two bytes, then up to KSYM_NAME_LEN tokens.
const MAX_ENTRY: u64 = 2 + 512;
/// An entry is at least a length byte and one token.
const MIN_ENTRY: u64 = 2;
/// Pages the scan keeps while it checks a candidate (the tables of a big kernel).
const MAX_CACHED_PAGES: usize = 4096;

/// Tables found, and the symbols they hold.
#[derive(Debug)]
pub struct Found {
    pub location: Location,
    pub symbols: Vec<Symbol>,
}

/// Nothing in the range passed for kallsyms.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "no kallsyms tables in {start:#x}..{end:#x} ({pages} pages read, {candidates} token-index look-alikes{})",
    closest.as_ref().map_or(String::new(), |why| format!("; the closest: {why}"))
)]
pub struct NotFound {
    pub start: u64,
    pub end: u64,
    pub pages: u64,
    pub candidates: u64,
    /// Why the candidate that passed the most checks failed.
    pub closest: Option<String>,
}

/// Searches `range` for the kallsyms tables. `text_start` is `_stext` when known
/// (VMCOREINFO has it): the tables must then have `_stext` there. Unreadable pages
/// are skipped; the range is cut to [`MAX_SCAN_BYTES`].
pub fn scan(read: ReadFn, range: Range<u64>, text_start: Option<u64>) -> Result<Found, NotFound> {
    let start = range.start & !(PAGE - 1);
    let end = range.end.min(start.saturating_add(MAX_SCAN_BYTES));
    let mut memory = Cache {
        read,
        pages: HashMap::new(),
    };
    let mut report = NotFound {
        start,
        end,
        pages: 0,
        candidates: 0,
        closest: None,
    };
    let mut closest_stage = Stage::TokenIndex;
    let mut page = vec![0u8; PAGE as usize];
    // Downward: kallsyms sits in the later part of .rodata, far above the text start.
    let mut at = end.saturating_sub(1) & !(PAGE - 1);
    while at >= start && at < end {
        if (memory.read)(at, &mut page).is_ok() {
            report.pages += 1;
            for o in (0..PAGE as usize).step_by(8) {
                if !index_start(&page[o..]) {
                    continue;
                }
                report.candidates += 1;
                match tables_at(&mut memory, at + o as u64, text_start) {
                    Ok(found) => return Ok(found),
                    Err((stage, why)) => {
                        if report.closest.is_none() || stage > closest_stage {
                            (closest_stage, report.closest) = (stage, Some(why));
                        }
                    }
                }
            }
        }
        match at.checked_sub(PAGE) {
            Some(below) => at = below,
            None => break,
        }
    }
    Err(report)
}

/// The first entries of a token index, as far as this page shows them.
fn index_start(bytes: &[u8]) -> bool {
    let entry = |i: usize| u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]) as u64;
    let shown = (bytes.len() / 2).min(16);
    entry(0) == 0
        && (1..shown).all(|i| entry(i) > entry(i - 1) && entry(i) - entry(i - 1) <= MAX_TOKEN + 1)
}

/// How far a candidate got, in the order of the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    TokenIndex,
    TokenTable,
    Markers,
    Names,
    Symbols,
}

/// The whole check of a token index at `index_at`; on failure, how far it got and
/// why it stopped there.
fn tables_at(
    memory: &mut Cache,
    index_at: u64,
    text_start: Option<u64>,
) -> Result<Found, (Stage, String)> {
    let index = token_index(memory, index_at).ok_or_else(|| {
        let why = format!("kallsyms_token_index at {index_at:#x}: not increasing");
        (Stage::TokenIndex, why)
    })?;
    let token_table = token_table(memory, index_at, &index).ok_or_else(|| {
        let why =
            format!("kallsyms_token_table before {index_at:#x}: strings do not match the index");
        (Stage::TokenTable, why)
    })?;
    let mut last = (
        Stage::Markers,
        format!("kallsyms_markers before {token_table:#x}: none"),
    );
    let mut attempt = |memory: &mut Cache, markers: Markers| {
        let Some((names, count)) = names_start(memory, &markers) else {
            let why = format!(
                "kallsyms_names below the markers at {:#x}: no start decodes onto them",
                markers.at
            );
            if last.0 < Stage::Names {
                last = (Stage::Names, why);
            }
            return None;
        };
        for addresses in address_tables(names, count) {
            let location = Location {
                num_syms: names - 8,
                names,
                token_table,
                token_index: index_at,
                addresses,
            };
            let mut read = |addr: u64, buf: &mut [u8]| {
                if memory.read(addr, buf) {
                    Ok(())
                } else {
                    Err(MemError::new(
                        addr,
                        Space::Virtual,
                        MemErrorKind::NotMapped,
                        "not readable",
                    ))
                }
            };
            let checked = kallsyms::decode(&location, &mut read)
                .map_err(|e| e.to_string())
                .and_then(|symbols| {
                    kernel_like(&symbols, &location, text_start, memory).map(|()| symbols)
                });
            match checked {
                Ok(symbols) => return Some(Found { location, symbols }),
                // The reason the relative form, tried first and the common one, failed.
                Err(why) if last.0 < Stage::Symbols => last = (Stage::Symbols, why),
                Err(_) => {}
            }
        }
        None
    };
    for width in [4, 8] {
        let most = u64::from(MAX_SYMS).div_ceil(256);
        if let Some((at, values)) = markers_ending_at(memory, token_table, width, most) {
            let markers = Markers {
                at,
                values,
                seqs_len: None,
            };
            if let Some(found) = attempt(memory, markers) {
                return Ok(found);
            }
        }
    }
    // With seqs_of_names (align8(3 * num_syms) bytes) between: a gap of `len` bytes
    // means ceil(len / 768) groups of 256 names. Only readable memory is searched.
    let mut len = 8;
    while len <= 3 * u64::from(MAX_SYMS) + 8 {
        let Some(end) = token_table.checked_sub(len) else {
            break;
        };
        if memory.u32(end).is_none() {
            break;
        }
        if let Some(markers) = markers_before_seqs(memory, end, len) {
            if let Some(found) = attempt(memory, markers) {
                return Ok(found);
            }
        }
        len += 8;
    }
    Err(last)
}

fn token_index(memory: &mut Cache, at: u64) -> Option<[u64; 256]> {
    let mut raw = [0u8; 512];
    if !memory.read(at, &mut raw) {
        return None;
    }
    let mut index = [0u64; 256];
    for (i, pair) in raw.chunks_exact(2).enumerate() {
        index[i] = u16::from_le_bytes([pair[0], pair[1]]) as u64;
    }
    let steps_fit = index
        .windows(2)
        .all(|w| w[1] > w[0] && w[1] - w[0] <= MAX_TOKEN + 1);
    (index[0] == 0 && steps_fit).then_some(index)
}

/// Where the token table starts: each token printable, ending in a NUL exactly where
/// the next begins, the last one's NUL followed by zero padding up to the index.
fn token_table(memory: &mut Cache, index_at: u64, index: &[u64; 256]) -> Option<u64> {
    let last = index[255];
    let highest = index_at.checked_sub(last + 1)? & !7;
    let lowest = index_at.saturating_sub(last + 1 + MAX_TOKEN + 8) & !7;
    let mut bytes = Vec::new();
    let mut fits = |table: u64| {
        bytes.resize((index_at - table) as usize, 0);
        if !memory.read(table, &mut bytes) {
            return false;
        }
        let token_ok = |from: usize, nul: usize| {
            bytes
                .get(from..nul)
                .is_some_and(|s| s.iter().all(|b| (0x21..=0x7e).contains(b)))
                && bytes.get(nul) == Some(&0)
        };
        let inner = index
            .windows(2)
            .all(|w| token_ok(w[0] as usize, w[1] as usize - 1));
        let Some(nul) = bytes[last as usize..].iter().position(|&b| b == 0) else {
            return false;
        };
        let end = last as usize + nul + 1;
        inner
            && token_ok(last as usize, end - 1)
            && (table + end as u64).next_multiple_of(8) == index_at
            && bytes[end..].iter().all(|&b| b == 0)
    };
    (lowest..=highest)
        .rev()
        .step_by(8)
        .find(|&table| fits(table))
}

/// A markers table: where it starts, its entries (offsets into the names, the
/// first 0), and the size of the seqs_of_names table after it, if there is one.
struct Markers {
    at: u64,
    values: Vec<u64>,
    seqs_len: Option<u64>,
}

/// u32 markers ending at `end`, `len` bytes of seqs_of_names below the token table.
fn markers_before_seqs(memory: &mut Cache, end: u64, len: u64) -> Option<Markers> {
    let groups = len.div_ceil(768);
    let at = end.checked_sub((4 * groups).next_multiple_of(8))?;
    // Two reads reject nearly every gap before the whole table is walked.
    if memory.u32(at)? != 0 {
        return None;
    }
    if groups > 1 && !(256 * MIN_ENTRY..=256 * MAX_ENTRY).contains(&u64::from(memory.u32(at + 4)?))
    {
        return None;
    }
    let (found_at, values) = markers_ending_at(memory, end, 4, groups)?;
    (found_at == at && values.len() as u64 == groups).then_some(Markers {
        at,
        values,
        seqs_len: Some(len),
    })
}

/// At most `most` markers of `width` bytes ending at `end` (u32 ones padded to 8):
/// read downward, each 256 names (2 to [`MAX_ENTRY`] bytes each) below the next,
/// down to the 0.
fn markers_ending_at(
    memory: &mut Cache,
    end: u64,
    width: u64,
    most: u64,
) -> Option<(u64, Vec<u64>)> {
    let mut at = end.checked_sub(width)?;
    let mut value = memory.word(at, width)?;
    if width == 4 && value == 0 {
        at = at.checked_sub(4)?;
        value = memory.word(at, width)?;
    }
    let mut values = vec![value];
    while value != 0 {
        if values.len() as u64 >= most {
            return None;
        }
        at = at.checked_sub(width)?;
        let below = memory.word(at, width)?;
        let gap = value.checked_sub(below)?;
        if !(256 * MIN_ENTRY..=256 * MAX_ENTRY).contains(&gap) {
            return None;
        }
        values.push(below);
        value = below;
    }
    values.reverse();
    (at % 8 == 0).then_some((at, values))
}

/// Where the names start, and how many there are: `num_syms` just below, in
/// agreement with the markers, and every name decoding onto them.
fn names_start(memory: &mut Cache, markers: &Markers) -> Option<(u64, u32)> {
    let groups = markers.values.len() as u64;
    let last = *markers.values.last()?;
    let highest = markers.at.checked_sub(last + MIN_ENTRY)? & !7;
    let lowest = markers
        .at
        .saturating_sub(last + 256 * MAX_ENTRY + 8)
        .next_multiple_of(8)
        .max(8);
    // Up to 16k places: each page is fetched once, an unreadable one skipped whole.
    let mut page: Option<(u64, Option<Vec<u8>>)> = None;
    let mut names = highest;
    while names >= lowest {
        let slot = names - 8;
        let base = slot & !(PAGE - 1);
        if page.as_ref().is_none_or(|(at, _)| *at != base) {
            page = Some((base, memory.page(base).map(<[u8]>::to_vec)));
        }
        let Some((_, Some(bytes))) = &page else {
            names = base;
            continue;
        };
        let o = (slot - base) as usize;
        let count = u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
        let high = u32::from_le_bytes(bytes[o + 4..o + 8].try_into().expect("4 bytes"));
        let fits = high == 0
            && u64::from(count).div_ceil(256) == groups
            && markers
                .seqs_len
                .is_none_or(|len| (3 * u64::from(count)).next_multiple_of(8) == len)
            && names_fit(memory, names, count, markers);
        if fits {
            return Some((names, count));
        }
        names -= 8;
    }
    None
}

/// `count` names from `names` land on every marker and end, zero-padded, at the
/// markers table.
fn names_fit(memory: &mut Cache, names: u64, count: u32, markers: &Markers) -> bool {
    let len = markers.at - names;
    if len > MAX_NAMES_BYTES {
        return false;
    }
    let Some(bytes) = memory.read_vec(names, len) else {
        return false;
    };
    let mut pos = 0;
    for i in 0..count as usize {
        if i % 256 == 0 && markers.values[i / 256] != pos as u64 {
            return false;
        }
        match entry_length(&bytes, pos) {
            Ok((tokens, start)) if tokens > 0 && start + tokens <= bytes.len() => {
                pos = start + tokens;
            }
            _ => return false,
        }
    }
    (pos as u64).next_multiple_of(8) == len && bytes[pos..].iter().all(|&b| b == 0)
}

/// The two forms the address table can take below `num_syms`.
fn address_tables(names: u64, count: u32) -> Vec<Addresses> {
    let count = u64::from(count);
    let mut forms = Vec::new();
    if let Some(offsets) = names.checked_sub(16 + (4 * count).next_multiple_of(8)) {
        forms.push(Addresses::Relative {
            offsets,
            base: names - 16,
        });
    }
    if let Some(addresses) = names.checked_sub(8 + 8 * count) {
        forms.push(Addresses::Absolute(addresses));
    }
    forms
}

/// Decoded symbols that only a kernel's own tables give.
fn kernel_like(
    symbols: &[Symbol],
    at: &Location,
    text_start: Option<u64>,
    memory: &mut Cache,
) -> Result<(), String> {
    let (table, base) = match at.addresses {
        Addresses::Relative { offsets, base } => (offsets, Some(base)),
        Addresses::Absolute(addresses) => (addresses, None),
    };
    let whose = match base {
        Some(base) => format!("kallsyms_offsets at {table:#x} (base at {base:#x})"),
        None => format!("kallsyms_addresses at {table:#x}"),
    };
    if let Some(i) = symbols.windows(2).position(|w| w[0].address > w[1].address) {
        return Err(format!("{whose}: symbol {} is below the one before", i + 1));
    }
    let printable = |s: &Symbol| {
        s.kind.is_ascii_alphabetic()
            && !s.name.is_empty()
            && s.name.bytes().all(|b| (0x21..=0x7e).contains(&b))
    };
    if let Some(s) = symbols.iter().find(|s| !printable(s)) {
        return Err(format!(
            "kallsyms_names at {:#x}: {:?} is no symbol name",
            at.names, s.name
        ));
    }
    let address = |name: &str| symbols.iter().find(|s| s.name == name).map(|s| s.address);
    match (address("_stext"), text_start) {
        (None, _) => return Err(format!("{whose}: no _stext")),
        (Some(found), Some(expected)) if found != expected => {
            return Err(format!(
                "{whose}: _stext at {found:#x}, VMCOREINFO says {expected:#x}"
            ))
        }
        _ => {}
    }
    if let (Some(start), Some(end)) = (address("__start_rodata"), address("__end_rodata")) {
        if table < start || at.token_index.saturating_add(512) > end {
            return Err(format!(
                "{whose}: the tables are outside .rodata ({start:#x}..{end:#x})"
            ));
        }
    }
    if let Some(banner) = address("linux_banner") {
        let mut text = [0u8; 14];
        if memory.read(banner, &mut text) && &text != b"Linux version " {
            return Err(format!(
                "{whose}: linux_banner at {banner:#x} does not read \"Linux version \""
            ));
        }
    }
    Ok(())
}

/// Reads through a page cache: a candidate's checks read the same pages many times.
struct Cache<'a> {
    read: ReadFn<'a>,
    /// Readable pages, and those known not to be (`None`).
    pages: HashMap<u64, Option<Box<[u8]>>>,
}

impl Cache<'_> {
    fn page(&mut self, base: u64) -> Option<&[u8]> {
        if !self.pages.contains_key(&base) {
            if self.pages.len() >= MAX_CACHED_PAGES {
                self.pages.clear();
            }
            let mut bytes = vec![0u8; PAGE as usize].into_boxed_slice();
            let page = (self.read)(base, &mut bytes).ok().map(|()| bytes);
            self.pages.insert(base, page);
        }
        self.pages.get(&base)?.as_deref()
    }

    /// Whether all of `buf` could be read (no error text: the checks read unreadable
    /// places often, and only need to know).
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> bool {
        let mut done = 0;
        while done < buf.len() {
            let Some(at) = addr.checked_add(done as u64) else {
                return false;
            };
            let offset = (at % PAGE) as usize;
            let Some(page) = self.page(at - offset as u64) else {
                return false;
            };
            let n = (PAGE as usize - offset).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&page[offset..offset + n]);
            done += n;
        }
        true
    }

    /// `len` bytes at `addr`, allocated as they are read: a length taken from memory
    /// costs only as much as there is to read.
    fn read_vec(&mut self, addr: u64, len: u64) -> Option<Vec<u8>> {
        let mut bytes = Vec::new();
        let end = addr.checked_add(len)?;
        let mut at = addr;
        while at < end {
            let offset = at % PAGE;
            let n = (PAGE - offset).min(end - at);
            let page = self.page(at - offset)?;
            bytes.extend_from_slice(&page[offset as usize..(offset + n) as usize]);
            at += n;
        }
        Some(bytes)
    }

    fn word(&mut self, addr: u64, width: u64) -> Option<u64> {
        let mut bytes = [0u8; 8];
        self.read(addr, &mut bytes[..width as usize])
            .then(|| u64::from_le_bytes(bytes))
    }

    fn u32(&mut self, addr: u64) -> Option<u32> {
        self.word(addr, 4).map(|v| v as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::{
        example, Layout, Regions, Written, EXAMPLE_END_RODATA, EXAMPLE_RODATA, EXAMPLE_TABLES,
        EXAMPLE_TEXT,
    };

    struct Rng(u64);

    impl Rng {
        fn fill(&mut self, bytes: &mut [u8]) {
            for b in bytes {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                *b = self.0 as u8;
            }
        }
    }

    /// [`example`]'s memory with more around the tables: random text, look-alikes of
    /// a token index in .rodata before the tables, random data after them.
    fn kernel(layout: Layout, functions: usize) -> (Written, Regions, Vec<(u64, char, String)>) {
        let (written, case, symbols) = example(layout, functions);
        let mut regions = case.memory;
        let mut rng = Rng(0x9e3779b97f4a7c15);
        let mut text = vec![0u8; 0x8000];
        rng.fill(&mut text);
        regions.0.insert(EXAMPLE_TEXT, text);
        let mut rodata = vec![0u8; (EXAMPLE_TABLES - EXAMPLE_RODATA - PAGE) as usize];
        rng.fill(&mut rodata);
        // An index with no token table before it, then one whose table has no markers.
        for i in 0..256u16 {
            rodata[2 * i as usize..][..2].copy_from_slice(&(i * 3).to_le_bytes());
        }
        let fake_table: Vec<u8> = (0..256)
            .flat_map(|i| [b'a' + (i % 26) as u8, b'b', 0])
            .collect();
        rodata[0x1000..0x1000 + fake_table.len()].copy_from_slice(&fake_table);
        let at = 0x1000 + fake_table.len().next_multiple_of(8);
        for i in 0..256u16 {
            rodata[at + 2 * i as usize..][..2].copy_from_slice(&(i * 3).to_le_bytes());
        }
        regions.0.insert(EXAMPLE_RODATA + PAGE, rodata);
        let tables = regions.0.get_mut(&EXAMPLE_TABLES).expect("tables");
        let mut after = vec![0u8; 0x3000];
        rng.fill(&mut after);
        tables.extend(after);
        (written, regions, symbols)
    }

    fn scan_in(regions: &Regions, text_start: Option<u64>) -> Result<Found, NotFound> {
        let mut read = |addr: u64, buf: &mut [u8]| regions.read(addr, buf);
        scan(&mut read, EXAMPLE_TEXT..EXAMPLE_END_RODATA, text_start)
    }

    const FORMS: [(&str, Layout, usize); 5] = [
        (
            "5.x: offsets, absolute per-CPU, u32 markers",
            Layout {
                relative: true,
                absolute_percpu: true,
                wide_markers: false,
                seqs_of_names: false,
            },
            1100,
        ),
        (
            "offsets above the base",
            Layout {
                relative: true,
                absolute_percpu: false,
                wide_markers: false,
                seqs_of_names: false,
            },
            1000,
        ),
        (
            "4.6-4.x: offsets, u64 markers",
            Layout {
                relative: true,
                absolute_percpu: true,
                wide_markers: true,
                seqs_of_names: false,
            },
            700,
        ),
        (
            "before 4.6: kallsyms_addresses, u64 markers",
            Layout {
                relative: false,
                absolute_percpu: false,
                wide_markers: true,
                seqs_of_names: false,
            },
            900,
        ),
        (
            "6.1 stable: seqs_of_names",
            Layout {
                relative: true,
                absolute_percpu: true,
                wide_markers: false,
                seqs_of_names: true,
            },
            1300,
        ),
    ];

    #[test]
    fn finds_every_form_exactly_past_look_alikes() {
        for (form, layout, functions) in FORMS {
            let (written, regions, syms) = kernel(layout, functions);
            let found =
                scan_in(&regions, Some(EXAMPLE_TEXT)).unwrap_or_else(|e| panic!("{form}: {e}"));
            assert_eq!(found.location, written.location, "{form}");
            let got: Vec<(u64, char, String)> = found
                .symbols
                .into_iter()
                .map(|s| (s.address, s.kind, s.name))
                .collect();
            assert_eq!(got, syms, "{form}");
            // Without VMCOREINFO's _stext the tables are still the only fit.
            let found = scan_in(&regions, None).unwrap();
            assert_eq!(found.location, written.location, "{form}");
        }
    }

    #[test]
    fn tables_that_are_not_the_kernels_are_refused() {
        let (_, layout, functions) = FORMS[0];
        let (written, regions, _) = kernel(layout, functions);
        let err = scan_in(&regions, Some(EXAMPLE_TEXT + 0x1000)).unwrap_err();
        assert!(err.closest.as_ref().unwrap().contains("_stext at"), "{err}");
        assert!(err.candidates >= 3, "{err}");
        // A name that no longer lands on its marker.
        let mut damaged = regions.clone();
        let names = (written.location.names - EXAMPLE_TABLES) as usize;
        damaged.0.get_mut(&EXAMPLE_TABLES).unwrap()[names] += 1;
        let err = scan_in(&damaged, Some(EXAMPLE_TEXT)).unwrap_err();
        assert!(err.to_string().contains("no kallsyms tables in"), "{err}");
        // A banner that is not one.
        let mut damaged = regions.clone();
        damaged.0.get_mut(&EXAMPLE_RODATA).unwrap()[0x200] = b'l';
        let err = scan_in(&damaged, Some(EXAMPLE_TEXT)).unwrap_err();
        assert!(
            err.closest.as_ref().unwrap().contains("linux_banner"),
            "{err}"
        );
    }

    #[test]
    fn unreadable_pages_are_skipped_and_a_missing_table_page_is_reported() {
        let (_, layout, functions) = FORMS[0];
        let (written, mut regions, _) = kernel(layout, functions);
        regions.0.remove(&EXAMPLE_TEXT);
        assert_eq!(
            scan_in(&regions, Some(EXAMPLE_TEXT)).unwrap().location,
            written.location
        );
        let tables = regions.0.remove(&EXAMPLE_TABLES).unwrap();
        let names_page = (written.location.names - EXAMPLE_TABLES) as usize / 4096 * 4096 + 4096;
        regions
            .0
            .insert(EXAMPLE_TABLES, tables[..names_page].to_vec());
        regions.0.insert(
            EXAMPLE_TABLES + names_page as u64 + 4096,
            tables[names_page + 4096..].to_vec(),
        );
        assert!(scan_in(&regions, Some(EXAMPLE_TEXT)).is_err());
    }

    #[test]
    fn absolute_addresses_decode() {
        let (_, layout, functions) = FORMS[3];
        let (written, regions, syms) = kernel(layout, functions);
        let mut read = |addr: u64, buf: &mut [u8]| regions.read(addr, buf);
        let decoded = kallsyms::decode(&written.location, &mut read).unwrap();
        assert!(decoded
            .iter()
            .zip(&syms)
            .all(|(s, (a, k, n))| (s.address, s.kind, &s.name) == (*a, *k, n)));
    }
}

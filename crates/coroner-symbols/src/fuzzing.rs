//! The `kallsyms` fuzz target's input, and [`Layout`], which writes kallsyms tables
//! as scripts/kallsyms lays them out (for tests and seeds).
//!
//! Input layout (little-endian): `text_start: u64` (0: unknown), `form: u8` (0:
//! `kallsyms_offsets` + `kallsyms_relative_base`, else `kallsyms_addresses`), then
//! six u64 addresses (`num_syms`, `names`, `token_table`, `token_index`, the
//! offsets or addresses, the relative base), then memory regions until the end,
//! each `vaddr: u64`, `len: u32` and `len` bytes mapped at `vaddr`. Decoding is
//! lenient (missing bytes read as zero, a region cut short keeps what is there), so
//! every input is some case.

use crate::kallsyms::{self, Addresses, Location};
use crate::kallsyms_scan;
use coroner_mem::{MemError, MemErrorKind, Space};
use std::collections::BTreeMap;
use std::ops::Range;

/// How much of a fuzz input's address space the scan looks through.
const MAX_FUZZ_SCAN: u64 = 4 << 20;

/// Kernel memory made of a few mapped regions; everything else is unmapped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Regions(pub BTreeMap<u64, Vec<u8>>);

impl Regions {
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let mut done = 0;
        while done < buf.len() {
            let at = addr.wrapping_add(done as u64);
            let bytes = self
                .0
                .range(..=at)
                .next_back()
                .and_then(|(&start, bytes)| bytes.get(usize::try_from(at - start).ok()?..))
                .filter(|b| !b.is_empty())
                .ok_or_else(|| {
                    MemError::new(
                        at,
                        Space::Virtual,
                        MemErrorKind::Unrecorded,
                        format!("{at:#x} is not mapped"),
                    )
                })?;
            let n = bytes.len().min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&bytes[..n]);
            done += n;
        }
        Ok(())
    }

    /// From the lowest mapped address to the highest.
    pub fn span(&self) -> Option<Range<u64>> {
        let (&first, _) = self.0.first_key_value()?;
        let (&last, bytes) = self.0.last_key_value()?;
        Some(first..last.saturating_add(bytes.len() as u64))
    }
}

/// One fuzz input: where `decode` is pointed, what the scan may assume, and memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub text_start: Option<u64>,
    pub location: Location,
    pub memory: Regions,
}

impl Case {
    pub fn decode(input: &[u8]) -> Case {
        let mut header = [0u8; 57];
        let n = header.len().min(input.len());
        header[..n].copy_from_slice(&input[..n]);
        let word = |i: usize| {
            let at = 9 + 8 * i;
            u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"))
        };
        let text_start = u64::from_le_bytes(header[..8].try_into().expect("8 bytes"));
        let addresses = match header[8] {
            0 => Addresses::Relative {
                offsets: word(4),
                base: word(5),
            },
            _ => Addresses::Absolute(word(4)),
        };
        let location = Location {
            num_syms: word(0),
            names: word(1),
            token_table: word(2),
            token_index: word(3),
            addresses,
        };
        let mut memory = Regions::default();
        let mut rest = input.get(header.len()..).unwrap_or_default();
        while rest.len() >= 12 {
            let vaddr = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes"));
            let len = u32::from_le_bytes(rest[8..12].try_into().expect("4 bytes")) as usize;
            let bytes = &rest[12..rest.len().min(12 + len)];
            memory.0.insert(vaddr, bytes.to_vec());
            rest = &rest[12 + bytes.len()..];
        }
        Case {
            text_start: (text_start != 0).then_some(text_start),
            location,
            memory,
        }
    }

    /// The inverse of [`Case::decode`].
    pub fn encode(&self) -> Vec<u8> {
        let at = &self.location;
        let (form, table, base) = match at.addresses {
            Addresses::Relative { offsets, base } => (0, offsets, base),
            Addresses::Absolute(addresses) => (1, addresses, 0),
        };
        let mut out = self.text_start.unwrap_or(0).to_le_bytes().to_vec();
        out.push(form);
        for v in [
            at.num_syms,
            at.names,
            at.token_table,
            at.token_index,
            table,
            base,
        ] {
            out.extend(v.to_le_bytes());
        }
        for (vaddr, bytes) in &self.memory.0 {
            out.extend(vaddr.to_le_bytes());
            out.extend((bytes.len() as u32).to_le_bytes());
            out.extend(bytes);
        }
        out
    }
}

/// The fuzz target's body: decodes the tables where the input says they are, and
/// scans its memory for them. Returns the symbols found, so no work is optimised away.
#[doc(hidden)]
pub fn fuzz_kallsyms(input: &[u8]) -> usize {
    let case = Case::decode(input);
    let mut read = |addr: u64, buf: &mut [u8]| case.memory.read(addr, buf);
    let decoded = kallsyms::decode(&case.location, &mut read).map_or(0, |s| s.len());
    let scanned = case.memory.span().map_or(0, |span| {
        let end = span.end.min(span.start.saturating_add(MAX_FUZZ_SCAN));
        kallsyms_scan::scan(&mut read, span.start..end, case.text_start)
            .map_or(0, |found| found.symbols.len())
    });
    decoded + scanned
}

/// What scripts/kallsyms writes, in the forms kernels have used.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// `kallsyms_offsets` + `kallsyms_relative_base` (4.6+), else `kallsyms_addresses`.
    pub relative: bool,
    /// With `relative`: per-CPU symbols (below 4 GiB) stored as their own value and
    /// the others below the base (x86-64 SMP); else every offset is above the base.
    pub absolute_percpu: bool,
    /// `kallsyms_num_syms` and `kallsyms_markers` as u64 (older kernels), else u32.
    pub wide_markers: bool,
    /// `kallsyms_seqs_of_names` (3 bytes a symbol) between markers and tokens.
    pub seqs_of_names: bool,
}

/// Where [`Layout::write`] put each table, beside [`Location`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub location: Location,
    pub markers: u64,
    /// One past the token index.
    pub end: u64,
}

impl Layout {
    /// Lays out `symbols` (address order; `(address, type letter, name)`) from `at`
    /// (8-aligned). Returns where the tables are and the bytes from `at` to `end`.
    pub fn write(&self, symbols: &[(u64, char, &str)], at: u64) -> (Written, Vec<u8>) {
        let names: Vec<Vec<u8>> = symbols
            .iter()
            .map(|(_, kind, name)| {
                let mut n = vec![*kind as u8];
                n.extend(name.bytes());
                n
            })
            .collect();
        let (tokens, encoded) = compress(&names);
        let mut out = Vec::new();
        let align = |out: &mut Vec<u8>| out.resize(out.len().next_multiple_of(8), 0);
        let here = |out: &Vec<u8>| at + out.len() as u64;
        let percpu = |address: u64| self.absolute_percpu && address < 1 << 32;
        let table = here(&out);
        let base = symbols
            .iter()
            .map(|s| s.0)
            .filter(|&a| !percpu(a))
            .min()
            .unwrap_or(0);
        for &(address, _, _) in symbols {
            if !self.relative {
                out.extend(address.to_le_bytes());
            } else if percpu(address) {
                out.extend((address as u32).to_le_bytes());
            } else if self.absolute_percpu {
                out.extend(((base.wrapping_sub(address) as u32).wrapping_sub(1)).to_le_bytes());
            } else {
                out.extend((address.wrapping_sub(base) as u32).to_le_bytes());
            }
        }
        align(&mut out);
        let addresses = if self.relative {
            let at_base = here(&out);
            out.extend(base.to_le_bytes());
            Addresses::Relative {
                offsets: table,
                base: at_base,
            }
        } else {
            Addresses::Absolute(table)
        };
        let num_syms = here(&out);
        let word = |out: &mut Vec<u8>, v: u64| match self.wide_markers {
            true => out.extend(v.to_le_bytes()),
            false => out.extend((v as u32).to_le_bytes()),
        };
        word(&mut out, symbols.len() as u64);
        align(&mut out);
        let names_at = here(&out);
        let mut markers = Vec::new();
        let start = out.len();
        for (i, e) in encoded.iter().enumerate() {
            if i % 256 == 0 {
                markers.push((out.len() - start) as u64);
            }
            if e.len() > 0x7f {
                out.extend([0x80 | (e.len() & 0x7f) as u8, (e.len() >> 7) as u8]);
            } else {
                out.push(e.len() as u8);
            }
            out.extend(e);
        }
        align(&mut out);
        let markers_at = here(&out);
        for m in markers {
            word(&mut out, m);
        }
        align(&mut out);
        if self.seqs_of_names {
            let mut by_name: Vec<usize> = (0..names.len()).collect();
            by_name.sort_by(|&a, &b| names[a][1..].cmp(&names[b][1..]).then(a.cmp(&b)));
            for i in by_name {
                out.extend(&(i as u32).to_be_bytes()[1..]);
            }
            align(&mut out);
        }
        let token_table = here(&out);
        let mut index = Vec::new();
        let table_start = out.len();
        for t in &tokens {
            index.extend(((out.len() - table_start) as u16).to_le_bytes());
            out.extend(t);
            out.push(0);
        }
        align(&mut out);
        let token_index = here(&out);
        out.extend(index);
        let location = Location {
            num_syms,
            names: names_at,
            token_table,
            token_index,
            addresses,
        };
        let written = Written {
            location,
            markers: markers_at,
            end: here(&out),
        };
        (written, out)
    }
}

/// Where [`example`] puts the kernel: KASLR-moved text, .rodata 1 MiB above it (the
/// banner first), the tables 256 KiB into .rodata.
pub const EXAMPLE_TEXT: u64 = 0xffff_ffff_8100_0000 + 0x140_0000;
pub const EXAMPLE_RODATA: u64 = EXAMPLE_TEXT + 0x10_0000;
pub const EXAMPLE_TABLES: u64 = EXAMPLE_RODATA + 0x4_0000;
pub const EXAMPLE_END_RODATA: u64 = EXAMPLE_RODATA + 0x40_0000;

/// A small kernel's kallsyms as a fuzz case: per-CPU symbols (only with absolute
/// per-CPU offsets, or absolute addresses), `_stext`, `functions` text symbols,
/// `.rodata` and `linux_banner`, `_end`. Memory holds the banner's page and the
/// tables, padded to a page. Returns the symbols too, in address order.
pub fn example(layout: Layout, functions: usize) -> (Written, Case, Vec<(u64, char, String)>) {
    let mut symbols = Vec::new();
    if layout.absolute_percpu || !layout.relative {
        symbols.extend([
            (0, 'D', "__per_cpu_start".to_string()),
            (0x2000, 'D', "fixed_percpu_data".into()),
            (0x36000, 'D', "__per_cpu_end".into()),
        ]);
    }
    symbols.extend([
        (EXAMPLE_TEXT, 'T', "_stext".to_string()),
        (EXAMPLE_TEXT, 'T', "_text".into()),
        (EXAMPLE_TEXT, 'T', "startup_64".into()),
    ]);
    let words = ["do", "sys", "vfs", "read", "write", "page", "lock", "irq"];
    for i in 0..functions {
        let name = format!("{}_{}_{i}", words[i % 8], words[i / 8 % 8]);
        let kind = if i % 3 == 0 { 'T' } else { 't' };
        symbols.push((EXAMPLE_TEXT + 0x100 + 0x40 * i as u64, kind, name));
    }
    symbols.extend([
        (EXAMPLE_RODATA - 0x1000, 'T', "_etext".to_string()),
        (EXAMPLE_RODATA, 'D', "__start_rodata".into()),
        (EXAMPLE_RODATA + 0x200, 'D', "linux_banner".into()),
        (EXAMPLE_END_RODATA, 'D', "__end_rodata".into()),
        (EXAMPLE_END_RODATA + 0x10_0000, 'B', "_end".into()),
    ]);
    let refs: Vec<(u64, char, &str)> = symbols
        .iter()
        .map(|(a, k, n)| (*a, *k, n.as_str()))
        .collect();
    let (written, mut tables) = layout.write(&refs, EXAMPLE_TABLES);
    tables.resize(tables.len().next_multiple_of(4096), 0);
    let mut banner = vec![0u8; 4096];
    banner[0x200..0x220].copy_from_slice(b"Linux version 5.10.0-test (gcc)\0");
    let case = Case {
        text_start: Some(EXAMPLE_TEXT),
        location: written.location,
        memory: Regions(BTreeMap::from([
            (EXAMPLE_RODATA, banner),
            (EXAMPLE_TABLES, tables),
        ])),
    };
    (written, case, symbols)
}

/// Token compression in the manner of scripts/kallsyms: every byte a name uses is
/// its own token; each free slot, from 255 down, takes the commonest adjacent pair
/// of tokens, which is then replaced everywhere. Returns the 256 tokens (expanded;
/// unused slots empty) and each name as token numbers.
fn compress(names: &[Vec<u8>]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut tokens: Vec<Vec<u8>> = vec![Vec::new(); 256];
    for &b in names.iter().flatten() {
        tokens[b as usize] = vec![b];
    }
    let mut encoded: Vec<Vec<u8>> = names.to_vec();
    for slot in (0..256).rev() {
        if !tokens[slot].is_empty() {
            continue;
        }
        let mut counts: BTreeMap<(u8, u8), usize> = BTreeMap::new();
        for e in &encoded {
            for pair in e.windows(2) {
                *counts.entry((pair[0], pair[1])).or_default() += 1;
            }
        }
        // The commonest pair; ties go to the first in byte order, so output is stable.
        let Some((&(a, b), _)) = counts
            .iter()
            .max_by_key(|&(pair, &n)| (n, std::cmp::Reverse(*pair)))
        else {
            break;
        };
        let mut token = tokens[a as usize].clone();
        token.extend_from_slice(&tokens[b as usize]);
        tokens[slot] = token;
        for e in &mut encoded {
            let mut out = Vec::with_capacity(e.len());
            let mut i = 0;
            while i < e.len() {
                if i + 1 < e.len() && (e[i], e[i + 1]) == (a, b) {
                    out.push(slot as u8);
                    i += 2;
                } else {
                    out.push(e[i]);
                    i += 1;
                }
            }
            *e = out;
        }
    }
    (tokens, encoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_names_expand_to_themselves() {
        let names: Vec<Vec<u8>> = ["Tstartup_64", "tdo_one_initcall", "Tdo_one_more", "d_x"]
            .iter()
            .map(|n| n.as_bytes().to_vec())
            .collect();
        let (tokens, encoded) = compress(&names);
        assert_eq!(tokens.len(), 256);
        for (name, e) in names.iter().zip(&encoded) {
            assert!(e.len() < name.len());
            let expanded: Vec<u8> = e.iter().flat_map(|&t| tokens[t as usize].clone()).collect();
            assert_eq!(&expanded, name);
        }
    }

    #[test]
    fn a_case_survives_encoding() {
        let (written, bytes) = Layout {
            relative: true,
            absolute_percpu: true,
            wide_markers: false,
            seqs_of_names: false,
        }
        .write(&[(0xffffffff81000000, 'T', "_stext")], 0xffffffff81e00000);
        let case = Case {
            text_start: Some(0xffffffff81000000),
            location: written.location,
            memory: Regions(BTreeMap::from([(0xffffffff81e00000, bytes)])),
        };
        assert_eq!(Case::decode(&case.encode()), case);
    }
}

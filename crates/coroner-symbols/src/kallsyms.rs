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

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KallsymsError {
    #[error("reading kallsyms {table} at {address:#x}: {why}")]
    Read {
        table: &'static str,
        address: u64,
        why: String,
    },
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
        read(at, &mut buf[done..]).map_err(|why| KallsymsError::Read {
            table,
            address: at,
            why,
        })?;
    }
    Ok(buf)
}

/// Decodes the whole table.
pub fn decode(at: &Location, read: ReadFn) -> Result<Vec<Symbol>, KallsymsError> {
    Kallsyms::read(at, read)?.symbols()
}

/// The tables, read from memory once: a few names can be looked up before all of
/// them are decoded (a program needs three to start reading its types).
pub struct Kallsyms {
    addresses: Vec<u64>,
    names: Vec<u8>,
    token_table: Vec<u8>,
    /// Each token's bytes in `token_table`, checked to lie inside it.
    tokens: Vec<std::ops::Range<usize>>,
}

impl Kallsyms {
    pub fn read(at: &Location, read: ReadFn) -> Result<Kallsyms, KallsymsError> {
        let count = u32::from_le_bytes(
            read_table(read, "num_syms", at.num_syms, 4)?
                .try_into()
                .expect("4 bytes"),
        );
        if count == 0 || count > MAX_SYMS {
            return Err(KallsymsError::Corrupt(format!(
                "kallsyms_num_syms is {count}"
            )));
        }
        let addresses = addresses(read, at.addresses, count as usize)?;
        let index: Vec<usize> = read_table(read, "token_index", at.token_index, 512)?
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]) as usize)
            .collect();
        let table_len = span(
            ("the tokens", at.token_table),
            ("their index", at.token_index),
            TOKEN_TABLE_MAX,
        )?;
        let token_table = read_table(read, "token_table", at.token_table, table_len)?;
        let tokens = tokens(&token_table, &index)?;
        let names_len = span(
            ("names", at.names),
            ("the token table", at.token_table),
            MAX_NAMES_BYTES,
        )?;
        let names = read_table(read, "names", at.names, names_len)?;
        // Every entry must lie inside the table: later walks can rely on it.
        skip(&names, 0, addresses.len())?;
        Ok(Kallsyms {
            addresses,
            names,
            token_table,
            tokens,
        })
    }

    /// The address of each of `wanted` (names without their type letter), the first
    /// of a name in table order, which is address order. Names are compared token
    /// by token where they are stored, so this costs far less than decoding.
    pub fn find(&self, wanted: &[&str]) -> Result<Vec<Option<u64>>, KallsymsError> {
        let mut found = vec![None; wanted.len()];
        let mut pos = 0;
        for &address in &self.addresses {
            let (encoded, next) = entry(&self.names, pos)?;
            for (slot, name) in found.iter_mut().zip(wanted) {
                if slot.is_none() && self.spells(encoded, name.as_bytes()) {
                    *slot = Some(address);
                }
            }
            pos = next;
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

/// The `count` symbol addresses, from either table form.
fn addresses(read: ReadFn, at: Addresses, count: usize) -> Result<Vec<u64>, KallsymsError> {
    match at {
        Addresses::Absolute(table) => Ok(read_table(read, "addresses", table, count * 8)?
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect()),
        Addresses::Relative { offsets, base } => {
            let base = u64::from_le_bytes(
                read_table(read, "relative_base", base, 8)?
                    .try_into()
                    .expect("8 bytes"),
            );
            let offsets: Vec<i32> = read_table(read, "offsets", offsets, count * 4)?
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect();
            let absolute_percpu = uses_absolute_percpu(&offsets);
            Ok(offsets
                .into_iter()
                .map(|o| address(base, o, absolute_percpu))
                .collect())
        }
    }
}

/// With `CONFIG_KALLSYMS_ABSOLUTE_PERCPU` (x86-64 SMP) ordinary symbols are stored as
/// negative offsets below the base and per-CPU ones as small absolute values; without
/// it every offset is an unsigned distance above the base. Most symbols tell which.
fn uses_absolute_percpu(offsets: &[i32]) -> bool {
    offsets.iter().filter(|&&o| o < 0).count() * 2 > offsets.len()
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

    fn reader(mem: &[u8]) -> impl FnMut(u64, &mut [u8]) -> Result<(), String> + '_ {
        move |addr, buf| {
            let o = addr.checked_sub(0xffff_0000).ok_or("below")? as usize;
            buf.copy_from_slice(mem.get(o..o + buf.len()).ok_or("beyond")?);
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
        // A cut in the second half is found by the second thread and reported.
        let (at, mut mem) = layout(&table);
        let last = (at.names - 0xffff_0000) as usize
            + names.iter().map(|n| n.len() + 1).sum::<usize>()
            - 1;
        let entry = last - names.last().unwrap().len();
        mem[entry..entry + 2].copy_from_slice(&[0xff, 0xff]);
        assert!(matches!(
            decode(&at, &mut reader(&mem)),
            Err(KallsymsError::Corrupt(_))
        ));
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

//! kallsyms found by the scan in real kernel memory (Debian 5.10, whose VMCOREINFO
//! does not locate the tables) equal that kernel's System.map, and damage to them is
//! an error, never a panic.

use coroner_symbols::fuzzing::Case;
use coroner_symbols::kallsyms::{self, Addresses};
use coroner_symbols::kallsyms_scan::scan;
use std::collections::HashMap;
use std::path::Path;

fn data(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    zstd::decode_all(std::fs::File::open(&path).unwrap()).unwrap()
}

/// The seed recorded from the 5.10.0-32 dump, and the scan's range on that kernel
/// (`_stext` .. `init_uts_ns`, as `Program::open` takes them from VMCOREINFO).
fn debian_5_10() -> (Case, std::ops::Range<u64>) {
    let case = Case::decode(&data("kallsyms-5.10.0-32-amd64.zst"));
    (case, 0xffffffff82400000..0xffffffff83a13700)
}

#[test]
fn the_scan_finds_debian_5_10s_tables_and_they_equal_its_system_map() {
    let (case, range) = debian_5_10();
    let mut read = |addr: u64, buf: &mut [u8]| case.memory.read(addr, buf);
    let found = scan(&mut read, range, case.text_start).unwrap();
    assert_eq!(found.location, case.location);
    assert!(matches!(
        found.location.addresses,
        Addresses::Relative { .. }
    ));
    let text = String::from_utf8(data("System.map-5.10.0-32-amd64.zst")).unwrap();
    let slide = case.text_start.unwrap() - 0xffffffff81000000;
    let mut map: HashMap<(&str, u64), char> = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [addr, kind, name] = f[..] else { continue };
        let linked = u64::from_str_radix(addr, 16).unwrap();
        // Per-CPU symbols are offsets, which KASLR does not move.
        let moved = if linked < 1 << 32 {
            linked
        } else {
            linked + slide
        };
        map.insert((name, moved), kind.chars().next().unwrap());
    }
    let mut wrong = Vec::new();
    for s in &found.symbols {
        let kind = map.get(&(s.name.as_str(), s.address));
        // scripts/kallsyms types per-CPU symbols 'A', System.map keeps nm's letter.
        let kind = kind.map(|&k| if s.address < 1 << 32 { 'A' } else { k });
        // scripts/mksysmap leaves local labels (.L*) out of System.map.
        if kind != Some(s.kind) && !s.name.starts_with(".L") {
            wrong.push((s.name.as_str(), s.address, s.kind, kind));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} differ: {:x?}",
        wrong.len(),
        &wrong[..wrong.len().min(20)]
    );
    // Everything System.map has but kallsyms leaves out is absolute, or its own tables.
    let kept: std::collections::HashSet<(&str, u64)> = found
        .symbols
        .iter()
        .map(|s| (s.name.as_str(), s.address))
        .collect();
    let left_out: Vec<_> = map
        .iter()
        .filter(|(key, &kind)| {
            !kept.contains(key) && kind != 'A' && !key.0.starts_with("kallsyms_")
        })
        .collect();
    assert!(left_out.is_empty(), "{left_out:?}");
    assert_eq!(found.symbols.len(), 104888);
}

#[test]
fn damaged_debian_tables_are_errors_not_panics() {
    let (case, range) = debian_5_10();
    let at = case.location;
    let Addresses::Relative { offsets, base } = at.addresses else {
        panic!("{at:?}")
    };
    // Each table's first bytes, its middle and its last, overwritten three ways.
    let places = [
        offsets,
        offsets + 0x30000,
        base,
        at.num_syms,
        at.names,
        at.names + 0x80001,
        at.token_table - 8,
        at.token_table,
        at.token_table + 0x100,
        at.token_index,
        at.token_index + 0x101,
        at.token_index + 510,
    ];
    for place in places {
        for fill in [0x00, 0xff, 0x7f] {
            let mut damaged = case.clone();
            let (&start, bytes) = damaged.memory.0.range_mut(..=place).next_back().unwrap();
            let o = (place - start) as usize;
            bytes[o..o + 2].fill(fill);
            let mut read = |addr: u64, buf: &mut [u8]| damaged.memory.read(addr, buf);
            let decoded = kallsyms::decode(&at, &mut read);
            if let Ok(found) = scan(&mut read, range.clone(), damaged.text_start) {
                // Only damage a kernel would not notice either may leave tables found.
                assert_eq!(found.location, at, "{place:#x} = {fill:#x}");
                assert!(decoded.is_ok(), "{place:#x} = {fill:#x}");
            }
        }
    }
}

/// Unreadable pages of the names or the offsets (a dump cut short, a corrupt
/// compressed page) cost only the symbols on them, up to the next marker; every
/// other symbol keeps its own address.
#[test]
fn unreadable_pages_cost_only_their_symbols() {
    let (case, _) = debian_5_10();
    let at = case.location;
    let Addresses::Relative { offsets, .. } = at.addresses else {
        panic!("{at:?}")
    };
    let mut read = |addr: u64, buf: &mut [u8]| case.memory.read(addr, buf);
    let whole = kallsyms::decode(&at, &mut read).unwrap();
    let page = |a: u64| a & !0xfff;
    let names_pages = (at.token_table - at.names) / 4096;
    let mut holes: Vec<(u64, u64)> = (1..8)
        .map(|k| page(at.names + names_pages * k / 8 * 4096))
        .map(|p| (p, p + 4096))
        .collect();
    // The names' first page also holds kallsyms_relative_base, which every address
    // needs: the two pages after it.
    holes.push((page(at.names) + 4096, page(at.names) + 3 * 4096));
    assert!(page(offsets) + 8192 <= page(at.num_syms));
    holes.push((page(offsets) + 4096, page(offsets) + 8192));
    for (from, to) in holes {
        let mut read = |addr: u64, buf: &mut [u8]| {
            if addr < to && addr + buf.len() as u64 > from {
                return Err(missing(addr));
            }
            case.memory.read(addr, buf)
        };
        let tables = kallsyms::Kallsyms::read(&at, &mut read)
            .unwrap_or_else(|e| panic!("{from:#x}..{to:#x}: {e}"));
        let got = tables.symbols().unwrap();
        assert!(!tables.warnings().is_empty(), "{from:#x}");
        let lost = whole.len() - got.len();
        let mut expected = whole.iter();
        for s in &got {
            assert!(
                expected.any(|w| w == s),
                "{from:#x}: {s:?} is not an intact symbol (or out of order)"
            );
        }
        // The names on the page (at least 2 bytes each), and the rest of their
        // group of 256 after the page.
        let on_page = if from >= offsets && to <= at.num_syms {
            4096 / 4
        } else {
            (to - from) as usize / 2 + 256
        };
        assert!(lost > 0 && lost <= on_page, "{from:#x}: {lost} lost");
        // Names still readable are found at their own address.
        for s in [&got[got.len() / 3], &got[got.len() - 1]] {
            let first = whole.iter().find(|w| w.name == s.name).unwrap();
            let found = tables.find(&[&s.name]).unwrap();
            assert_eq!(found, [Some(first.address)], "{from:#x}: {}", s.name);
        }
    }
    // The token table is needed for every name.
    let mut read = |addr: u64, buf: &mut [u8]| {
        if addr < at.token_table + 16 && addr + buf.len() as u64 > at.token_table {
            return Err(missing(addr));
        }
        case.memory.read(addr, buf)
    };
    let e = kallsyms::Kallsyms::read(&at, &mut read).err().unwrap();
    assert!(e.to_string().contains("no symbol can be decoded"), "{e}");
}

/// The page holding kallsyms_relative_base, kallsyms_num_syms and the names'
/// start: the count comes from the offsets' length and the markers, the base from
/// one symbol whose address the caller knows.
#[test]
fn the_base_and_count_are_rebuilt_when_their_page_is_lost() {
    let (case, _) = debian_5_10();
    let at = case.location;
    let mut read = |addr: u64, buf: &mut [u8]| case.memory.read(addr, buf);
    let whole = kallsyms::decode(&at, &mut read).unwrap();
    let page = at.num_syms & !0xfff;
    let mut read = |addr: u64, buf: &mut [u8]| {
        if addr < page + 4096 && addr + buf.len() as u64 > page {
            return Err(missing(addr));
        }
        case.memory.read(addr, buf)
    };
    assert!(
        kallsyms::Kallsyms::read(&at, &mut read).is_err(),
        "no anchor"
    );
    let stext = whole.iter().find(|s| s.name == "_stext").unwrap().address;
    let tables =
        kallsyms::Kallsyms::read_anchored(&at, &mut read, Some(("_stext", stext))).unwrap();
    let got = tables.symbols().unwrap();
    let mut expected = whole.iter();
    for s in &got {
        assert!(expected.any(|w| w == s), "{s:?} is not an intact symbol");
    }
    // The page's offsets (at most 1024) and names (at most 2048, and their group).
    let lost = whole.len() - got.len();
    assert!(lost > 0 && lost <= 1024 + 2048 + 256, "{lost} lost");
    assert!(tables.warnings().iter().any(|w| w.contains("puts _stext")));
}

/// A page a test took out of the recorded memory.
fn missing(addr: u64) -> coroner_mem::MemError {
    coroner_mem::MemError::new(
        addr,
        coroner_mem::Space::Virtual,
        coroner_mem::MemErrorKind::Missing,
        format!("{addr:#x}: page missing"),
    )
}

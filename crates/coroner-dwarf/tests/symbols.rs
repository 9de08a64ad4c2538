//! The ELF symbol table against the kernel build's own System.map (made by `nm`
//! from the same vmlinux): every line of it must be one of our symbols.

mod common;

use std::collections::HashSet;

use coroner_dwarf::Debuginfo;

#[test]
fn every_system_map_line_is_a_symbol() {
    let symbols = Debuginfo::parse(common::vmlinux())
        .unwrap()
        .symbols()
        .unwrap();
    let ours: HashSet<(u64, char, &str)> = symbols
        .iter()
        .map(|s| (s.address, s.letter, s.name.as_str()))
        .collect();
    let map = std::fs::read_to_string(coroner_testdata::fp_system_map()).unwrap();
    let mut missing = Vec::new();
    let mut count = 0;
    for line in map.lines() {
        let mut words = line.split_whitespace();
        let (Some(address), Some(letter), Some(name)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        let address = u64::from_str_radix(address, 16).unwrap();
        let letter = letter.chars().next().unwrap();
        count += 1;
        if !ours.contains(&(address, letter, name)) {
            missing.push(line);
        }
    }
    assert!(count > 50_000, "{count} lines in System.map");
    assert!(
        missing.is_empty(),
        "{} of {count} System.map lines missing, first: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let panic = symbols.iter().find(|s| s.name == "panic").unwrap();
    assert!(panic.size > 0, "sizes come with the symbols");
}

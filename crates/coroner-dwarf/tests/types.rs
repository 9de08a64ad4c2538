//! DWARF types of the fp-nobtf vmlinux beyond gdb's view: variable addresses
//! against the build's System.map, and the size of the deduplicated result.

mod common;

use std::collections::HashMap;

use coroner_types::{Namespace, Type};

#[test]
fn variable_addresses_match_system_map() {
    let dwarf = common::types();
    let map = std::fs::read_to_string(coroner_testdata::fp_system_map()).unwrap();
    let mut by_name: HashMap<&str, Vec<u64>> = HashMap::new();
    for line in map.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [address, _, name] = words[..] {
            by_name
                .entry(name)
                .or_default()
                .push(u64::from_str_radix(address, 16).unwrap());
        }
    }
    let mut checked = 0;
    let mut wrong = Vec::new();
    for v in &dwarf.variables {
        let Some(addresses) = by_name.get(v.name.as_str()) else {
            continue; // optimised away from the symbol table, or a local static
        };
        checked += 1;
        if !addresses.contains(&v.address) {
            wrong.push(format!(
                "{} at {:#x}, System.map {addresses:x?}",
                v.name, v.address
            ));
        }
    }
    assert!(checked > 10_000, "only {checked} variables checked");
    assert!(
        wrong.is_empty(),
        "{} wrong: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
    let jiffies = &dwarf.variables_named("jiffies_64")[0];
    assert_eq!(
        coroner_types::gdb::type_name(&dwarf.types, jiffies.ty),
        "u64",
        "a variable's type"
    );
}

/// Every unit repeats its headers' types: merged, a struct is there once unless
/// two files really define different structs of one name.
#[test]
fn types_are_deduplicated() {
    let types = &common::types().types;
    let mut definitions: HashMap<&str, usize> = HashMap::new();
    for id in types.ids() {
        if let Some(Type::Struct(c)) = types.get(id) {
            if let Some(name) = c.name {
                *definitions.entry(types.str(name)).or_default() += 1;
            }
        }
    }
    let repeated: Vec<_> = definitions.iter().filter(|(_, &n)| n > 1).collect();
    assert!(
        repeated.len() * 100 < definitions.len(),
        "{} of {} struct names defined more than once, e.g. {:?}",
        repeated.len(),
        definitions.len(),
        &repeated[..repeated.len().min(10)]
    );
    assert!(types.len() < 100_000, "{} types", types.len());
    assert!(types.lookup(Namespace::Struct, "task_struct").is_some());
}

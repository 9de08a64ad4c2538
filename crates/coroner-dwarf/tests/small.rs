//! The fuzz seeds (fuzz/seeds/dwarf: a C file of every type kind, built at DWARF
//! 2, 4 and 5) against gdb: DWARF 2's `DW_AT_bit_offset` bitfields, DWARF 5's
//! forms, negative and 64-bit enumerators, flexible and multi-dimensional arrays.

mod common;

use std::path::PathBuf;

use coroner_dwarf::Debuginfo;

const TYPES: [&str; 8] = [
    "struct node",
    "struct bits",
    "union value",
    "enum small",
    "enum negative",
    "enum wide",
    "enum signed_wide",
    "u64",
];
const NAMES: [&str; 3] = ["root", "counter_array", "use"];

fn seed(version: u32) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../fuzz/seeds/dwarf/types-dwarf{version}"))
}

#[test]
fn small_programs_agree_with_gdb() {
    for version in [2, 4, 5] {
        let path = seed(version);
        let data = std::fs::read(&path).unwrap();
        let dwarf = Debuginfo::parse(&data).unwrap().types().unwrap();
        // The type model has no `_Atomic` (the kernel's C does not use it):
        // DW_TAG_atomic_type reads as its target.
        let known = [("_Atomic int", "int")];
        let failures = common::gdb::compare(&dwarf, &path, &TYPES, &NAMES, &known);
        assert!(
            failures.is_empty(),
            "DWARF {version}:\n{}",
            failures.join("\n\n")
        );
    }
}

/// dwz's partial units: types shared by two units live in a third, reached by
/// `DW_FORM_ref_addr`.
#[test]
fn dwz_partial_units_agree_with_gdb() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/dwarf/types-dwz");
    let data = std::fs::read(&path).unwrap();
    let dwarf = Debuginfo::parse(&data).unwrap().types().unwrap();
    let failures = common::gdb::compare(
        &dwarf,
        &path,
        &["struct shared", "shared_t", "enum colour"],
        &["first", "second", "paint", "one"],
        &[],
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

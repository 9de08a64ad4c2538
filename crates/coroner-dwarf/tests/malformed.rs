//! Malformed DWARF is an error that names where it went wrong: a pointer type
//! made to point at itself (a loop no C program can write) is refused with the
//! offset of that DIE.

use coroner_dwarf::Debuginfo;
use object::{Object, ObjectSection};

#[test]
fn a_type_that_contains_itself_is_an_error_at_its_die() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/seeds/dwarf/types-dwarf4"
    );
    let mut data = std::fs::read(path).unwrap();
    let (info_at, info) = {
        let elf = object::File::parse(&*data).unwrap();
        let section = elf.section_by_name(".debug_info").unwrap();
        (
            section.file_range().unwrap().0 as usize,
            section.data().unwrap().to_vec(),
        )
    };
    // The first pointer type DIE of the first unit, and the offset it points at.
    let abbrev_data = {
        let elf = object::File::parse(&*data).unwrap();
        elf.section_by_name(".debug_abbrev")
            .unwrap()
            .data()
            .unwrap()
            .to_vec()
    };
    let debug_info = gimli::DebugInfo::new(&info, gimli::LittleEndian);
    let header = debug_info.units().next().unwrap().unwrap();
    let abbrevs = header
        .abbreviations(&gimli::DebugAbbrev::new(&abbrev_data, gimli::LittleEndian))
        .unwrap();
    let mut entries = header.entries(&abbrevs);
    let (die, target) = loop {
        let (_, entry) = entries.next_dfs().unwrap().expect("a pointer type");
        if entry.tag() != gimli::DW_TAG_pointer_type {
            continue;
        }
        if let Some(gimli::AttributeValue::UnitRef(target)) =
            entry.attr_value(gimli::DW_AT_type).unwrap()
        {
            break (entry.offset().0, target.0);
        }
    };
    let unit_start = header.offset().as_debug_info_offset().unwrap().0;
    // Its DW_AT_type (DW_FORM_ref4, within the DIE's few bytes) now names itself.
    let global = unit_start + die;
    let field = (global..global + 16)
        .find(|&i| info[i..i + 4] == (target as u32).to_le_bytes())
        .expect("the reference's bytes");
    data[info_at + field..info_at + field + 4].copy_from_slice(&(die as u32).to_le_bytes());

    let error = Debuginfo::parse(&data).unwrap().types().unwrap_err();
    assert_eq!(error.section, ".debug_info");
    assert_eq!(error.offset, global as u64, "{error}");
    assert!(error.what.contains("contains itself"), "{error}");
}

//! The fixture kernel's BTF with unreadable stretches (a dump cut short, a corrupt
//! page): the types before the first hole in the type section decode as they do
//! from the whole blob, references past it read as `void`, and a hole in the
//! string section costs only the types whose names lie in it.

#![allow(clippy::single_range_in_vec_init)]

mod common;

use coroner_types::{gdb, Btf, Type, TypeId, Types};

/// Whether a type of the damaged blob says what the whole blob's does, given
/// that references to lost ids (and to types made void) read as void.
fn agrees(damaged: &Types, whole: &Types, id: TypeId) -> bool {
    let (d, w) = (damaged.get(id).unwrap(), whole.get(id).unwrap());
    match (d, w) {
        (Type::Void, _) => true,
        _ => {
            std::mem::discriminant(d) == std::mem::discriminant(w)
                && damaged.name_of(id) == whole.name_of(id)
                && damaged
                    .size_of(id)
                    .is_none_or(|s| Some(s) == whole.size_of(id))
        }
    }
}

#[test]
fn a_cut_type_section_keeps_the_types_before_it() {
    let data = common::vmlinux_bytes();
    let whole = common::vmlinux();
    let w = whole.types();
    let hdr_len = u32::from_le_bytes(data[4..8].try_into().unwrap()) as usize;
    let types_len = u32::from_le_bytes(data[12..16].try_into().unwrap()) as usize;
    let mut last_kept = 0;
    for k in 1..=9 {
        let cut = hdr_len + types_len * k / 10;
        // One unreadable page at `cut`, everything else readable.
        let page = cut & !0xfff;
        let btf = Btf::parse_damaged(data, &[page..page + 4096]).unwrap();
        let damage = btf.damage().unwrap().clone();
        let first_lost = damage.first_lost_id.unwrap();
        assert!(first_lost > last_kept, "{damage}");
        last_kept = first_lost;
        assert!(damage.lost_at_least() > 0, "{damage}");
        assert_eq!(damage.unnamed, 0, "{damage}");
        let t = btf.types();
        for id in t.ids() {
            assert!(agrees(t, w, id), "cut {cut}: type {id:?}");
            gdb::type_name(t, id);
        }
        // Every kept BTF id maps as in the whole blob; lost ones map to nothing.
        for btf_id in (1..first_lost).step_by(97) {
            assert_eq!(btf.type_id(btf_id), whole.type_id(btf_id));
        }
        assert_eq!(btf.type_id(first_lost), None);
        assert!(t.len() < w.len());
    }
    // Cut at the end of the header: nothing but void, no failure.
    let btf = Btf::parse_damaged(data, &[hdr_len..data.len()]).unwrap();
    assert_eq!(btf.types().len(), 1);
    // The header itself is needed.
    assert!(Btf::parse_damaged(data, &[0..4096]).is_err());
}

#[test]
fn a_hole_in_the_strings_costs_the_types_named_there() {
    let data = common::vmlinux_bytes();
    let whole = common::vmlinux();
    let w = whole.types();
    let hdr_len = u32::from_le_bytes(data[4..8].try_into().unwrap()) as usize;
    let str_off = u32::from_le_bytes(data[16..20].try_into().unwrap()) as usize;
    let str_len = u32::from_le_bytes(data[20..24].try_into().unwrap()) as usize;
    let start = hdr_len + str_off;
    let page = (start + str_len / 2) & !0xfff;
    let btf = Btf::parse_damaged(data, &[page..page + 4096]).unwrap();
    let damage = btf.damage().unwrap();
    assert_eq!(damage.first_lost_id, None, "{damage}");
    assert!(damage.unnamed > 0, "{damage}");
    let t = btf.types();
    assert_eq!(t.len(), w.len());
    let voided = t
        .ids()
        .filter(|&id| matches!(t.get(id), Some(Type::Void)))
        .count();
    // A page holds names for a few hundred types at most.
    assert!(voided > 1 && voided < 2000, "{voided}");
    for id in t.ids() {
        assert!(agrees(t, w, id), "{id:?}");
    }
    let task = t.find("task_struct").unwrap();
    assert!(t.size_of(task).is_some());
}

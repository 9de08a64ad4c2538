//! Every BTF kind, written record by record as btf.rst describes it, decodes into
//! the model; in either byte order, with a longer header, and as split BTF.

mod common;

use std::sync::Arc;

use common::every_kind::{every_kind, Ids};
use common::writer::*;
use coroner_types::{
    gdb, Btf, ForwardKind, IntEncoding, Namespace, Qualifier, Type, TypeId, Types,
};

fn model_id(btf: &Btf, btf_id: u32) -> TypeId {
    btf.type_id(btf_id).unwrap()
}

fn check_every_kind(btf: &Btf, ids: &Ids) {
    let t = btf.types();
    let get = |id: u32| t.get(model_id(btf, id)).unwrap();
    let str_of = |n| t.str(n).to_string();

    let Type::Int(int) = get(ids.int) else {
        panic!()
    };
    assert_eq!(
        (
            str_of(int.name).as_str(),
            int.size,
            int.signed,
            int.encoding
        ),
        ("int", 4, true, IntEncoding::Number)
    );
    assert!(matches!(get(ids.char_), Type::Int(i) if i.encoding == IntEncoding::Char && !i.signed));
    assert!(matches!(get(ids.bool_), Type::Int(i) if i.encoding == IntEncoding::Bool));
    assert_eq!(t.pointer_size(), 8, "from long unsigned int");
    assert_eq!(t.size_of(model_id(btf, ids.ptr)), Some(8));
    assert_eq!(gdb::type_name(t, model_id(btf, ids.array)), "int [4]");
    assert_eq!(t.size_of(model_id(btf, ids.array)), Some(16));

    let s = model_id(btf, ids.s);
    assert_eq!(t.lookup(Namespace::Struct, "s"), Some(s));
    let flags = t.member(s, "flags").unwrap();
    assert_eq!((flags.byte_offset(), flags.bit_size), (4, Some(3)));
    let y = t.member(s, "y").unwrap();
    assert_eq!(
        (y.bit_offset, y.ty),
        (64, model_id(btf, ids.ulong)),
        "through the anonymous union"
    );
    assert_eq!(t.member(s, "arr[3]").unwrap().byte_offset(), 16 + 12);
    assert_eq!(t.member(s, "arr[4]"), None, "past the bound");
    assert!(matches!(get(ids.anon), Type::Union(u) if u.name.is_none()));

    let values = |id| match get(id) {
        Type::Enum(e) => e
            .values
            .iter()
            .map(|v| (str_of(v.name), v.value))
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        values(ids.signed_enum),
        [("MINUS_ONE".into(), -1), ("FIVE".into(), 5)]
    );
    assert_eq!(
        values(ids.unsigned_enum),
        [("ALL".into(), i128::from(u32::MAX))]
    );
    assert_eq!(values(ids.enum64), [("HUGE".into(), 0xffff_ffff_ffff_fffe)]);
    assert_eq!(values(ids.signed_enum64), [("MINUS_TWO".into(), -2)]);
    assert_eq!(t.size_of(model_id(btf, ids.enum64)), Some(8));

    assert!(matches!(get(ids.fwd_struct), Type::Forward(f) if f.kind == ForwardKind::Struct));
    assert!(matches!(get(ids.fwd_union), Type::Forward(f) if f.kind == ForwardKind::Union));
    assert_eq!(t.find("union ulater"), Some(model_id(btf, ids.fwd_union)));
    assert_eq!(t.find("s_t"), Some(model_id(btf, ids.typedef)));
    assert_eq!(t.resolve(model_id(btf, ids.typedef)), s);
    assert!(matches!(
        get(ids.volatile),
        Type::Qualified(Qualifier::Volatile, _)
    ));
    assert_eq!(
        gdb::type_name(t, model_id(btf, ids.const_ptr)),
        "int * const"
    );
    assert_eq!(
        gdb::type_name(t, model_id(btf, ids.restrict)),
        "int * restrict"
    );
    assert!(matches!(get(ids.tagged), Type::Qualified(Qualifier::Tag(n), _) if t.str(*n) == "rcu"));
    assert_eq!(
        gdb::type_name(t, model_id(btf, ids.tagged)),
        "int *",
        "gdb does not show tags"
    );

    let proto = model_id(btf, ids.proto);
    assert!(matches!(get(ids.proto), Type::Function(f) if f.variadic && f.params.len() == 1));
    assert_eq!(gdb::type_name(t, proto), "int (int * const, ...)");
    assert_eq!(t.function("printk"), Some(proto));
    assert_eq!(btf.type_id(ids.proto + 1), None, "a FUNC is not a type");
    assert_eq!(t.variable("counter"), Some(model_id(btf, ids.int)));
    assert_eq!(btf.type_id(ids.var), None);
    assert!(matches!(get(ids.float), Type::Float(f) if f.size == 8));

    let mode = t.member(model_id(btf, ids.old_style), "mode").unwrap();
    assert_eq!((mode.bit_offset, mode.bit_size), (10, Some(3)));
}

#[test]
fn every_kind_decodes() {
    let (blob, ids) = every_kind();
    let btf = Btf::parse(&blob.bytes()).unwrap();
    check_every_kind(&btf, &ids);
    assert_eq!(btf.end_id(), blob.peek_next_id());
}

#[test]
fn big_endian_blobs_and_longer_headers_decode_the_same() {
    let (mut blob, ids) = every_kind();
    let little = Btf::parse(&blob.bytes()).unwrap();
    blob.big_endian = true;
    let big = Btf::parse(&blob.bytes()).unwrap();
    check_every_kind(&big, &ids);
    blob.big_endian = false;
    blob.header_extra = 8;
    let longer = Btf::parse(&blob.bytes()).unwrap();
    check_every_kind(&longer, &ids);
    for other in [&big, &longer] {
        let (a, b) = (little.types(), other.types());
        assert_eq!(a.len(), b.len());
        for id in a.ids() {
            assert_eq!(a.get(id), b.get(id));
        }
    }
}

#[test]
fn a_32_bit_kernel_has_4_byte_pointers() {
    let mut b = Blob::new();
    let long = b.int("long int", 4, true);
    let ptr = b.ptr(long);
    let btf = Btf::parse(&b.bytes()).unwrap();
    assert_eq!(btf.types().size_of(btf.type_id(ptr).unwrap()), Some(4));
}

/// Split BTF numbers its ids after the base's and its string offsets after the
/// base's string section: a module's member may be named by a base string.
#[test]
fn split_btf_continues_ids_and_strings() {
    let mut base = Blob::new();
    let int = base.int("int", 4, true);
    let base_struct = base.composite(STRUCT, "shared", 4, &[("count", int, 0, 0)]);
    let base_bytes = base.bytes();
    let base_btf = Arc::new(Btf::parse(&base_bytes).unwrap());
    let base_strings = base_bytes.len() as u32 - 24 - 4 * base.words() as u32;

    let mut module = Blob::split(base_btf.end_id(), base_strings);
    let count_name = 1 + "int".len() as u32 + 1 + "shared".len() as u32 + 1; // base's "count"
    let name = module.string("mod_state");
    let own = module.record(
        name,
        STRUCT,
        2,
        false,
        8,
        &[0, base_struct, 0, count_name, int, 32],
    );
    let ptr = module.ptr(own);
    let split = Btf::parse_split(&base_btf, &module.bytes()).unwrap();
    let t: &Arc<Types> = split.types();

    assert_eq!(own, base_btf.end_id());
    assert_eq!(split.type_id(int), base_btf.type_id(int));
    let own_id = split.type_id(own).unwrap();
    assert_eq!(t.find("mod_state"), Some(own_id));
    assert_eq!(
        t.find("shared"),
        base_btf.type_id(base_struct),
        "the base's types are found too"
    );
    assert_eq!(
        t.member(own_id, "count").unwrap().byte_offset(),
        0,
        "through the anonymous member"
    );
    let second = &t.members(own_id)[1];
    assert_eq!(
        t.str(second.name.unwrap()),
        "count",
        "named by a base string"
    );
    assert_eq!(
        gdb::type_name(t, split.type_id(ptr).unwrap()),
        "struct mod_state *"
    );
    assert!(Arc::ptr_eq(t.base().unwrap(), base_btf.types()));
}

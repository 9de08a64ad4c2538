//! A BTF blob holding a record of every kind, as btf.rst describes them: decoded
//! by tests/btf_decode.rs, and a fuzz seed (fuzz/seeds/btf/every-kind).

use super::writer::*;

pub struct Ids {
    pub int: u32,
    pub char_: u32,
    pub bool_: u32,
    pub ulong: u32,
    pub ptr: u32,
    pub array: u32,
    pub s: u32,
    pub anon: u32,
    pub signed_enum: u32,
    pub unsigned_enum: u32,
    pub enum64: u32,
    pub signed_enum64: u32,
    pub fwd_struct: u32,
    pub fwd_union: u32,
    pub typedef: u32,
    pub volatile: u32,
    pub const_ptr: u32,
    pub restrict: u32,
    pub proto: u32,
    pub var: u32,
    pub float: u32,
    pub tagged: u32,
    pub old_style: u32,
}

/// One blob with a record of every BTF kind, and the ids they got.
pub fn every_kind() -> (Blob, Ids) {
    let mut b = Blob::new();
    let int = b.int("int", 4, true);
    let n = b.string("char");
    let char_ = b.record(n, INT, 0, false, 1, &[(2 << 24) | 8]);
    let n = b.string("_Bool");
    let bool_ = b.record(n, INT, 0, false, 1, &[(4 << 24) | 8]);
    let ulong = b.int("long unsigned int", 8, false);
    let ptr = b.ptr(int);
    let array = b.array(int, int, 4);
    // The anonymous union is declared after the struct that holds it.
    let anon = b.peek_next_id() + 1;
    let s = b.composite(
        STRUCT,
        "s",
        24,
        &[
            ("a", int, 0, 0),
            ("flags", int, 32, 3),
            ("", anon, 64, 0),
            ("arr", array, 128, 0),
        ],
    );
    assert_eq!(
        b.composite(UNION, "", 8, &[("x", int, 0, 0), ("y", ulong, 0, 0)]),
        anon
    );
    let enum_body = |b: &mut Blob, pairs: &[(&str, u32)]| {
        pairs
            .iter()
            .flat_map(|&(n, v)| [b.string(n), v])
            .collect::<Vec<u32>>()
    };
    let name = b.string("e");
    let values = enum_body(&mut b, &[("MINUS_ONE", -1i32 as u32), ("FIVE", 5)]);
    let signed_enum = b.record(name, ENUM, 2, true, 4, &values);
    let name = b.string("u");
    let values = enum_body(&mut b, &[("ALL", u32::MAX)]);
    let unsigned_enum = b.record(name, ENUM, 1, false, 4, &values);
    let (name, value) = (b.string("big"), b.string("HUGE"));
    let enum64 = b.record(
        name,
        ENUM64,
        1,
        false,
        8,
        &[value, 0xffff_fffe, 0xffff_ffff],
    );
    let (name, value) = (b.string("sbig"), b.string("MINUS_TWO"));
    let signed_enum64 = b.record(name, ENUM64, 1, true, 8, &[value, 0xffff_fffe, 0xffff_ffff]);
    let name = b.string("later");
    let fwd_struct = b.record(name, FWD, 0, false, 0, &[]);
    let name = b.string("ulater");
    let fwd_union = b.record(name, FWD, 0, true, 0, &[]);
    let typedef = b.typedef("s_t", s);
    let volatile = b.record(0, VOLATILE, 0, false, int, &[]);
    let const_ptr = b.record(0, CONST, 0, false, ptr, &[]);
    let restrict = b.record(0, RESTRICT, 0, false, ptr, &[]);
    let proto = b.proto(int, &[("fmt", const_ptr), ("", 0)]);
    let name = b.string("printk");
    let func = b.record(name, FUNC, 1, false, proto, &[]);
    let name = b.string("counter");
    let var = b.record(name, VAR, 0, false, int, &[1]);
    let name = b.string(".data..percpu");
    b.record(name, DATASEC, 1, false, 4, &[var, 0, 4]);
    let name = b.string("double");
    let float = b.record(name, FLOAT, 0, false, 8, &[]);
    let name = b.string("bpf_kfunc");
    b.record(name, DECL_TAG, 0, false, func, &[u32::MAX]);
    let name = b.string("rcu");
    let tagged = b.record(name, TYPE_TAG, 0, false, ptr, &[]);
    // kind_flag 0: a bitfield is a member whose INT has fewer bits than its size
    // (3 bits here, starting 2 bits into the member's offset).
    let name = b.string("unsigned int");
    let three_bits = b.record(name, INT, 0, false, 4, &[(2 << 16) | 3]);
    let (name, member) = (b.string("old"), b.string("mode"));
    let old_style = b.record(name, STRUCT, 1, false, 4, &[member, three_bits, 8]);
    let ids = Ids {
        int,
        char_,
        bool_,
        ulong,
        ptr,
        array,
        s,
        anon,
        signed_enum,
        unsigned_enum,
        enum64,
        signed_enum64,
        fwd_struct,
        fwd_union,
        typedef,
        volatile,
        const_ptr,
        restrict,
        proto,
        var,
        float,
        tagged,
        old_style,
    };
    (b, ids)
}

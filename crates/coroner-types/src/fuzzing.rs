//! The `btf` fuzz target's entry point: any bytes, decoded as a kernel's BTF (whole
//! and with a damaged middle) and as split BTF on a base, and every type of what decodes walked the ways
//! coroner walks types (sizes, alignment, names, lookups, `struct -o`).

use std::sync::Arc;

use crate::crash::{struct_offsets, Radix};
use crate::{gdb, Btf, Type, Types};

/// Returns how many types decoded (so seed replays can tell real seeds work).
/// The kernel form is also decoded as damaged BTF, its middle 64 bytes unreadable.
pub fn fuzz_btf(data: &[u8], base: &Arc<Btf>) -> usize {
    let middle = data.len() / 2;
    [
        Btf::parse(data),
        Btf::parse_split(base, data),
        Btf::parse_damaged(data, std::slice::from_ref(&(middle..middle + 64))),
    ]
    .iter()
    .flatten()
    .map(|btf| walk(btf.types()))
    .sum()
}

fn walk(types: &Types) -> usize {
    let mut count = 0;
    for id in types.ids() {
        types.size_of(id);
        types.alignment(id);
        gdb::type_name(types, id);
        if let Some(name) = types.name_of(id) {
            types.find(name);
        }
        if let Some(Type::Struct(c) | Type::Union(c)) = types.get(id) {
            struct_offsets(types, id, Radix::Decimal);
            for name in c.members.iter().filter_map(|m| m.name) {
                types.member(id, types.str(name));
            }
        }
        count += 1;
    }
    count
}

//! The `dwarf` fuzz target's entry point: any bytes as an ELF file, its DWARF
//! types read and every one walked the ways coroner walks types (sizes, C
//! declarations, `struct -o`), its symbols listed and each looked up as a line
//! (addr2line's frames, and gdb's per-instruction rows over the symbol's extent).

use coroner_types::crash::{struct_offsets, Radix};
use coroner_types::{gdb, Type};

use crate::Debuginfo;

/// Returns how many types were read (so seed replays can tell real seeds work).
pub fn fuzz_dwarf(data: &[u8]) -> usize {
    let Ok(debuginfo) = Debuginfo::parse(data) else {
        return 0;
    };
    if let (Ok(symbols), Ok(lines)) = (debuginfo.symbols(), debuginfo.lines()) {
        for symbol in symbols {
            let _ = lines.frames(symbol.address);
            let end = symbol.address.saturating_add(symbol.size.max(1));
            let _ = debuginfo.line_rows(symbol.address, end);
        }
    }
    let Ok(dwarf) = debuginfo.types() else {
        return 0;
    };
    let types = &dwarf.types;
    for id in types.ids() {
        types.size_of(id);
        gdb::type_name(types, id);
        if let Some(Type::Struct(_) | Type::Union(_)) = types.get(id) {
            struct_offsets(types, id, Radix::Decimal);
            gdb::ptype(types, id);
        }
    }
    types.ids().count()
}

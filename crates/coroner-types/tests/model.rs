//! The model built by hand, as a DWARF reader would build it: the same lookups,
//! layout and printing serve it, and the builder refuses what would break them.

use coroner_types::crash::{struct_offsets, Radix};
use coroner_types::{
    gdb, Array, Composite, Enum, Enumerator, Forward, ForwardKind, Function, Int, IntEncoding,
    Member, ModelError, Namespace, Param, Qualifier, Type, TypeId, Typedef, Types, TypesBuilder,
};

struct Kit {
    b: TypesBuilder,
}

impl Kit {
    fn new() -> Kit {
        Kit {
            b: TypesBuilder::new(),
        }
    }
    fn int(&mut self, name: &str, size: u32, signed: bool) -> TypeId {
        let name = self.b.intern(name).unwrap();
        self.b
            .add(Type::Int(Int {
                name,
                size,
                signed,
                encoding: IntEncoding::Number,
            }))
            .unwrap()
    }
    fn add(&mut self, ty: Type) -> TypeId {
        self.b.add(ty).unwrap()
    }
    fn ptr(&mut self, target: TypeId) -> TypeId {
        self.add(Type::Pointer(target))
    }
    fn array(&mut self, element: TypeId, count: Option<u64>) -> TypeId {
        self.add(Type::Array(Array { element, count }))
    }
    fn qualified(&mut self, q: Qualifier, target: TypeId) -> TypeId {
        self.add(Type::Qualified(q, target))
    }
    fn function(&mut self, ret: TypeId, params: &[TypeId], variadic: bool) -> TypeId {
        let params = params.iter().map(|&ty| Param { name: None, ty }).collect();
        self.add(Type::Function(Function {
            ret,
            params,
            variadic,
        }))
    }
    /// Members as (name, type, bit offset, bitfield width); "" is anonymous.
    fn members(&mut self, members: &[(&str, TypeId, u64, u32)]) -> Vec<Member> {
        members
            .iter()
            .map(|&(name, ty, bit_offset, bits)| Member {
                name: (!name.is_empty()).then(|| self.b.intern(name).unwrap()),
                ty,
                bit_offset,
                bit_size: (bits > 0).then_some(bits),
            })
            .collect()
    }
    fn composite(
        &mut self,
        name: &str,
        size: u64,
        align: Option<u64>,
        members: &[(&str, TypeId, u64, u32)],
    ) -> Composite {
        Composite {
            name: (!name.is_empty()).then(|| self.b.intern(name).unwrap()),
            size,
            align,
            members: self.members(members),
        }
    }
    fn structure(&mut self, name: &str, size: u64, members: &[(&str, TypeId, u64, u32)]) -> TypeId {
        let c = self.composite(name, size, None, members);
        self.add(Type::Struct(c))
    }
    fn union(&mut self, name: &str, size: u64, members: &[(&str, TypeId, u64, u32)]) -> TypeId {
        let c = self.composite(name, size, None, members);
        self.add(Type::Union(c))
    }
}

/// A struct using every declarator shape gdb knows.
fn declarators() -> (Types, TypeId) {
    let mut k = Kit::new();
    let int = k.int("int", 4, true);
    let long = k.int("long int", 8, true);
    let char_ = k.int("char", 1, true);
    let handler = k.function(TypeId::VOID, &[int], false);
    let handler_ptr = k.ptr(handler);
    let handlers = k.array(handler_ptr, Some(4));
    let ints = k.array(int, Some(4));
    let table = k.ptr(ints);
    let char_ptr = k.ptr(char_);
    let const_char_ptr = k.qualified(Qualifier::Const, char_ptr);
    let volatile_int = k.qualified(Qualifier::Volatile, int);
    let const_volatile_int = k.qualified(Qualifier::Const, volatile_int);
    let inner_fn = k.function(TypeId::VOID, &[long], false);
    let inner_ptr = k.ptr(inner_fn);
    let getter = k.function(inner_ptr, &[int], false);
    let getter_ptr = k.ptr(getter);
    let variadic = k.function(int, &[char_ptr], true);
    let variadic_ptr = k.ptr(variadic);
    let grid_row = k.array(int, Some(3));
    let grid = k.array(grid_row, Some(2));
    let tail = k.array(long, None);
    let (a, b) = (k.b.intern("A").unwrap(), k.b.intern("B").unwrap());
    let mode = k.add(Type::Enum(Enum {
        name: None,
        size: 4,
        signed: false,
        values: vec![
            Enumerator { name: a, value: 1 },
            Enumerator { name: b, value: 2 },
        ],
    }));
    let s = k.structure(
        "shapes",
        160,
        &[
            ("handlers", handlers, 0, 0),
            ("table", table, 256, 0),
            ("name", const_char_ptr, 320, 0),
            ("flag", const_volatile_int, 384, 0),
            ("get", getter_ptr, 448, 0),
            ("log", variadic_ptr, 512, 0),
            ("grid", grid, 576, 0),
            ("mode", mode, 768, 2),
            ("tail", tail, 1280, 0),
        ],
    );
    (k.b.finish().unwrap(), s)
}

#[test]
fn declarators_print_as_gdb_prints_them() {
    let (types, s) = declarators();
    assert_eq!(
        gdb::ptype(&types, s),
        "struct shapes {
    void (*handlers[4])(int);
    int (*table)[4];
    char * const name;
    const volatile int flag;
    void (*(*get)(int))(long);
    int (*log)(char *, ...);
    int grid[2][3];
    enum {A = 1, B} mode : 2;
    long tail[];
}"
    );
    let member_type = |name: &str| gdb::type_name(&types, types.member(s, name).unwrap().ty);
    assert_eq!(member_type("handlers"), "void (*[4])(int)");
    assert_eq!(member_type("get"), "void (*(*)(int))(long)");
    assert_eq!(member_type("mode"), "enum {...}");
}

#[test]
fn struct_offsets_marks_each_member_line() {
    let (types, s) = declarators();
    let text = struct_offsets(&types, s, Radix::Decimal).unwrap();
    assert!(text.starts_with(
        "struct shapes {\n    [0] void (*handlers[4])(int);\n   [32] int (*table)[4];\n"
    ));
    assert!(text.contains("   [96] enum {A = 1, B} mode : 2;\n"));
    assert!(text.contains("  [160] long tail[];\n}\nSIZE: 160\n"));
    let hex = struct_offsets(&types, s, Radix::Hex).unwrap();
    assert!(hex.contains("\n  [0x20] int (*table)[4];\n"), "{hex}");
    assert!(
        hex.ends_with("  [0xa0] long tail[];\n}\nSIZE: 0xa0\n"),
        "{hex}"
    );
}

#[test]
fn layout_answers_sizes_alignment_and_paths() {
    let mut k = Kit::new();
    let char_ = k.int("char", 1, true);
    let short = k.int("short int", 2, true);
    let int = k.int("int", 4, true);
    let long = k.int("long int", 8, true);
    let ptr = k.ptr(char_);
    let pair = k.structure("pair", 16, &[("a", int, 0, 0), ("b", long, 64, 0)]);
    let pairs = k.array(pair, Some(3));
    let anon = k.union("", 8, &[("word", long, 0, 0), ("half", int, 0, 0)]);
    let holder = k.structure(
        "holder",
        72,
        &[
            ("c", char_, 0, 0),
            ("", anon, 64, 0),
            ("pairs", pairs, 128, 0),
            ("p", ptr, 512, 0),
        ],
    );
    let packed = k.structure("packed", 5, &[("c", char_, 0, 0), ("i", int, 8, 0)]);
    let bits = k.structure("bits", 4, &[("lo", int, 0, 3), ("hi", int, 3, 29)]);
    let aligned_composite = k.composite("cacheline", 0, Some(64), &[]);
    let aligned = k.add(Type::Struct(aligned_composite));
    let huge_composite = k.composite("huge", 0, Some(1 << 62), &[]);
    let huge = k.add(Type::Struct(huge_composite));
    let holds_huge = k.structure("holds_huge", 0, &[("h", huge, 0, 0), ("c", char_, 0, 0)]);
    let name = k.b.intern("holder_t").unwrap();
    let typedef = k.add(Type::Typedef(Typedef {
        name,
        target: holder,
    }));
    let shorts = k.array(short, Some(5));
    let types = k.b.finish().unwrap();

    assert_eq!(types.size_of(holder), Some(72));
    assert_eq!(types.size_of(typedef), Some(72), "through the typedef");
    assert_eq!(types.size_of(pairs), Some(48));
    assert_eq!(types.size_of(TypeId::VOID), None);
    assert_eq!(types.alignment(holder), Some(8));
    assert_eq!(types.alignment(shorts), Some(2));
    assert_eq!(
        types.alignment(packed),
        Some(1),
        "a misplaced int means packed"
    );
    assert_eq!(
        types.alignment(bits),
        Some(4),
        "bitfields count their base type"
    );
    assert_eq!(types.alignment(aligned), Some(64), "recorded by the source");
    assert_eq!(
        types.alignment(holds_huge),
        Some(1 << 62),
        "no overflow near 2^64"
    );

    let field = types.member(typedef, "half").unwrap();
    assert_eq!(
        (field.byte_offset(), field.ty),
        (8, int),
        "through the anonymous union"
    );
    assert_eq!(
        types.member(holder, "pairs[2].b").unwrap().byte_offset(),
        16 + 32 + 8
    );
    assert_eq!(types.member(holder, "pairs[3]"), None, "past the bound");
    assert_eq!(types.member(holder, "pairs[x]"), None);
    assert_eq!(
        types.member(holder, "p.x"),
        None,
        "no members through a pointer"
    );
    assert_eq!(types.member(holder, "nothing"), None);
    let hi = types.member(bits, "hi").unwrap();
    assert_eq!(
        (hi.byte_offset(), hi.bit_in_byte(), hi.bit_size),
        (0, 3, Some(29))
    );
    assert_eq!(types.offset_of("holder", "word"), Some(8));
    assert_eq!(types.offset_of("holder_t", "pairs[1].a"), Some(32));
}

#[test]
fn lookups_separate_name_spaces_and_prefer_definitions() {
    let mut k = Kit::new();
    let int = k.int("int", 4, true);
    let name = k.b.intern("node").unwrap();
    let forward = k.add(Type::Forward(Forward {
        name,
        kind: ForwardKind::Struct,
    }));
    let node = k.structure("node", 4, &[("value", int, 0, 0)]);
    let node_union = k.union("node", 4, &[("value", int, 0, 0)]);
    let name = k.b.intern("node").unwrap();
    let typedef = k.add(Type::Typedef(Typedef { name, target: int }));
    let proto = k.function(int, &[int], false);
    let fname = k.b.intern("compute").unwrap();
    k.b.add_function(fname, proto);
    let vname = k.b.intern("counter").unwrap();
    k.b.add_variable(vname, int);
    let types = k.b.finish().unwrap();

    assert_eq!(
        types.lookup(Namespace::Struct, "node"),
        Some(node),
        "not the forward {forward}"
    );
    assert_eq!(types.lookup(Namespace::Union, "node"), Some(node_union));
    assert_eq!(types.lookup(Namespace::Typedef, "node"), Some(typedef));
    assert_eq!(
        types.find("node"),
        Some(node),
        "a struct first, as crash's struct command"
    );
    assert_eq!(types.find("union node"), Some(node_union));
    assert_eq!(types.find("enum node"), None);
    assert_eq!(types.function("compute"), Some(proto));
    assert_eq!(types.variable("counter"), Some(int));
    assert_eq!(types.name_of(node), Some("node"));
    assert_eq!(types.len(), 7);
}

#[test]
fn a_stacked_layer_sees_its_base() {
    let mut k = Kit::new();
    let int = k.int("int", 4, true);
    let base = std::sync::Arc::new(k.b.finish().unwrap());
    let mut layer = Kit {
        b: TypesBuilder::on(base.clone()).unwrap(),
    };
    let own = layer.structure("own", 4, &[("x", int, 0, 0)]);
    let types = layer.b.finish().unwrap();
    assert_eq!(own.index(), 2, "ids continue after void and int");
    assert_eq!(types.get(int), base.get(int));
    assert_eq!(gdb::ptype(&types, own), "struct own {\n    int x;\n}");
    assert_eq!(types.ids().collect::<Vec<_>>(), [own]);
}

#[test]
fn the_builder_refuses_what_would_break_walks() {
    // An id of another, larger set of types.
    let mut larger = Kit::new();
    larger.ptr(TypeId::VOID);
    let dangling = larger.ptr(TypeId::VOID);
    let mut broken = Kit::new();
    let p = broken.array(dangling, Some(1));
    assert_eq!(
        broken.b.finish().unwrap_err(),
        ModelError::Dangling {
            ty: p,
            target: dangling
        }
    );

    let mut k = Kit::new();
    let int = k.int("int", 4, true);
    let name = k.b.intern("not_a_function").unwrap();
    k.b.add_function(name, int);
    assert!(matches!(
        k.b.finish().unwrap_err(),
        ModelError::WrongKind { .. }
    ));

    let mut k = Kit::new();
    let next = k.b.next_id();
    let s = k.structure("loop", 8, &[("self_by_value", next, 0, 0)]);
    assert_eq!(k.b.finish().unwrap_err(), ModelError::Cycle { ty: s });
}

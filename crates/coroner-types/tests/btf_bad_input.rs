//! Corrupt BTF: every defect is an error naming the byte where it was found, never
//! a panic, a hang, or memory out of proportion to the input (a counting
//! allocator watches every parse here).

mod common;

use coroner_testdata::CountingAllocator;
use std::sync::Arc;

use common::writer::*;
use coroner_types::{crash, gdb, Btf, BtfError, Type, MAX_NESTING};

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

/// Parses, renders every type of a successful parse, and checks the heap stayed
/// within a multiple of the input (tests run in parallel, so the bound is loose).
fn parse_bounded(data: &[u8]) -> Result<Btf, BtfError> {
    let mark = HEAP.mark();
    let result = Btf::parse(data);
    if let Ok(btf) = &result {
        exercise(btf);
    }
    let peak = HEAP.peak_since(mark);
    assert!(
        peak < 40 * data.len() + (64 << 20),
        "peak heap {peak} for {} bytes",
        data.len()
    );
    if let Err(e) = &result {
        assert!(
            e.offset <= data.len(),
            "{e} points past the {} bytes",
            data.len()
        );
    }
    result
}

fn exercise(btf: &Btf) {
    let t = btf.types();
    for id in t.ids() {
        t.size_of(id);
        t.alignment(id);
        gdb::type_name(t, id);
        if let Some(Type::Struct(_) | Type::Union(_)) = t.get(id) {
            crash::struct_offsets(t, id, crash::Radix::Decimal);
        }
    }
}

fn err(data: &[u8]) -> BtfError {
    parse_bounded(data).expect_err("corrupt BTF must not parse")
}

#[test]
fn header_defects_name_their_field() {
    let mut b = Blob::new();
    b.int("int", 4, true);
    let good = b.bytes();
    assert!(parse_bounded(&good).is_ok());

    assert_eq!(err(&good[..23]).offset, 0, "shorter than a header");
    let mut bad = good.clone();
    bad[0] = 0;
    assert!(err(&bad).what.contains("magic"));
    let mut bad = good.clone();
    bad[2] = 2;
    assert_eq!(err(&bad).offset, 2, "version");
    let mut bad = good.clone();
    bad[4..8].copy_from_slice(&4u32.to_le_bytes());
    assert_eq!(err(&bad).offset, 4, "header length below 24");
    let mut bad = good.clone();
    bad[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(err(&bad).offset, 8, "type section past the end");
    let mut bad = good.clone();
    bad[16..20].copy_from_slice(&1_000_000u32.to_le_bytes());
    assert_eq!(err(&bad).offset, 16, "string section past the end");
    let mut bad = good.clone();
    *bad.last_mut().unwrap() = b'x';
    assert!(err(&bad).what.contains("NUL"));
    let strings_at = b.word_offset(b.words());
    let mut bad = good.clone();
    bad[strings_at] = b'x';
    assert_eq!(
        err(&bad).offset,
        strings_at,
        "strings must start with the empty string"
    );
}

#[test]
fn every_cut_of_a_real_module_blob_is_handled() {
    let base = common::vmlinux();
    let module = common::module_bytes();
    for len in 0..module.len() {
        let cut = &module[..len];
        if let Err(e) = Btf::parse_split(&base, cut) {
            assert!(e.offset <= len, "{e}");
        }
        if let Err(e) = parse_bounded(cut) {
            assert!(e.offset <= len, "{e}");
        }
    }
}

#[test]
fn cuts_of_the_kernel_blob_fail_cleanly() {
    let full = common::vmlinux_bytes();
    // A cut inside the type section leaves the header pointing past the end.
    for len in [24, 25, 4096, 100_000, full.len() / 2, full.len() - 1] {
        let e = err(&full[..len]);
        assert!(e.offset <= len, "{e}");
    }
}

#[test]
fn absurd_counts_are_refused_before_anything_is_allocated() {
    let mut b = Blob::new();
    let int = b.int("int", 4, true);
    let n = b.string("huge");
    // vlen 0xffffff members (12 bytes each, 200 MB) in a blob of a few dozen bytes.
    let rec = b.record(n, STRUCT, 0xff_ffff, true, 4, &[0, int, 0]);
    let e = err(&b.bytes());
    assert_eq!(e.offset, b.word_offset(4), "the record of type {rec}: {e}");
    assert!(e.what.contains("vlen 16777215"), "{e}");
}

#[test]
fn unknown_kinds_and_bad_references_are_errors() {
    let mut b = Blob::new();
    b.record(0, 20, 0, false, 0, &[]);
    let e = err(&b.bytes());
    assert_eq!(
        (e.offset, e.what.as_str()),
        (b.word_offset(0) + 4, "unknown BTF kind 20")
    );

    let mut b = Blob::new();
    let int = b.int("int", 4, true);
    b.ptr(99);
    let e = err(&b.bytes());
    assert_eq!(e.offset, b.word_offset(4 + 2), "the pointer's type word");
    assert!(e.what.contains("type id 99"), "{e}");

    let mut b = Blob::new();
    let proto = b.proto(int, &[]);
    let n = b.string("f");
    let func = b.record(n, FUNC, 0, false, proto, &[]);
    b.ptr(func);
    let e = err(&b.bytes());
    assert!(e.what.contains("FUNC, not a type"), "{e}");

    let mut b = Blob::new();
    b.record(0, PTR, 0, false, 0, &[]);
    let n = b.string("f");
    b.record(n, FUNC, 0, false, 1, &[]);
    let e = err(&b.bytes());
    assert!(e.what.contains("not a FUNC_PROTO"), "{e}");

    let mut b = Blob::new();
    let int = b.int("int", 4, true);
    b.proto(int, &[("a", 0), ("b", int)]);
    assert!(err(&b.bytes()).what.contains("parameter 0 has type void"));
}

#[test]
fn names_must_start_a_string_inside_the_section() {
    let mut b = Blob::new();
    b.record(10_000, TYPEDEF, 0, false, 0, &[]);
    let e = err(&b.bytes());
    assert_eq!(e.offset, b.word_offset(0), "the name offset word");
    assert!(e.what.contains("name offset 10000"), "{e}");

    let mut b = Blob::new();
    let e_acute = b.string("é");
    b.record(e_acute + 1, TYPEDEF, 0, false, 0, &[]);
    assert!(err(&b.bytes()).what.contains("does not start a string"));
}

#[test]
fn types_that_contain_themselves_are_refused() {
    // typedef a -> typedef b -> typedef a
    let mut b = Blob::new();
    b.typedef("a", 2);
    b.typedef("b", 1);
    let e = err(&b.bytes());
    assert!(e.what.contains("contains itself"), "{e}");
    assert!(
        [b.word_offset(0), b.word_offset(3)].contains(&e.offset),
        "{e}"
    );

    // struct s { struct s inner; }
    let mut b = Blob::new();
    b.composite(STRUCT, "s", 4, &[("inner", 1, 0, 0)]);
    assert!(err(&b.bytes()).what.contains("contains itself"));

    // const -> volatile -> const
    let mut b = Blob::new();
    b.record(0, CONST, 0, false, 2, &[]);
    b.record(0, VOLATILE, 0, false, 1, &[]);
    assert!(err(&b.bytes()).what.contains("contains itself"));

    // A pointer to itself never reaches a named type: no C declaration spells it.
    let mut b = Blob::new();
    b.ptr(1);
    assert!(err(&b.bytes()).what.contains("contains itself"));

    // An array of itself.
    let mut b = Blob::new();
    let int = b.int("int", 4, true);
    b.array(2, int, 3);
    assert!(err(&b.bytes()).what.contains("contains itself"));
}

/// `typedef T *T;` loops without a tag, which C cannot write.
#[test]
fn typedef_loops_through_pointers_are_refused() {
    let mut b = Blob::new();
    let typedef = b.peek_next_id();
    b.typedef("T", typedef + 1);
    b.ptr(typedef);
    assert!(err(&b.bytes()).what.contains("contains itself"));
}

/// C has unnamed members only of struct or union type. A corrupt unnamed pointer
/// to its own struct (found by fuzzing: the fuzz seed
/// regress-unnamed-pointer-member) must print as a pointer, not expand forever.
#[test]
fn an_unnamed_pointer_member_prints_as_a_pointer() {
    let mut b = Blob::new();
    let s = b.peek_next_id();
    b.composite(STRUCT, "node", 8, &[("", s + 1, 0, 0)]);
    b.ptr(s);
    let btf = parse_bounded(&b.bytes()).unwrap();
    let t = btf.types();
    assert_eq!(
        gdb::ptype(t, t.find("node").unwrap()),
        "struct node {\n    struct node *;\n}"
    );
}

#[test]
fn named_cycles_through_pointers_are_fine() {
    // struct list_head { struct list_head *next, *prev; }
    let mut b = Blob::new();
    let head = b.peek_next_id();
    let ptr = head + 1;
    b.composite(
        STRUCT,
        "list_head",
        16,
        &[("next", ptr, 0, 0), ("prev", ptr, 64, 0)],
    );
    b.ptr(head);
    let btf = parse_bounded(&b.bytes()).unwrap();
    let t = btf.types();
    assert_eq!(t.size_of(t.find("list_head").unwrap()), Some(16));
}

/// A chain just under the cap parses and prints on a test thread's 2 MiB stack:
/// anonymous structs inside each other (printing recurses per level), the
/// innermost holding a pointer to a pointer to ... (declarators recurse per
/// level); one declarator runs through both, so they share the cap.
#[test]
fn nesting_up_to_the_cap_prints() {
    let half = MAX_NESTING as usize / 2 - 2;
    let mut b = Blob::new();
    let int = b.int("int", 4, true);
    let mut pointer = int;
    for _ in 0..half {
        pointer = b.ptr(pointer);
    }
    let mut inner = b.composite(
        STRUCT,
        "",
        12,
        &[("leaf", int, 0, 0), ("p", pointer, 32, 0)],
    );
    for _ in 0..half {
        inner = b.composite(STRUCT, "", 12, &[("", inner, 0, 0)]);
    }
    b.composite(STRUCT, "deep", 12, &[("", inner, 0, 0)]);
    let btf = parse_bounded(&b.bytes()).unwrap();
    let t = btf.types();
    let deep = t.find("deep").unwrap();
    assert_eq!(t.member(deep, "p").unwrap().byte_offset(), 4);
    let text = crash::struct_offsets(t, deep, crash::Radix::Decimal).unwrap();
    let stars = "*".repeat(half);
    let line = text
        .lines()
        .find(|l| l.ends_with(&format!(" int {stars}p;")))
        .unwrap();
    assert!(line.starts_with("   [4] "), "{line}");
    assert!(!text.contains("<truncated>"));
}

#[test]
fn nesting_deeper_than_the_cap_is_refused() {
    let mut b = Blob::new();
    let int = b.int("int", 4, true);
    let mut last = int;
    for _ in 0..MAX_NESTING + 5 {
        last = b.record(0, CONST, 0, false, last, &[]);
    }
    let e = err(&b.bytes());
    assert!(e.what.contains("nests more than"), "{e}");
}

/// Anonymous structs shared many times over: each of 60 levels holds the next
/// twice, so spelling the outermost out would take 2^60 lines. Lookups, layout
/// and printing must still take time in proportion to the input.
#[test]
fn shared_anonymous_types_cost_no_exponential_work() {
    let mut b = Blob::new();
    let int = b.int("int", 4, true);
    let mut inner = b.composite(STRUCT, "", 4, &[("leaf", int, 0, 0)]);
    for _ in 0..60 {
        inner = b.composite(UNION, "", 4, &[("", inner, 0, 0), ("", inner, 0, 0)]);
    }
    b.composite(
        STRUCT,
        "top",
        4,
        &[("", inner, 0, 0), ("named", inner, 0, 0)],
    );
    let started = std::time::Instant::now();
    let btf = parse_bounded(&b.bytes()).unwrap();
    let t = btf.types();
    let top = t.find("top").unwrap();
    assert_eq!(t.member(top, "leaf").unwrap().byte_offset(), 0);
    assert_eq!(t.member(top, "missing"), None);
    assert_eq!(t.alignment(top), Some(4));
    let text = crash::struct_offsets(t, top, crash::Radix::Decimal).unwrap();
    assert!(text.contains("<truncated>"), "the printing budget ran out");
    assert!(
        started.elapsed().as_secs() < 10,
        "took {:?}",
        started.elapsed()
    );
}

/// Deterministic byte flips over the real module's split BTF, on the real kernel's.
#[test]
fn random_corruption_of_split_btf_is_handled() {
    let base: Arc<Btf> = common::vmlinux();
    let module = common::module_bytes();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut parsed, mut failed) = (0, 0);
    for _ in 0..3000 {
        let mut data = module.clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() % data.len() as u64) as usize;
            data[at] = next() as u8;
        }
        match Btf::parse_split(&base, &data) {
            Ok(btf) => {
                exercise(&btf);
                parsed += 1;
            }
            Err(e) => {
                assert!(e.offset <= data.len(), "{e}");
                failed += 1;
            }
        }
    }
    assert!(
        parsed > 100 && failed > 100,
        "{parsed} parsed, {failed} failed"
    );
}

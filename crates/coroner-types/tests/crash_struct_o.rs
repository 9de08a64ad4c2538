//! The model against crash 8.0.2 with full DWARF: for every recorded `struct -o`
//! (tests/data/crash-struct-o), BTF gives the same member offsets and size, and
//! coroner renders the same text.

mod common;

use coroner_types::crash::{struct_offsets, Radix};
use coroner_types::{Namespace, TypeId, Types};

struct Reference {
    file: String,
    text: String,
    namespace: Namespace,
    name: String,
    radix: Radix,
    module: bool,
}

fn references() -> Vec<Reference> {
    let dir = common::data_dir().join("crash-struct-o");
    let mut refs = Vec::new();
    for (folder, module) in [(dir.clone(), false), (dir.join("qemu_fw_cfg"), true)] {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let file = path.file_name().unwrap().to_str().unwrap().to_string();
            let Some(stem) = file.strip_suffix(".txt") else {
                continue;
            };
            let (stem, radix) = match stem.strip_suffix(".hex") {
                Some(s) => (s, Radix::Hex),
                None => (stem, Radix::Decimal),
            };
            let (namespace, name) = match stem.strip_prefix("union-") {
                Some(u) => (Namespace::Union, u),
                None => (Namespace::Struct, stem),
            };
            let name = name.to_string();
            refs.push(Reference {
                text: std::fs::read_to_string(&path).unwrap(),
                file,
                namespace,
                name,
                radix,
                module,
            });
        }
    }
    refs.sort_by(|a, b| a.file.cmp(&b.file));
    assert_eq!(refs.len(), 68, "reference files");
    refs
}

/// The member a line of crash's output is about, read independently of the
/// printer: the word before ` : `, inside `(*...)`, or the last one.
fn line_member(line: &str) -> &str {
    let decl = line.trim_end_matches(';');
    let word = if let Some((left, _)) = decl.split_once(" : ") {
        left.rsplit(' ').next().unwrap()
    } else if let Some(at) = decl.find("(*") {
        &decl[at + 2..decl[at..].find(')').unwrap() + at]
    } else {
        decl.rsplit(' ').next().unwrap()
    };
    word.trim_start_matches('*').split('[').next().unwrap()
}

fn parse_number(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
        None => s.parse().unwrap(),
    }
}

fn find(r: &Reference) -> (std::sync::Arc<Types>, TypeId) {
    let types = if r.module {
        common::module().types().clone()
    } else {
        common::vmlinux().types().clone()
    };
    let id = types
        .lookup(r.namespace, &r.name)
        .unwrap_or_else(|| panic!("{}: no {:?} {}", r.file, r.namespace, r.name));
    (types, id)
}

#[test]
fn member_offsets_and_sizes_equal_crash() {
    let mut checked = 0;
    for r in references() {
        let (types, id) = find(&r);
        for line in r.text.lines() {
            if let Some(size) = line.strip_prefix("SIZE: ") {
                assert_eq!(
                    types.size_of(id),
                    Some(parse_number(size)),
                    "{}: size",
                    r.file
                );
                continue;
            }
            let Some((offset, rest)) = line
                .trim_start()
                .strip_prefix('[')
                .and_then(|l| l.split_once(']'))
            else {
                continue;
            };
            let name = line_member(rest.trim());
            let found = types
                .member_named(id, name)
                .unwrap_or_else(|| panic!("{}: no member {name}", r.file));
            assert_eq!(
                found.bit_offset / 8,
                parse_number(offset),
                "{}: {name}",
                r.file
            );
            checked += 1;
        }
    }
    assert!(checked > 2500, "only {checked} offsets checked");
}

/// Lines where BTF cannot tell what DWARF tells crash: BTF stores `T x[0]` (a GNU
/// zero-length array) and `T x[]` (a flexible array member) both as 0 elements.
/// coroner prints `[]` for a zero-length array that ends a struct (where C allows
/// the flexible form, which the 6.1 kernel uses for five of the six recorded here)
/// and `[0]` elsewhere; kfifo's `buf[0]` is the one trailing `[0]`.
const BTF_CANNOT_TELL: &[(&str, &str, &str)] = &[(
    "tty_port.txt",
    "    [0]     unsigned char buf[0];",
    "    [0]     unsigned char buf[];",
)];

#[test]
fn rendering_equals_crash_byte_for_byte() {
    let mut differ = Vec::new();
    let mut known = 0;
    for r in references() {
        let (types, id) = find(&r);
        let ours = struct_offsets(&types, id, r.radix).unwrap();
        let same_shape = ours.lines().count() == r.text.lines().count();
        for (theirs, mine) in r.text.lines().zip(ours.lines()).filter(|(a, b)| a != b) {
            if same_shape && BTF_CANNOT_TELL.contains(&(r.file.as_str(), theirs, mine)) {
                known += 1;
            } else {
                differ.push(format!(
                    "{}:
  crash:   {theirs}
  coroner: {mine}",
                    r.file
                ));
            }
        }
        if !same_shape {
            differ.push(format!(
                "{}: {} lines, crash has {}",
                r.file,
                ours.lines().count(),
                r.text.lines().count()
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    assert_eq!(known, BTF_CANNOT_TELL.len(), "a known difference went away");
}

//! Asking gdb, and rewriting its answers and ours into comparable forms.

use std::path::Path;

use coroner_dwarf::DwarfTypes;
use coroner_types::{gdb, Type, TypeId, Types};

const SEPARATOR: &str = "@@@";

/// How [`compare`] reports a type gdb does not find at global scope.
pub const UNKNOWN_TO_GDB: &str = "unknown to gdb";

/// gdb's answers to each command, in order, from one gdb run (loading the
/// vmlinux takes gdb ~20 s).
pub fn ask_gdb(file: &Path, commands: &[String]) -> Vec<String> {
    let mut args = vec!["-batch".to_string(), "-nx".to_string()];
    for command in commands {
        args.push("-ex".into());
        args.push(command.clone());
        args.push("-ex".into());
        args.push(format!("echo {SEPARATOR}\\n"));
    }
    args.push(file.to_str().expect("UTF-8 path").to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = super::oracle("gdb", "gdb", &args);
    let parts: Vec<&str> = out.split(&format!("{SEPARATOR}\n")).collect();
    assert_eq!(parts.len(), commands.len() + 1, "gdb output:\n{out}");
    parts[..commands.len()]
        .iter()
        .map(|p| p.to_string())
        .collect()
}

/// gdb's `ptype` without its `type = `.
pub fn as_gdb_10(text: &str) -> String {
    text.strip_prefix("type = ")
        .unwrap_or(text)
        .trim_end()
        .to_string()
}

/// Our (crash's gdb 10.2) `ptype` text as plain gdb 13 prints it. The one
/// difference: crash patches gdb to expand anonymous members however deep they
/// sit, while gdb prints the body of one at the second level or deeper as
/// `{...}`.
pub fn as_gdb_13(text: &str) -> String {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let body = line.trim_start();
        let indent = line.len() - body.len();
        if indent >= 8 && (body == "struct {" || body == "union {") {
            let close = lines
                .by_ref()
                .find(|l| {
                    l.len() - l.trim_start().len() == indent && l.trim_start().starts_with('}')
                })
                .unwrap_or_default();
            let rest = &close.trim_start()[1..];
            out.push(format!("{}{{...}}{rest}", &line[..line.len() - 1]));
        } else {
            out.push(line.to_string());
        }
    }
    out.join("\n")
}

/// One line of `ptype/o` that describes a member: its offset in bits (`None` in
/// a union, where gdb prints none) and its size in bytes.
pub type Slot = (Option<u64>, u64);

pub fn gdb_slots(ptype_o: &str) -> Vec<Slot> {
    let mut slots = Vec::new();
    for line in ptype_o.lines() {
        let Some(rest) = line.strip_prefix("/*") else {
            continue;
        };
        let Some((inside, _)) = rest.split_once("*/") else {
            continue;
        };
        if inside.contains("XXX") || inside.contains("offset") {
            continue;
        }
        let (offset, size) = match inside.split_once('|') {
            Some((offset, size)) => (Some(offset), size),
            None => (None, inside),
        };
        let offset = offset.map(|o| match o.split_once(':') {
            Some((byte, bit)) => {
                byte.trim().parse::<u64>().unwrap() * 8 + bit.trim().parse::<u64>().unwrap()
            }
            None => o.trim().parse::<u64>().unwrap() * 8,
        });
        slots.push((offset, size.trim().parse().unwrap()));
    }
    slots
}

/// The same walk over our types: gdb expands every member whose type is a
/// struct or union (not one behind a typedef), and the anonymous struct or union
/// an array's elements are, with offsets from the element's start.
pub fn our_slots(types: &Types, id: TypeId, base: u64, in_union: bool, out: &mut Vec<Slot>) {
    let unqualified = |mut id: TypeId| {
        while let Some(Type::Qualified(_, t)) = types.get(id) {
            id = *t;
        }
        id
    };
    for member in types.members(id) {
        let size = types.size_of(member.ty).expect("member size");
        out.push(((!in_union).then_some(base + member.bit_offset), size));
        let mut core = unqualified(member.ty);
        let (mut at, mut element) = (base + member.bit_offset, false);
        while let Some(Type::Array(a)) = types.get(core) {
            core = unqualified(a.element);
            (at, element) = (0, true);
        }
        match types.get(core) {
            Some(Type::Struct(c) | Type::Union(c)) if element && c.name.is_some() => {}
            Some(Type::Struct(_)) => our_slots(types, core, at, false, out),
            Some(Type::Union(_)) => our_slots(types, core, at, true, out),
            _ => {}
        }
    }
}

/// The first line where two texts differ, with its neighbours.
pub fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let at = (0..e.len().max(a.len()))
        .find(|&i| e.get(i) != a.get(i))
        .unwrap_or(0);
    let around = |lines: &[&str]| {
        lines[at.saturating_sub(2).min(lines.len())..(at + 3).min(lines.len())].join("\n")
    };
    format!(
        "line {at}\n--- gdb\n{}\n--- ours\n{}",
        around(&e),
        around(&a)
    )
}

/// Compares `ptype` and `ptype/o` of `type_names`, and `whatis` of variables and
/// functions, between gdb reading `file` and our `dwarf` types; returns what
/// differs. `known` rewrites gdb's `ptype` text where we knowingly differ.
pub fn compare(
    dwarf: &DwarfTypes,
    file: &Path,
    type_names: &[&str],
    names: &[&str],
    known: &[(&str, &str)],
) -> Vec<String> {
    let types = &dwarf.types;
    let mut commands: Vec<String> = type_names
        .iter()
        .flat_map(|t| [format!("ptype {t}"), format!("ptype/o {t}")])
        .collect();
    commands.extend(names.iter().map(|v| format!("whatis {v}")));
    let answers = ask_gdb(file, &commands);
    let (layouts, whatis) = answers.split_at(2 * type_names.len());
    let mut failures = Vec::new();
    for (name, answer) in names.iter().zip(whatis) {
        let id = match dwarf.variables_named(name).first() {
            Some(v) => Some(v.ty),
            None => types.function(name),
        };
        let ours = id.map(|id| format!("type = {}", gdb::type_name(types, id)));
        if ours.as_deref() != Some(answer.trim_end()) {
            failures.push(format!("whatis {name}: gdb {answer:?}, ours {ours:?}"));
        }
    }
    for (name, pair) in type_names.iter().zip(layouts.chunks(2)) {
        let (ptype, ptype_o) = (&pair[0], &pair[1]);
        if ptype.is_empty() {
            // gdb finds a type declared inside a function only in its scope; we
            // read such a type when something refers to it, and name it globally.
            failures.push(format!("{name}: {UNKNOWN_TO_GDB}"));
            continue;
        }
        let Some(id) = types.find(name) else {
            failures.push(format!("{name}: not found"));
            continue;
        };
        let ours = as_gdb_13(&gdb::ptype(types, id));
        let theirs = known
            .iter()
            .fold(as_gdb_10(ptype), |text, (from, to)| text.replace(from, to));
        if ours.trim_end() != theirs {
            failures.push(format!(
                "{name}: ptype differs: {}",
                first_difference(&theirs, &ours)
            ));
        }
        let layout = types.resolve(id);
        if !matches!(types.get(layout), Some(Type::Struct(_) | Type::Union(_))) {
            continue;
        }
        let mut slots = Vec::new();
        our_slots(
            types,
            layout,
            0,
            matches!(types.get(layout), Some(Type::Union(_))),
            &mut slots,
        );
        let expected = gdb_slots(ptype_o);
        // The outermost `total size` comes last.
        let total = ptype_o
            .rsplit_once("/* total size (bytes):")
            .and_then(|(_, rest)| rest.split_once("*/"))
            .map(|(n, _)| n.trim().parse::<u64>().expect("a size"));
        assert!(total.is_some(), "gdb's ptype/o {name}:\n{ptype_o}");
        if total != types.size_of(layout) {
            failures.push(format!(
                "{name}: size {:?}, gdb {total:?}",
                types.size_of(layout)
            ));
        }
        if slots != expected {
            let at = slots.iter().zip(&expected).position(|(a, b)| a != b);
            failures.push(format!(
                "{name}: layout differs at member line {at:?} ({} ours, {} gdb's)",
                slots.len(),
                expected.len()
            ));
        }
    }
    failures
}

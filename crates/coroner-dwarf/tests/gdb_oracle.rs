//! DWARF types against gdb reading the same vmlinux: every struct's layout (the
//! offset and size of every member, nested ones expanded, from `ptype/o`) must
//! agree exactly, and the `ptype` text must agree except where gdb 13 (on this
//! machine) prints differently from gdb 10.2 (inside crash 8.0.2, which our
//! printer imitates); those differences are rewritten, each one named below.

mod common;

use coroner_types::{gdb, Type, TypeId, Types};

const TYPES: [&str; 16] = [
    "struct task_struct",
    "struct mm_struct",
    "struct page",
    "struct list_head",
    "struct file",
    "struct inode",
    "struct module",
    "struct rq",
    "struct kmem_cache",
    "struct sk_buff",
    "struct zone",
    "union fpregs_state",
    "union bpf_attr",
    "cpumask_t",
    "enum pid_type",
    "enum hrtimer_restart",
];

/// Variables and functions whose types `whatis` names. Not `linux_banner`: its
/// DWARF type is `const char []` (the definition has no type of its own, its
/// declaration no bound), and gdb completes the bound from the ELF symbol's size.
const VARIABLES: [&str; 6] = [
    "jiffies_64",
    "init_task",
    "runqueues",
    "init_uts_ns",
    "system_state",
    "sysctl_vals",
];
const FUNCTIONS: [&str; 4] = ["panic", "schedule", "sysrq_handle_crash", "vfs_read"];

const SEPARATOR: &str = "@@@";

/// gdb's answers to each command, in order (one gdb run: loading takes ~20 s).
fn ask_gdb(commands: &[String]) -> Vec<String> {
    let vmlinux = coroner_testdata::fp_vmlinux();
    let mut args = vec!["-batch".to_string(), "-nx".to_string()];
    for command in commands {
        args.push("-ex".into());
        args.push(command.clone());
        args.push("-ex".into());
        args.push(format!("echo {SEPARATOR}\\n"));
    }
    args.push(vmlinux.to_str().expect("UTF-8 path").to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = common::oracle("gdb", "gdb", &args);
    let parts: Vec<&str> = out.split(&format!("{SEPARATOR}\n")).collect();
    assert_eq!(parts.len(), commands.len() + 1, "gdb output:\n{out}");
    parts[..commands.len()]
        .iter()
        .map(|p| p.to_string())
        .collect()
}

/// gdb's `ptype` without its `type = `.
fn as_gdb_10(text: &str) -> String {
    text.strip_prefix("type = ")
        .unwrap_or(text)
        .trim_end()
        .to_string()
}

/// Our (crash's gdb 10.2) `ptype` text as plain gdb 13 prints it. The one
/// difference: crash patches gdb to expand anonymous members however deep they
/// sit, while gdb prints the body of one at the second level or deeper as
/// `{...}`.
fn as_gdb_13(text: &str) -> String {
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
type Slot = (Option<u64>, u64);

fn gdb_slots(ptype_o: &str) -> Vec<Slot> {
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
/// struct or union (not one behind a typedef).
fn our_slots(types: &Types, id: TypeId, base: u64, in_union: bool, out: &mut Vec<Slot>) {
    for member in types.members(id) {
        let size = types.size_of(member.ty).expect("member size");
        out.push(((!in_union).then_some(base + member.bit_offset), size));
        let mut core = member.ty;
        while let Some(Type::Qualified(_, t)) = types.get(core) {
            core = *t;
        }
        match types.get(core) {
            Some(Type::Struct(_)) => our_slots(types, core, base + member.bit_offset, false, out),
            Some(Type::Union(_)) => our_slots(types, core, base + member.bit_offset, true, out),
            _ => {}
        }
    }
}

/// The first line where two texts differ, with its neighbours.
fn first_difference(expected: &str, actual: &str) -> String {
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

#[test]
fn types_agree_with_gdb() {
    let dwarf = common::types();
    let types = &dwarf.types;
    let mut commands: Vec<String> = TYPES
        .iter()
        .flat_map(|t| [format!("ptype {t}"), format!("ptype/o {t}")])
        .collect();
    commands.extend(
        VARIABLES
            .iter()
            .chain(&FUNCTIONS)
            .map(|v| format!("whatis {v}")),
    );
    let answers = ask_gdb(&commands);
    let (layouts, whatis) = answers.split_at(2 * TYPES.len());
    let mut failures = Vec::new();
    for (name, answer) in VARIABLES.iter().chain(&FUNCTIONS).zip(whatis) {
        let id = match dwarf.variables_named(name).first() {
            Some(v) => Some(v.ty),
            None => types.function(name),
        };
        let ours = id.map(|id| format!("type = {}", gdb::type_name(types, id)));
        if ours.as_deref() != Some(answer.trim_end()) {
            failures.push(format!("whatis {name}: gdb {answer:?}, ours {ours:?}"));
        }
    }
    for (name, pair) in TYPES.iter().zip(layouts.chunks(2)) {
        let (ptype, ptype_o) = (&pair[0], &pair[1]);
        let Some(id) = types.find(name) else {
            failures.push(format!("{name}: not found"));
            continue;
        };
        let ours = as_gdb_13(&gdb::ptype(types, id));
        let theirs = as_gdb_10(ptype);
        if ours.trim_end() != theirs {
            failures.push(format!(
                "{name}: ptype differs: {}",
                first_difference(&theirs, &ours)
            ));
        }
        if name.starts_with("enum") {
            continue;
        }
        let mut slots = Vec::new();
        our_slots(
            types,
            types.resolve(id),
            0,
            name.starts_with("union"),
            &mut slots,
        );
        let expected = gdb_slots(ptype_o);
        assert!(
            !expected.is_empty(),
            "no members in gdb's ptype/o {name}:\n{ptype_o}"
        );
        if slots != expected {
            let at = slots.iter().zip(&expected).position(|(a, b)| a != b);
            failures.push(format!(
                "{name}: layout differs at member line {at:?} ({} ours, {} gdb's)",
                slots.len(),
                expected.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

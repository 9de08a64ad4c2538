//! DWARF types against gdb reading the same vmlinux: every struct's layout (the
//! offset and size of every member, nested ones expanded, from `ptype/o`) must
//! agree exactly, and the `ptype` text must agree except where gdb 13 (on this
//! machine) prints differently from gdb 10.2 (inside crash 8.0.2, which our
//! printer imitates); those differences are rewritten, each one named below.

mod common;

use common::gdb::{compare, UNKNOWN_TO_GDB};
use coroner_types::Type;

/// The shared kernel types and, here, a typedef and enums.
fn compared() -> Vec<&'static str> {
    let mut types = common::KERNEL_TYPES.to_vec();
    types.extend(["cpumask_t", "enum pid_type", "enum hrtimer_restart"]);
    types
}

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

#[test]
fn types_agree_with_gdb() {
    let names: Vec<&str> = VARIABLES.iter().chain(&FUNCTIONS).copied().collect();
    let failures = compare(
        common::types(),
        &coroner_testdata::fp_vmlinux(),
        &compared(),
        &names,
        &[],
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Beyond the hand-picked list: every 12th struct and union name of the kernel.
#[test]
fn sampled_structs_agree_with_gdb() {
    let dwarf = common::types();
    let types = &dwarf.types;
    let mut names: Vec<String> = types
        .ids()
        .filter_map(|id| match types.get(id)? {
            Type::Struct(c) => Some(format!("struct {}", types.str(c.name?))),
            Type::Union(c) => Some(format!("union {}", types.str(c.name?))),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    let sample: Vec<&str> = names.iter().step_by(12).map(String::as_str).collect();
    assert!(sample.len() > 300, "{} names", sample.len());
    let (local, failures): (Vec<String>, Vec<String>) =
        compare(dwarf, &coroner_testdata::fp_vmlinux(), &sample, &[], &[])
            .into_iter()
            .partition(|f| f.ends_with(UNKNOWN_TO_GDB));
    assert!(local.len() * 50 < sample.len(), "{local:?}");
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        sample.len(),
        failures.join("\n\n")
    );
}

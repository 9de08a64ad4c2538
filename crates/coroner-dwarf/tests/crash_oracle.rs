//! crash 8.0.2 itself as the oracle: its `struct -o` over the fp-nobtf dump and
//! this DWARF vmlinux (gdb 10.2 inside it reads the DWARF) must equal
//! `coroner_types::crash::struct_offsets` of our DWARF types, byte for byte.

mod common;

use coroner_types::crash::{struct_offsets, Radix};

/// The shared kernel types and, here, a struct crash names by its tag.
fn compared() -> Vec<&'static str> {
    let mut types = common::KERNEL_TYPES.to_vec();
    types.extend(["struct cpumask"]);
    types
}

#[test]
fn struct_offsets_equal_crash() {
    let vmlinux = coroner_testdata::fp_vmlinux();
    let dump = coroner_testdata::fixtures_dir().join("fp-nobtf/sysrq/vmcore.mdf-d31-zlib");
    let script =
        std::env::temp_dir().join(format!("coroner-dwarf-crash-{}.txt", std::process::id()));
    let mut commands: String = compared()
        .iter()
        .map(|t| {
            let (keyword, name) = t.split_once(' ').unwrap();
            format!("{keyword} -o {name}\n")
        })
        .collect();
    commands.push_str("q\n");
    std::fs::write(&script, commands).unwrap();
    let out = common::oracle(
        "crash",
        "crash",
        &[
            "-s",
            vmlinux.to_str().unwrap(),
            dump.to_str().unwrap(),
            "-i",
            script.to_str().unwrap(),
        ],
    );
    std::fs::remove_file(&script).ok();
    // Each answer ends with its `SIZE:` line; warnings may precede the first.
    let mut answers = Vec::new();
    let mut current = String::new();
    for line in out.lines() {
        if current.is_empty() && !(line.starts_with("struct ") || line.starts_with("union ")) {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.starts_with("SIZE: ") {
            answers.push(std::mem::take(&mut current));
        }
    }
    assert_eq!(answers.len(), compared().len(), "crash output:\n{out}");

    let types = &common::types().types;
    let mut failures = Vec::new();
    for (name, theirs) in compared().into_iter().zip(&answers) {
        let ours = types
            .find(name)
            .and_then(|id| struct_offsets(types, id, Radix::Decimal))
            .unwrap_or_default();
        if &ours != theirs {
            failures.push(format!(
                "{name}: {}",
                common::gdb::first_difference(theirs, &ours)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

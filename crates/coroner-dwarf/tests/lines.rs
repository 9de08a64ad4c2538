//! Source lines and inlined frames against binutils' `addr2line -i` on the same
//! vmlinux, at the start of named functions and at points inside a few hundred
//! others (sizes from the ELF symbol table, so inlined bodies get hit).

mod common;

use coroner_dwarf::{Debuginfo, ElfSymbol};

/// Deterministic sample: `panic`, `sysrq_handle_crash`, then every k-th function
/// with a size, at an offset inside it chosen by a fixed LCG.
fn sample(symbols: &[ElfSymbol]) -> Vec<u64> {
    let mut functions: Vec<&ElfSymbol> = symbols
        .iter()
        .filter(|s| matches!(s.letter, 'T' | 't') && s.size > 0)
        .collect();
    functions.sort_by_key(|s| s.address);
    let named = ["panic", "sysrq_handle_crash"].map(|name| {
        functions
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} is in .symtab"))
            .address
    });
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let step = functions.len() / 300;
    let mut addresses = named.to_vec();
    for f in functions.iter().step_by(step.max(1)) {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        addresses.push(f.address + (state >> 33) % f.size);
    }
    addresses
}

/// binutils' answer per address: (function, file:line) frames, innermost first.
fn binutils(addresses: &[u64]) -> Vec<Vec<(String, String)>> {
    let vmlinux = coroner_testdata::fp_vmlinux();
    let mut args = vec![
        "-e".to_string(),
        vmlinux.to_str().expect("UTF-8 path").to_string(),
        "-a".into(),
        "-f".into(),
        "-i".into(),
    ];
    args.extend(addresses.iter().map(|a| format!("{a:#x}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = common::oracle("addr2line", "binutils", &args);
    let mut answers: Vec<Vec<(String, String)>> = Vec::new();
    let mut lines = out.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("0x") {
            answers.push(Vec::new());
            continue;
        }
        let location = lines.next().expect("a location follows a function");
        // `(discriminator N)` is not part of the line.
        let location = location.split(" (discriminator").next().unwrap_or(location);
        answers
            .last_mut()
            .expect("an address comes first")
            .push((line.to_string(), location.to_string()));
    }
    answers
}

#[test]
fn lines_agree_with_binutils() {
    let debuginfo = Debuginfo::parse(common::vmlinux()).unwrap();
    let addresses = sample(&debuginfo.symbols().unwrap());
    assert!(addresses.len() > 250, "{} addresses", addresses.len());
    let expected = binutils(&addresses);
    assert_eq!(expected.len(), addresses.len());
    let lines = debuginfo.lines().unwrap();
    let mut failures = Vec::new();
    let mut inlined = 0;
    for (&address, theirs) in addresses.iter().zip(&expected) {
        let ours: Vec<(String, String)> = lines
            .frames(address)
            .unwrap()
            .into_iter()
            .map(|f| {
                let file = f.file.unwrap_or_else(|| "??".into());
                let line = f.line.map_or("?".to_string(), |l| l.to_string());
                (
                    f.function.unwrap_or_else(|| "??".into()),
                    format!("{file}:{line}"),
                )
            })
            .collect();
        inlined += usize::from(theirs.len() > 1);
        if &ours != theirs {
            failures.push(format!(
                "{address:#x}: binutils {theirs:?}\n  ours {ours:?}"
            ));
        }
    }
    assert!(inlined > 20, "only {inlined} addresses in inlined code");
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        addresses.len(),
        failures.join("\n")
    );
}

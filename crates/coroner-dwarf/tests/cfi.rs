//! `.debug_frame` rules against binutils' `readelf --debug-dump=frames-interp`
//! on the same vmlinux: the FDE count, and every row of a sample of FDEs (CFA
//! and each register's rule at the row's first pc).

mod common;

use coroner_dwarf::{Cfa, Debuginfo, Saved};

/// readelf's column names, by DWARF register number (x86-64).
const NAMES: [&str; 17] = [
    "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15", "ra",
];

fn register(name: &str) -> u16 {
    NAMES
        .iter()
        .position(|n| *n == name)
        .unwrap_or_else(|| panic!("register {name}")) as u16
}

/// Our rule in readelf's spelling.
fn spell(saved: Option<Saved>) -> String {
    match saved {
        None => "u".into(),
        Some(Saved::SameValue) => "s".into(),
        Some(Saved::AtCfa(o)) => format!("c{o:+}"),
        Some(Saved::CfaPlus(o)) => format!("v{o:+}"),
        Some(Saved::InRegister(r)) => NAMES.get(usize::from(r)).unwrap_or(&"?").to_string(),
        Some(Saved::Other) => "exp".into(),
    }
}

#[test]
fn rules_agree_with_readelf() {
    let vmlinux = coroner_testdata::fp_vmlinux();
    let text = common::oracle(
        "readelf",
        "binutils",
        &["--debug-dump=frames-interp", vmlinux.to_str().unwrap()],
    );
    let cfi = Debuginfo::parse(common::vmlinux()).unwrap().cfi().unwrap();
    let fdes = text.lines().filter(|l| l.contains(" FDE cie=")).count();
    assert_eq!(cfi.len(), fdes, "FDEs");

    let mut checked = 0;
    let mut failures = Vec::new();
    // Blocks are separated by blank lines: an FDE line, a header, rows.
    for (n, block) in text
        .split("\n\n")
        .filter(|b| b.contains(" FDE cie="))
        .enumerate()
    {
        if n % 40 != 0 {
            continue;
        }
        let mut lines = block.lines().skip_while(|l| !l.contains(" FDE cie="));
        lines.next();
        let Some(header) = lines.next() else { continue };
        let columns: Vec<&str> = header.split_whitespace().skip(2).collect();
        for row in lines {
            let words: Vec<&str> = row.split_whitespace().collect();
            let pc = u64::from_str_radix(words[0], 16).unwrap();
            let ours = cfi.row(pc).unwrap().expect("a row where readelf has one");
            let cfa = match ours.cfa {
                Cfa::RegisterOffset { register, offset } => {
                    format!("{}{offset:+}", NAMES[usize::from(register)])
                }
                Cfa::Expression => "exp".into(),
            };
            let mut spelled = vec![format!("{pc:x}"), cfa];
            for column in &columns {
                let number = register(column);
                let rule = ours
                    .registers
                    .iter()
                    .find(|(r, _)| *r == number)
                    .map(|r| r.1);
                spelled.push(spell(rule));
            }
            if ours.start != pc || spelled != words {
                failures.push(format!(
                    "readelf {words:?}\n   ours {spelled:?} from {:#x}",
                    ours.start
                ));
            }
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} rows checked");
    assert!(
        failures.is_empty(),
        "{} rows differ:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
}

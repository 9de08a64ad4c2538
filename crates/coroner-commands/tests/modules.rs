//! `coroner mod` lists what crash's `mod` lists (address, name, base, size) on every
//! fixture; module symbols make `sym` name module code as crash's `bt` does.

mod common;

use coroner_testdata::{all_variants, crash_dir, reference_dir, CRASHES};

fn coroner(args: &[&str], dump: &std::path::Path) -> String {
    common::stdout_of(args[0], dump, &args[1..])
}

fn four_fields(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .map(|l| l.split_whitespace().take(4).collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn modules_as_crash_lists_them() {
    for crash in CRASHES {
        let dir = reference_dir(crash, None);
        let expected = four_fields(&std::fs::read_to_string(dir.join("crash-mod.txt")).unwrap());
        assert!(!expected.is_empty());
        for dump in all_variants(crash) {
            assert_eq!(
                four_fields(&coroner(&["mod"], &dump)),
                expected,
                "{}",
                dump.display()
            );
        }
    }
}

#[test]
fn module_code_is_named_as_crash_names_it() {
    // crash's bt on mod-null: "[exception RIP: fx_null_deref+28]" and
    // "fx_run.cold at ffffffffc052e343 [crashfixture]".
    let dump = crash_dir("mod-null").join("vmcore.mdf-d31-zlib");
    let text = coroner(&["sym", "ffffffffc052e1f0", "ffffffffc052e343"], &dump);
    assert_eq!(
        text,
        "ffffffffc052e1f0 (t) fx_null_deref+28 [crashfixture]\n\
         ffffffffc052e343 (t) fx_run.cold+45 [crashfixture]\n"
    );
}

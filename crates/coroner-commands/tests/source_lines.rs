//! Source lines for single addresses with the fp-nobtf vmlinux: `sym` against
//! crash 8.0.2's (`tests/data/dis/sym.txt`, recorded with the `dis` outputs) and
//! `source *ADDR` against gdb 13's `list *ADDR` on the same vmlinux
//! (`tests/data/source/`, recorded with `gdb -batch -ex 'set substitute-path
//! /usr/src/linux-source-6.1 TREE' -ex 'list *ADDR'` over a tree whose every line
//! says which file and line it is; gdb took link-time addresses, the dump's are
//! KASLR-shifted by 0x23800000).

use coroner_commands::{Registry, Session};
use coroner_testdata::{fixtures_dir, fp_vmlinux};
use std::path::{Path, PathBuf};

const KASLR: u64 = 0x2380_0000;

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn session() -> Session {
    let dump = fixtures_dir().join("fp-nobtf/sysrq/vmcore.mdf-d31-zlib");
    Session::new(dump, None).with_vmlinux(Some(fp_vmlinux()))
}

fn run(session: &Session, words: &[&str]) -> Result<(String, Vec<String>), String> {
    let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    let (output, _) = Registry::builtin()
        .run_line(session, &words)
        .map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    output.report.text(&mut text).unwrap();
    let warnings = output
        .report
        .warnings()
        .iter()
        .map(|w| w.text.clone())
        .collect();
    Ok((String::from_utf8(text).unwrap(), warnings))
}

#[test]
fn sym_prints_the_line_as_crash_does() {
    let expected = std::fs::read_to_string(data().join("dis/sym.txt")).unwrap();
    let addresses: Vec<&str> = expected
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    let mut words = vec!["sym"];
    words.extend(&addresses);
    let (text, _) = run(&session(), &words).unwrap();
    assert_eq!(text, expected);
}

/// The tree the references were made over: line N of FILE reads `\tline of FILEN`.
fn fake_tree(dir: &Path, files: &[&str]) {
    for file in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text: String = (1..=2000)
            .map(|n| format!("\tline of {file}{n}\n"))
            .collect();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn source_equals_gdbs_list() {
    let tree = std::env::temp_dir().join(format!("coroner-source-{}", std::process::id()));
    // Every file the references show, but atomic.h: gdb says it is missing.
    fake_tree(
        &tree,
        &[
            "drivers/tty/sysrq.c",
            "kernel/panic.c",
            "arch/x86/include/asm/preempt.h",
            "arch/x86/entry/common.c",
            "arch/x86/entry/entry_64.S",
            "include/linux/rcupdate.h",
            "fs/read_write.c",
        ],
    );
    let session = session();
    let cases = std::fs::read_to_string(data().join("source/gdb-cmds.txt")).unwrap();
    let mut compared = 0;
    for case in cases.lines() {
        let (name, link) = case.split_once(' ').unwrap();
        let link = u64::from_str_radix(link.trim_start_matches("0x"), 16).unwrap();
        let runtime = format!("{:#x}", link + KASLR);
        let expected = std::fs::read_to_string(data().join(format!("source/list-{name}.txt")))
            .unwrap()
            .replace(&format!("{link:#x}"), &runtime);
        let target = format!("*{runtime}");
        let (text, warnings) = run(
            &session,
            &["source", &target, "--source", tree.to_str().unwrap()],
        )
        .unwrap();
        assert_eq!(text, expected, "source {target} ({name})");
        if expected.lines().count() == 1 {
            // gdb's stderr: the first line it wanted, and why it has none.
            assert!(
                warnings
                    .iter()
                    .any(|w| w.contains("No such file or directory")),
                "{warnings:?}"
            );
        }
        compared += 1;
    }
    std::fs::remove_dir_all(&tree).unwrap();
    assert_eq!(compared, 9);
    // By function name too, and without a tree: the location alone.
    let (text, _) = run(&session, &["source", "write_sysrq_trigger+35"]).unwrap();
    assert_eq!(
        text,
        "0xffffffffa4c29653 is in write_sysrq_trigger (drivers/tty/sysrq.c:1167).\n"
    );
}

#[test]
fn source_needs_the_vmlinux() {
    let dump = fixtures_dir().join("fp-nobtf/sysrq/vmcore.mdf-d31-zlib");
    let err = run(&Session::new(dump, None), &["source", "*panic"]).unwrap_err();
    assert!(err.contains("--vmlinux"), "{err}");
}

//! `dis` against crash 8.0.2 on the fp-nobtf `sysrq` dump: every `dis` line of
//! `tests/data/dis/crash-cmds.txt` (recorded with `crash -s VMLINUX DUMP <
//! crash-cmds.txt`: the functions of the panic stacks and a few others, whole,
//! with `-l`, by address and with a count) run through the registry with the same
//! vmlinux, compared line by line. Without the vmlinux the code and symbols come
//! from the dump alone: the same instructions, to the next kallsyms symbol.

use coroner_commands::{Registry, Session};
use coroner_testdata::{fixtures_dir, fp_vmlinux};
use std::path::PathBuf;

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/dis")
}

fn fp_dump() -> PathBuf {
    fixtures_dir().join("fp-nobtf/sysrq/vmcore.mdf-d31-zlib")
}

/// (the command line, crash's output file) for each recorded `dis`.
fn recorded() -> Vec<(String, String)> {
    let cmds = std::fs::read_to_string(data().join("crash-cmds.txt")).unwrap();
    cmds.lines()
        .filter(|l| l.starts_with("dis "))
        .map(|l| {
            let (command, file) = l.split_once(" > ").unwrap();
            (command.to_string(), file.to_string())
        })
        .collect()
}

/// A line run in `session`, as text.
fn run(session: &Session, line: &str) -> Result<String, String> {
    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    let (output, _) = Registry::builtin()
        .run_line(session, &words)
        .map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    output.report.text(&mut text).unwrap();
    Ok(String::from_utf8(text).unwrap())
}

/// crash pads a mnemonic without operands (`ret    `); trailing blanks are not
/// compared. `memcpy` and `__memcpy` are one address, which gdb names either way
/// (`<__memcpy>` then `<memcpy+5>` in one listing): read as one name.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim_end().replace("<__memcpy", "<memcpy"))
        .collect()
}

#[test]
fn dis_equals_crash_with_the_vmlinux() {
    let session = Session::new(fp_dump(), None).with_vmlinux(Some(fp_vmlinux()));
    let cases = recorded();
    assert!(cases.len() > 60, "{} recorded commands", cases.len());
    let mut compared = 0;
    let mut failures = Vec::new();
    for (command, file) in &cases {
        let expected = std::fs::read_to_string(data().join(file)).unwrap();
        if expected.starts_with("symbol not found") {
            // Not a kallsyms symbol (inlined everywhere): both refuse.
            let err = run(&session, command).expect_err(command);
            assert!(err.contains("no such symbol"), "{command}: {err}");
            continue;
        }
        let ours = run(&session, command).unwrap_or_else(|e| panic!("{command}: {e}"));
        let (want, got) = (lines(&expected), lines(&ours));
        compared += want.len();
        if want != got {
            let first = want
                .iter()
                .zip(&got)
                .position(|(a, b)| a != b)
                .unwrap_or(want.len().min(got.len()));
            failures.push(format!(
                "{command}: line {first}: crash {:?}, coroner {:?} ({} vs {} lines)",
                want.get(first),
                got.get(first),
                want.len(),
                got.len()
            ));
        }
    }
    assert!(compared > 4000, "{compared} lines compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn without_the_vmlinux_the_same_code_from_the_dump() {
    let session = Session::new(fp_dump(), None);
    // Whole functions end at the next symbol, less the padding before it: the
    // same lines as crash's, which knows their sizes from the vmlinux. Names are
    // kallsyms' (`update_rq_clock.part.0`, where gdb says `update_rq_clock`).
    let mut compared = 0;
    for (command, file) in recorded() {
        let whole = command.split_whitespace().count() == 2 && !command.contains("ffff");
        let expected = std::fs::read_to_string(data().join(&file)).unwrap();
        if !whole || expected.starts_with("symbol not found") {
            continue;
        }
        let ours = run(&session, &command).unwrap();
        let clone = |l: &String| l.contains(".part.") || l.contains(".isra.");
        let (want, got) = (lines(&expected), lines(&ours));
        // An assembler routine with labels inside (`entry_SYSCALL_64`) stops at
        // the first label kallsyms lists; gdb's size runs past them.
        let name = command.split_whitespace().nth(1).unwrap();
        let cut = got.len() < want.len() && !want[got.len()].contains(&format!("<{name}+"));
        if !cut {
            assert_eq!(want.len(), got.len(), "{command}:\n{ours}");
        }
        for (w, g) in want.iter().zip(&got) {
            if !clone(g) {
                assert_eq!(w, g, "{command}");
            }
        }
        compared += 1;
    }
    assert!(compared >= 25, "{compared} functions compared");
    let err = run(&session, "dis -l panic").unwrap_err();
    assert!(err.contains("--vmlinux"), "{err}");
    let err = run(&session, "dis no_such_function").unwrap_err();
    assert!(err.contains("no_such_function"), "{err}");
}

#[test]
fn json_lists_address_symbol_offset_bytes_text_and_lines() {
    let session = Session::new(fp_dump(), None).with_vmlinux(Some(fp_vmlinux()));
    let words: Vec<String> = ["dis", "-l", "sysrq_handle_crash", "--json"]
        .map(str::to_string)
        .to_vec();
    let (output, _) = Registry::builtin().run_line(&session, &words).unwrap();
    let mut json = Vec::new();
    output.report.json(&mut json).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(doc["schema"], "coroner.dis/1");
    let first = &doc["instructions"][0];
    assert_eq!(first["address"], "0xffffffffa4c28bf0");
    assert_eq!(first["symbol"], "sysrq_handle_crash");
    assert_eq!(first["offset"], 0);
    assert_eq!(first["bytes"], "55");
    assert_eq!(first["text"].as_str().unwrap().trim_end(), "push   %rbp");
    assert_eq!(
        first["file"],
        "/usr/src/linux-source-6.1/./include/linux/rcupdate.h"
    );
    assert_eq!(first["line"], 823);
    let call = &doc["instructions"][4];
    assert_eq!(call["bytes"], "e8596f1e00");
    assert_eq!(call["line"], 155);
}

//! `coroner capture` as kdump set-ups call it: makedumpfile's option spellings
//! (bundled `-ld31`, `--num-threads=N` after the files), the same binary named
//! `makedumpfile`, `-F` into `-R`, `--dump-dmesg`, and the exit statuses.

use std::path::Path;
use std::process::{Command, Stdio};

fn coroner() -> &'static str {
    env!("CARGO_BIN_EXE_coroner")
}

fn fixture() -> std::path::PathBuf {
    coroner_testdata::fixtures_dir().join("fp-nobtf/sysrq/vmcore.mdf-d31-zlib")
}

fn run(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().expect("run coroner");
    let text = String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).into_owned();
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn makedumpfile_command_lines_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("vmcore");
    let (code, text) = run(Command::new(coroner())
        .args(["capture", "-ld31"])
        .arg(fixture())
        .arg(&out)
        .arg("--num-threads=1")
        .args(["--message-level", "7"]));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("coroner capture Completed."), "{text}");
    assert!(
        dir.path().join("vmcore-dmesg.txt").exists(),
        "the log is saved beside the dump"
    );
    let dump = coroner_dump::Dump::open(&out).unwrap();
    assert_eq!(dump.info().dump_level, Some(31));
    // The output exists: without -f makedumpfile refuses to overwrite, status 1.
    let (code, text) = run(Command::new(coroner())
        .args(["capture", "-d", "31"])
        .arg(fixture())
        .arg(&out));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("Failed."), "{text}");

    // Under the name makedumpfile: -F to a pipe, then -R from it.
    let link = dir.path().join("makedumpfile");
    std::os::unix::fs::symlink(coroner(), &link).unwrap();
    let flat = std::process::Command::new(&link)
        .args(["-F", "-c", "-d", "31"])
        .arg(fixture())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        flat.status.success(),
        "{}",
        String::from_utf8_lossy(&flat.stderr)
    );
    assert!(String::from_utf8_lossy(&flat.stderr).contains("makedumpfile Completed."));
    assert!(flat.stdout.starts_with(b"makedumpfile\0"));
    let reassembled = dir.path().join("reassembled");
    let mut child = Command::new(&link)
        .arg("-R")
        .arg(&reassembled)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&flat.stdout).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(coroner_dump::Dump::open(&reassembled).is_ok());

    // --dump-dmesg writes makedumpfile's text.
    let log = dir.path().join("dmesg.txt");
    let (code, text) = run(Command::new(&link)
        .arg("--dump-dmesg")
        .arg(fixture())
        .arg(&log));
    assert_eq!(code, 0, "{text}");
    let want = std::fs::read(fixture().parent().unwrap().join("dmesg.makedumpfile.txt")).unwrap();
    assert_eq!(std::fs::read(&log).unwrap(), want);

    // Bad usage: status 1 and a message naming the problem.
    for args in [vec!["-d", "32"], vec!["-E", "-c"], vec!["--split"]] {
        let (code, text) = run(Command::new(&link)
            .args(&args)
            .arg(fixture())
            .arg(dir.path().join("x")));
        assert_eq!(code, 1, "{args:?}: {text}");
        assert!(text.contains("makedumpfile:"), "{text}");
    }
    assert!(!Path::new(&dir.path().join("x")).exists());
}

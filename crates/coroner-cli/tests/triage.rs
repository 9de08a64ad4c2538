//! `coroner triage` end to end: on text logs and standard input, on dumps (through
//! the kernel log read from them), in all three output forms, with user rules.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

fn coroner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coroner"))
        .arg("triage")
        .args(args)
        .output()
        .unwrap()
}

fn json(args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = coroner(&all);
    assert!(
        out.status.code() == Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn console_log_json_has_every_documented_key() {
    let log = fixtures().join("mod-null/console.log");
    let v = json(&[log.to_str().unwrap()]);
    for key in [
        "input",
        "crashed",
        "title",
        "class",
        "message",
        "panic",
        "guilty",
        "module",
        "signature",
        "rip",
        "frames",
        "trace",
        "comm",
        "pid",
        "cpu",
        "taint",
        "release",
        "hardware",
        "modules",
        "corrupted",
        "line",
        "kb",
        "others",
        "dump",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(
        v["title"],
        "BUG: unable to handle kernel NULL pointer dereference in fx_null_deref"
    );
    assert_eq!(v["class"], "null-deref");
    assert_eq!(v["guilty"], "fx_null_deref");
    assert_eq!(v["module"], "crashfixture");
    assert_eq!(v["frames"][0], "fx_null_deref");
    assert_eq!(v["taint"]["letters"], "OE");
    assert!(v["dump"].is_null());
}

#[test]
fn dump_is_triaged_from_its_own_kernel_log() {
    let dump = fixtures().join("mod-null/vmcore.mdf-d31-zlib");
    let from_dump = json(&[dump.to_str().unwrap()]);
    let from_console = json(&[fixtures().join("mod-null/console.log").to_str().unwrap()]);
    assert_eq!(from_dump["dump"]["release"], "6.1.0-56-amd64");
    assert_eq!(
        from_dump["dump"]["build_id"],
        "eb4fbcd037e7253717950bf2b93bd5566f47c56f"
    );
    // The same crash, seen in the dump's log buffer and on the serial console.
    for key in [
        "title",
        "class",
        "guilty",
        "module",
        "signature",
        "frames",
        "pid",
        "comm",
    ] {
        assert_eq!(from_dump[key], from_console[key], "{key}");
    }
    let sysrq = json(&[fixtures()
        .join("kdump-sysrq/vmcore.kdump-mdf-d31-zlib")
        .to_str()
        .unwrap()]);
    assert_eq!(sysrq["class"], "sysrq");
    assert_eq!(sysrq["kb"][0]["id"], "sysrq-trigger");
}

#[test]
fn stdin_text_and_markdown() {
    let log = std::fs::read(fixtures().join("sysrq/console.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .args(["triage", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&log).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("crash      kernel panic: sysrq triggered crash\n"),
        "{text}"
    );
    assert!(text.contains("(sysrq-trigger)"), "{text}");

    let md = coroner(&[
        "--markdown",
        fixtures().join("sysrq/console.log").to_str().unwrap(),
    ]);
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(
        md.starts_with("### kernel panic: sysrq triggered crash\n"),
        "{md}"
    );
    assert!(md.contains("| guilty | `sysrq_handle_crash` |"), "{md}");
}

#[test]
fn no_crash_exits_1_and_errors_exit_2() {
    let dir = std::env::temp_dir().join(format!("coroner-triage-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let quiet = dir.join("quiet.log");
    std::fs::write(&quiet, "[    1.0] all is well\n").unwrap();
    let out = coroner(&[quiet.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "no crash found\n");

    let out = coroner(&[dir.join("missing.log").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("coroner: "));

    // A user rule directory: a good rule matches, a malformed one is named.
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("ours.toml"),
        "id = \"our-module\"\nsummary = \"our test module\"\ndiagnosis = \"expected\"\n[match]\nmodule = \"crashfixture\"\nfunctions = [\"fx_null_deref\"]\n",
    )
    .unwrap();
    let log = fixtures().join("mod-null/console.log");
    let v = json(&["--kb", rules.to_str().unwrap(), log.to_str().unwrap()]);
    assert_eq!(v["kb"][0]["id"], "our-module");
    std::fs::write(rules.join("zz-broken.toml"), "id = \"x\"\nsummary = 3\n").unwrap();
    let out = coroner(&["--kb", rules.to_str().unwrap(), log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("zz-broken.toml: "), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

//! `coroner doctor` as a command: exit statuses, the JSON interface, and --fix /
//! --dry-run on copies of the fixture host trees (crates/coroner-host/tests/roots).

use serde_json::Value;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn roots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../coroner-host/tests/roots")
}

fn doctor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coroner"))
        .arg("doctor")
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn copy(name: &str) -> PathBuf {
    let dst =
        std::env::temp_dir().join(format!("coroner-cli-doctor-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dst);
    copy_tree(&roots().join(name), &dst);
    dst
}

fn copy_tree(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let (from, to) = (e.path(), dst.join(e.file_name()));
        let t = e.file_type().unwrap();
        if t.is_symlink() {
            symlink(fs::read_link(&from).unwrap(), &to).unwrap();
        } else if t.is_dir() {
            copy_tree(&from, &to);
        } else {
            fs::copy(&from, &to).unwrap();
        }
    }
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let m = fs::symlink_metadata(&p).unwrap();
        if m.is_dir() {
            out.extend(files(&p));
        } else if m.is_file() {
            out.push((p.clone(), fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn exit_status_is_the_verdict() {
    for (root, code, verdict) in [
        ("rhel7-ready", 0, "ready"),
        ("al2-ec2-nitro", 1, "warnings"),
        ("debian12-kdump-tools", 1, "warnings"),
        ("rhel7-bare", 2, "not-ready"),
        ("rhel8-vmware", 2, "not-ready"),
        ("malformed", 2, "not-ready"),
    ] {
        let dir = roots().join(root);
        let out = doctor(&["--root", dir.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{root}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("\nverdict: {verdict} (")),
            "{root}:\n{text}"
        );
        let out = doctor(&["--root", dir.to_str().unwrap(), "--json"]);
        assert_eq!(out.status.code(), Some(code), "{root} --json");
        assert_eq!(json(&out)["verdict"], verdict, "{root}");
    }
}

#[test]
fn json_interface() {
    let dir = roots().join("al2-ec2-nitro");
    let v = json(&doctor(&["--root", dir.to_str().unwrap(), "--json"]));
    assert_eq!(v["platform"]["kind"], "ec2-nitro");
    assert_eq!(v["platform"]["instance_id"], "i-0123456789abcdef0");
    assert_eq!(
        v["platform"]["nmi_route"],
        "coroner nmi aws:i-0123456789abcdef0"
    );
    assert_eq!(v["role"], "guest");
    assert_eq!(v["distro"]["family"], "rhel");
    assert_eq!(v["kernel"], "5.10.225-213.878.amzn2.x86_64");
    assert!(v["ram_bytes"].as_u64().unwrap() > 7 << 30);
    assert!(v.get("fix").is_none(), "no fix key without --fix");
    let checks = v["checks"].as_array().unwrap();
    assert!(checks.len() > 20);
    for c in checks {
        let status = c["status"].as_str().unwrap();
        assert!(["pass", "warn", "fail"].contains(&status), "{c}");
        assert!(c["id"].as_str().is_some_and(|s| !s.is_empty()), "{c}");
        assert!(c["message"].as_str().is_some_and(|s| !s.is_empty()), "{c}");
        assert!(c["fix"].is_null() || c["fix"].is_string(), "{c}");
        assert!(c["auto_fix"].is_boolean(), "{c}");
        if status != "pass" {
            assert!(c["fix"].is_string(), "a warning says how to fix it: {c}");
        }
    }
    let panic = checks.iter().find(|c| c["id"] == "panic.panic").unwrap();
    assert_eq!(panic["status"], "warn");
    assert_eq!(
        panic["fix"],
        "kernel.panic = 10 in /etc/sysctl.d/99-coroner.conf, then sysctl --system"
    );
    assert_eq!(panic["auto_fix"], true);
}

#[test]
fn dry_run_prints_and_changes_nothing() {
    let dir = copy("rhel8-vmware");
    let before = files(&dir);
    let out = doctor(&["--root", dir.to_str().unwrap(), "--fix", "--dry-run"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the verdict is still the one found"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--fix --dry-run: would change\n  create /etc/sysctl.d/99-coroner.conf\n"),
        "{text}"
    );
    assert!(
        text.contains("  set /proc/sys/kernel/nmi_watchdog: 1 -> 0\n"),
        "{text}"
    );
    assert!(
        text.contains("  edit /etc/kdump.conf\n    - core_collector makedumpfile -l --message-level 7 -d 31\n    + core_collector makedumpfile -F -l --message-level 7 -d 31\n"),
        "{text}"
    );
    assert_eq!(files(&dir), before);
    let v = json(&doctor(&[
        "--root",
        dir.to_str().unwrap(),
        "--fix",
        "--dry-run",
        "--json",
    ]));
    assert_eq!(v["fix"]["dry_run"], true);
    assert_eq!(
        v["fix"]["changes"][0]["path"],
        "/etc/sysctl.d/99-coroner.conf"
    );
    assert_eq!(v["fix"]["changes"][0]["kind"], "create");
    assert_eq!(files(&dir), before);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn fix_writes_keeps_a_backup_and_reports_the_new_verdict() {
    let dir = copy("rhel8-vmware");
    let out = doctor(&["--root", dir.to_str().unwrap(), "--fix"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("\nverdict: ready ("), "{text}");
    assert!(text.contains("--fix: changed\n"), "{text}");
    assert!(
        text.contains("  edit /etc/kdump.conf (backup /etc/kdump.conf.coroner-bak)\n"),
        "{text}"
    );
    assert!(dir.join("etc/kdump.conf.coroner-bak").is_file());
    // A second run has nothing left to change.
    let v = json(&doctor(&[
        "--root",
        dir.to_str().unwrap(),
        "--fix",
        "--json",
    ]));
    assert_eq!(v["verdict"], "ready");
    assert_eq!(v["fix"]["changes"], serde_json::json!([]));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments() {
    let out = doctor(&["--root", "/no/such/root"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "coroner: --root /no/such/root: No such file or directory (os error 2)\n"
    );
    let out = doctor(&["--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "--dry-run needs --fix");
    let dir = roots().join("rhel7-ready");
    let out = doctor(&[
        "--root",
        dir.to_str().unwrap(),
        "--role",
        "hypervisor",
        "--json",
    ]);
    assert_eq!(json(&out)["role"], "hypervisor");
}

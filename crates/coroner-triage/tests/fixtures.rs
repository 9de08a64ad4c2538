//! The real console logs of the shared fixtures (`../shared/fixtures/*/console.log`):
//! what triage says must agree with each dump's manifest, which records the panic
//! line and what crash's `bt` said about the crashing task.

use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

/// The manifest of the crash's first dump that records crash's backtrace.
fn manifest(dir: &Path) -> Value {
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".manifest.json"))
        .collect();
    manifests.sort();
    manifests
        .iter()
        .map(|p| serde_json::from_slice::<Value>(&std::fs::read(p).unwrap()).unwrap())
        .find(|m| m.get("crash_bt").is_some() && m.get("expected_panic_line").is_some())
        .unwrap_or_else(|| panic!("{}: no manifest with crash_bt", dir.display()))
}

fn check(crash: &str, class: &str, title: &str, guilty: &str, kb: Option<&str>) {
    let dir = fixtures().join(crash);
    let log = std::fs::read(dir.join("console.log")).unwrap();
    let report = coroner_triage::triage(&log, &coroner_triage::KnowledgeBase::builtin().unwrap());
    let m = manifest(&dir);
    let bt = &m["crash_bt"];
    assert!(report.crashed, "{crash}");
    assert_eq!(report.title.as_deref(), Some(title), "{crash}");
    assert_eq!(report.class.map(|c| c.name()), Some(class), "{crash}");
    assert_eq!(report.guilty.as_deref(), Some(guilty), "{crash}");
    let panic_line = m["expected_panic_line"].as_str().unwrap();
    let reason = panic_line
        .strip_prefix("Kernel panic - not syncing: ")
        .unwrap();
    assert_eq!(report.panic.as_deref(), Some(reason), "{crash}");
    assert_eq!(report.comm.as_deref(), bt["comm"].as_str(), "{crash}");
    assert_eq!(report.pid, bt["pid"].as_u64().map(|p| p as u32), "{crash}");
    assert_eq!(report.cpu, bt["cpu"].as_u64().map(|c| c as u32), "{crash}");
    assert_eq!(report.release.as_deref(), m["release"].as_str(), "{crash}");
    if let Some(rip) = bt["exception_rip"].as_str() {
        let function = rip.split('+').next().unwrap();
        assert_eq!(
            report.rip.as_ref().map(|r| r.function.as_str()),
            Some(function),
            "{crash}"
        );
    }
    // Below the panic path (kexec, panic, the page-fault entry), crash's backtrace
    // and ours name the same functions (crash keeps suffixes such as .cold).
    let ours = &report.frames;
    let names: Vec<&str> = bt["first_frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().split(' ').next().unwrap())
        .map(|n| n.split('.').next().unwrap())
        .collect();
    let after_panic = names
        .iter()
        .position(|n| *n == "panic")
        .map_or(0, |p| p + 1);
    let entry = ["page_fault_oops", "exc_page_fault", "asm_exc_page_fault"];
    let compared: Vec<&&str> = names[after_panic..]
        .iter()
        .filter(|n| !entry.contains(n))
        .collect();
    assert!(
        !compared.is_empty(),
        "{crash}: nothing to compare in {names:?}"
    );
    for name in compared {
        assert!(
            ours.iter().any(|f| f == name),
            "{crash}: {name} not in {ours:?}"
        );
    }
    assert_eq!(report.kb.first().map(|k| k.id.as_str()), kb, "{crash}");
}

#[test]
fn sysrq_console() {
    check(
        "sysrq",
        "sysrq",
        "kernel panic: sysrq triggered crash",
        "sysrq_handle_crash",
        Some("sysrq-trigger"),
    );
}

#[test]
fn kdump_sysrq_console() {
    check(
        "kdump-sysrq",
        "sysrq",
        "kernel panic: sysrq triggered crash",
        "sysrq_handle_crash",
        Some("sysrq-trigger"),
    );
}

#[test]
fn module_null_dereference_console() {
    check(
        "mod-null",
        "null-deref",
        "BUG: unable to handle kernel NULL pointer dereference in fx_null_deref",
        "fx_null_deref",
        None,
    );
    let log = std::fs::read(fixtures().join("mod-null/console.log")).unwrap();
    let report = coroner_triage::analyse(&log);
    assert_eq!(report.module.as_deref(), Some("crashfixture"));
    assert_eq!(report.taint.unwrap().letters, "OE");
    assert!(report.modules.contains(&"crashfixture".to_string()));
}

#[test]
fn the_same_crash_has_one_signature_in_every_capture() {
    // The QEMU-dumped and the kdump-captured sysrq crashes are two boots (other
    // KASLR offsets, timestamps, CPUs): one signature.
    let sign = |crash: &str| {
        let log = std::fs::read(fixtures().join(crash).join("console.log")).unwrap();
        coroner_triage::analyse(&log).signature.unwrap()
    };
    assert_eq!(sign("sysrq"), sign("kdump-sysrq"));
    assert_ne!(sign("sysrq"), sign("mod-null"));
}

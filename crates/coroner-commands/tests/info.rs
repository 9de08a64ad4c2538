//! `coroner info --json` on every fixture agrees with its manifest, with crash's
//! `sys` output and with makedumpfile's own page report.

mod common;

use common::Coroner;
use coroner_testdata::{
    crash_dir, derived, makedumpfile_report, manifest, qemu_elf, shipped_dumps, Derived, CRASHES,
};
use serde_json::Value;
use std::path::Path;

fn info(path: &Path) -> Value {
    let out = Coroner::new()
        .arg("info")
        .arg("--json")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("info --json prints JSON")
}

/// crash's `DATE: Tue Nov 24 06:19:30 UTC 2026` as ISO 8601.
fn crash_date_iso(line: &str) -> String {
    let f: Vec<&str> = line.split_whitespace().collect();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|m| *m == f[1]).unwrap() + 1;
    format!("{}-{month:02}-{:0>2}T{}Z", f[5], f[2], f[3])
}

fn crash_sys_field(crash: &str, file: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(
        crash_dir(crash)
            .join("ref")
            .join(file)
            .join("crash-sys.txt"),
    )
    .ok()?;
    text.lines().find_map(|l| {
        l.trim_start()
            .strip_prefix(&format!("{key}: "))
            .map(|v| v.trim().to_string())
    })
}

fn check(crash: &str, path: &Path) {
    let name = path.file_name().unwrap().to_str().unwrap();
    let m = manifest(crash, None);
    let files = m["files"].as_array().unwrap();
    let entry = files.iter().find(|f| f["file"] == name);
    let r = info(path);
    let ctx = path.display();
    let dir_manifest = manifest(
        crash,
        shipped_dumps(crash)
            .first()
            .and_then(|p| p.file_name()?.to_str()),
    );
    assert_eq!(r["release"], dir_manifest["release"], "{ctx}");
    assert_eq!(r["build_id"], dir_manifest["build_id"], "{ctx}");
    let kaslr = format!("0x{}", dir_manifest["kaslr_kerneloffset"].as_str().unwrap());
    assert_eq!(r["kaslr_offset"], kaslr.as_str(), "{ctx}");
    assert_eq!(r["cpus"], dir_manifest["vcpus"], "{ctx}");
    assert_eq!(r["arch"], "x86_64", "{ctx}");
    assert_eq!(
        r["warnings"].as_array().unwrap().len(),
        0,
        "{ctx}: {}",
        r["warnings"]
    );
    assert_eq!(r["pages"]["missing"], 0, "{ctx}");
    if let Some(entry) = entry {
        let expected = match entry["format"].as_str().unwrap() {
            "ELF" => ("elf", false),
            "kdump-compressed" => ("kdump-compressed", false),
            "makedumpfile-flattened" => ("kdump-compressed", true),
            other => panic!("unknown manifest format {other}"),
        };
        assert_eq!(
            (
                r["format"].as_str().unwrap(),
                r["flattened"].as_bool().unwrap()
            ),
            expected,
            "{ctx}"
        );
    }
    if name.contains("-d31") {
        // ELF has no field for the dump level; kdump headers record it.
        let level = if name.ends_with(".elf") {
            Value::Null
        } else {
            31.into()
        };
        assert_eq!(r["dump_level"], level, "{ctx}");
        let compression = ["zlib", "lzo", "snappy", "zstd"]
            .into_iter()
            .find(|c| name.contains(c))
            .unwrap_or("none");
        let expected = if name.ends_with(".elf") {
            "none"
        } else {
            compression
        };
        assert_eq!(r["compression"], serde_json::json!([expected]), "{ctx}");
    }
    // crash read the same file; where it names a date, the crash time must agree.
    if let Some(cpus) = crash_sys_field(crash, name, "CPUS") {
        assert!(
            cpus.starts_with(&r["cpus"].to_string()),
            "{ctx}: crash says CPUS {cpus}"
        );
    }
    if let Some(release) = crash_sys_field(crash, name, "RELEASE") {
        assert_eq!(r["release"], release.as_str(), "{ctx}");
    }
    if let (Some(date), Some(ours)) = (
        crash_sys_field(crash, name, "DATE"),
        r["crash_time"].as_str(),
    ) {
        assert_eq!(ours, crash_date_iso(&date), "{ctx}");
    }
    let ram = dir_manifest["guest_ram_mb"].as_u64().unwrap() << 20;
    let mem = r["memory_bytes"].as_u64().unwrap();
    // A kdump capture omits its own crashkernel reservation; QEMU adds BIOS ROM.
    assert!(
        mem <= ram + (1 << 20) && mem + (200 << 20) >= ram,
        "{ctx}: memory {mem} vs guest RAM {ram}"
    );
}

#[test]
fn info_agrees_with_manifests_and_crash_on_every_fixture() {
    let mut checked = 0;
    for crash in CRASHES {
        for path in shipped_dumps(crash) {
            check(crash, &path);
            checked += 1;
        }
    }
    let elf = qemu_elf("sysrq").unwrap();
    check("sysrq", &elf);
    for v in [Derived::Elf, Derived::NoCompress, Derived::Reassembled] {
        check("sysrq", &derived("sysrq", v).unwrap());
        checked += 1;
    }
    assert!(checked >= 9, "only {checked} dumps checked");
}

#[test]
fn real_kdump_capture_has_crash_time_from_vmcoreinfo() {
    let path = &shipped_dumps("kdump-sysrq")[0];
    let r = info(path);
    assert_eq!(r["crash_time"], "2026-11-24T06:19:30Z");
    assert_eq!(r["vmcoreinfo"], "note");
}

#[test]
fn page_counts_agree_with_makedumpfile_report() {
    let report = makedumpfile_report("sysrq").unwrap();
    for path in shipped_dumps("sysrq")
        .into_iter()
        .chain([derived("sysrq", Derived::NoCompress).unwrap()])
    {
        let r = info(&path);
        let p = &r["pages"];
        let ctx = path.display();
        assert_eq!(p["present"], report.remaining, "{ctx}");
        // makedumpfile stores -d 31's zero pages as one shared page; we count them as zero.
        assert_eq!(p["zero"], report.zero, "{ctx}");
        assert_eq!(
            p["excluded"].as_u64().unwrap() + report.zero,
            report.excluded,
            "{ctx}"
        );
        let total = p["present"].as_u64().unwrap()
            + p["excluded"].as_u64().unwrap()
            + p["zero"].as_u64().unwrap();
        assert_eq!(total, report.original, "{ctx}");
    }
}

#[test]
fn a_file_that_is_not_a_dump_is_refused_with_its_name() {
    let out = Coroner::new()
        .arg("info")
        .arg(crash_dir("sysrq").join("console.log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("console.log") && err.contains("not a kernel crash dump"),
        "{err}"
    );
}

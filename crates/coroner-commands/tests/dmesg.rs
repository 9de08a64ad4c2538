//! `coroner dmesg` on every fixture variant equals, byte for byte, what
//! `makedumpfile --dump-dmesg` wrote for that crash, and what crash's `log` printed
//! for each dump it was run on; `--json` carries the same messages; a cut-off dump
//! gives the records it still holds, plus a warning.

mod common;

use common::{Coroner, Output};
use coroner_testdata::{all_variants, crash_dir, derived, qemu_elf, Derived, CRASHES};
use serde_json::Value;
use std::path::Path;

fn coroner(args: &[&str], path: &Path) -> Output {
    Coroner::new().args(args).arg(path).output().unwrap()
}

#[test]
fn text_equals_makedumpfile_on_every_variant() {
    let mut checked = 0;
    for crash in CRASHES {
        let reference = std::fs::read(crash_dir(crash).join("dmesg.makedumpfile.txt")).unwrap();
        for path in all_variants(crash) {
            let out = coroner(&["dmesg"], &path);
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.stdout == reference,
                "{}: differs from makedumpfile",
                path.display()
            );
            assert!(
                out.stderr.is_empty(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} dumps checked");
}

#[test]
fn text_equals_crash_log_on_every_dump_crash_read() {
    let mut checked = 0;
    for crash in CRASHES {
        for refs in std::fs::read_dir(crash_dir(crash).join("ref")).unwrap() {
            let refs = refs.unwrap().path();
            let name = refs.file_name().unwrap().to_str().unwrap().to_string();
            // Two of the dumps crash read are not shipped as they are.
            let path = match name.as_str() {
                "vmcore.qemu-elf" => qemu_elf(crash),
                "vmcore.mdf-d31-zlib.flat-R" => derived(crash, Derived::Reassembled),
                _ => Some(crash_dir(crash).join(&name)),
            }
            .unwrap();
            let reference = std::fs::read(refs.join("crash-log.txt")).unwrap();
            let out = coroner(&["dmesg"], &path);
            assert!(out.status.success(), "{}", path.display());
            assert!(
                out.stdout == reference,
                "{}: differs from crash's log",
                path.display()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 7, "every dump with crash's outputs");
}

#[test]
fn capture_kernel_makedumpfile_agrees_too() {
    // kdump-sysrq also has the log makedumpfile wrote inside the capture kernel.
    let dir = crash_dir("kdump-sysrq");
    let reference = std::fs::read(dir.join("dmesg.capture-kernel-makedumpfile.txt")).unwrap();
    let out = coroner(&["dmesg"], &dir.join("vmcore.kdump-mdf-d31-zlib"));
    assert!(out.stdout == reference);
}

#[test]
fn json_has_one_record_per_message_in_sequence() {
    let path = crash_dir("mod-null").join("vmcore.mdf-d31-zlib");
    let out = coroner(&["dmesg", "--json"], &path);
    assert!(out.status.success());
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    let records = log["records"].as_array().unwrap();
    let text = String::from_utf8(coroner(&["dmesg"], &path).stdout).unwrap();
    // Every text line that is not a continuation (indented) starts one record.
    let starts = text.lines().filter(|l| l.starts_with('[')).count();
    assert_eq!(records.len(), starts);
    for pair in records.windows(2) {
        assert!(pair[0]["seq"].as_u64() < pair[1]["seq"].as_u64());
        assert!(pair[0]["ts_nsec"].as_u64() <= pair[1]["ts_nsec"].as_u64());
    }
    for key in [
        "seq",
        "ts_nsec",
        "level",
        "facility",
        "caller",
        "text",
        "subsystem",
        "device",
    ] {
        assert!(records[0].get(key).is_some(), "missing key {key}");
    }
    let last = records.last().unwrap();
    assert!(last["text"]
        .as_str()
        .unwrap()
        .starts_with("---[ end Kernel panic"));
    assert_eq!(last["level"], 0, "panic messages are KERN_EMERG");
    assert_eq!(
        last["caller"], "T1",
        "the test module crashed in init's context"
    );
    let with_device = records.iter().filter(|r| r["device"].is_string()).count();
    assert!(with_device > 0, "dev_printk records carry their device");
}

#[test]
fn caller_prefix_on_request() {
    let path = crash_dir("mod-null").join("vmcore.mdf-d31-zlib");
    let plain = String::from_utf8(coroner(&["dmesg"], &path).stdout).unwrap();
    let with = String::from_utf8(coroner(&["dmesg", "--caller"], &path).stdout).unwrap();
    assert_eq!(plain.lines().count(), with.lines().count());
    for (a, b) in plain
        .lines()
        .zip(with.lines())
        .filter(|(a, _)| a.starts_with('['))
    {
        let (stamp, rest) = a.split_at(15);
        assert!(b.starts_with(stamp) && b.ends_with(rest), "{a:?} vs {b:?}");
        assert!(
            b[15..].starts_with('[') && b[15..26].ends_with("] "),
            "{b:?}"
        );
    }
}

#[test]
fn truncated_dump_gives_partial_log_and_says_so() {
    let path = crash_dir("sysrq").join("vmcore.mdf-d31-zstd");
    let bytes = std::fs::read(&path).unwrap();
    let reference = std::fs::read(crash_dir("sysrq").join("dmesg.makedumpfile.txt")).unwrap();
    let dir = std::env::temp_dir().join(format!("coroner-dmesg-cut-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut partial_seen = false;
    // Cut at several points: output must always be a clean prefix-or-subset of the
    // reference lines, never garbage, and a missing part must be reported.
    for tenth in [3, 5, 7, 9] {
        let cut = dir.join(format!("cut{tenth}"));
        std::fs::write(&cut, &bytes[..bytes.len() * tenth / 10]).unwrap();
        let out = coroner(&["dmesg"], &cut);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            let text = String::from_utf8(out.stdout).unwrap();
            let full = String::from_utf8_lossy(&reference);
            for line in text.lines() {
                assert!(
                    full.lines().any(|l| l == line),
                    "{tenth}/10: line not in the log: {line:?}"
                );
            }
            if text.len() < reference.len() {
                assert!(
                    stderr.contains("warning"),
                    "{tenth}/10: records lost silently"
                );
                partial_seen = true;
            }
        } else {
            assert!(
                stderr.contains("cannot read the kernel log"),
                "{tenth}/10: {stderr}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(partial_seen, "no cut gave a partial log");
}

//! A dump of a kernel without BTF (the fp-nobtf fixture: 6.1 built with frame
//! pointers, no ORC, no BTF) gets its types from the vmlinux's DWARF with
//! `--vmlinux`: `ps` lists the tasks drgn listed with the same vmlinux (and the
//! three crash 8.0.2 finds on 6.1), `bt` names the panic task as crash's `bt`
//! does; a vmlinux of another build is refused, naming both build-ids.

mod common;

use common::Coroner;
use coroner_testdata::{crash_dir, fixtures_dir, fp_vmlinux};
use std::path::PathBuf;

fn fp_dump() -> PathBuf {
    fixtures_dir().join("fp-nobtf/sysrq/vmcore.mdf-d31-zlib")
}

fn crash_ref(name: &str) -> String {
    let path = fixtures_dir()
        .join("fp-nobtf/sysrq/ref/vmcore.mdf-d31-zlib")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// (PID, task address, command) of each task in a `ps` listing, ours or crash's:
/// crash's has `%MEM VSZ RSS` before the command, ours does not.
fn tasks(ps: &str) -> Vec<(u32, String, String)> {
    ps.lines()
        .skip(1)
        .map(|l| {
            let words: Vec<&str> = l.trim_start_matches('>').split_whitespace().collect();
            let comm = words.last().unwrap().to_string();
            (words[0].parse().unwrap(), words[3].to_string(), comm)
        })
        .collect()
}

/// (PID, PPID, CPU, command) of drgn's task list (no idle tasks), sorted.
fn drgn_tasks(text: &str) -> Vec<(u32, u32, u32, String)> {
    let list = text.split("=== task list ===\n").nth(1).unwrap();
    let mut out: Vec<_> = list
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("==="))
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let n = |i: usize| w.get(i)?.parse().ok();
            Some((n(0)?, n(1)?, n(2)?, w.get(4)?.to_string()))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn without_btf_the_types_come_from_the_vmlinux() {
    let dump = fp_dump();
    let without = Coroner::new().arg("ps").arg(&dump).output().unwrap();
    assert_eq!(without.status.code(), Some(2));
    let err = String::from_utf8_lossy(&without.stderr);
    assert!(err.contains("--vmlinux"), "says what would help: {err}");

    let vmlinux = fp_vmlinux();
    let ps = common::stdout_of("ps", &dump, &["--vmlinux", vmlinux.to_str().unwrap()]);
    // drgn's list, which leaves the idle tasks out.
    let mut ours: Vec<(u32, u32, u32, String)> = ps
        .lines()
        .skip(1)
        .filter_map(|l| {
            let w: Vec<&str> = l.trim_start_matches('>').split_whitespace().collect();
            let pid: u32 = w[0].parse().ok()?;
            let comm = w.last()?.trim_start_matches('[').trim_end_matches(']');
            let (ppid, cpu) = (w[1].parse().ok()?, w[2].parse().ok()?);
            (pid > 0).then(|| (pid, ppid, cpu, comm.to_string()))
        })
        .collect();
    ours.sort();
    let drgn = drgn_tasks(&crash_ref("drgn-vmlinux.txt"));
    assert!(drgn.len() > 30, "{} tasks in drgn's list", drgn.len());
    assert_eq!(ours, drgn);
    // crash 8.0.2 finds three tasks on 6.1: each with its address.
    let all = tasks(&ps);
    for task in tasks(&crash_ref("crash-ps.txt")) {
        assert!(all.contains(&task), "{task:?} missing from\n{ps}");
    }

    let bt = common::stdout_of("bt", &dump, &["--vmlinux", vmlinux.to_str().unwrap()]);
    let header = |text: &str| {
        text.lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(header(&bt), header(&crash_ref("crash-bt.txt")));
}

#[test]
fn a_vmlinux_of_another_build_is_refused() {
    let dump = crash_dir("mod-null").join("vmcore.mdf-d31-zlib");
    let out = Coroner::new()
        .arg("ps")
        .arg(&dump)
        .arg("--vmlinux")
        .arg(fp_vmlinux())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not match the dump"), "{err}");
    // Both identities: the dump's, as `info` reads it, and the vmlinux's.
    let info = Coroner::new()
        .args(["info", "--json"])
        .arg(&dump)
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let dump_id = info["build_id"].as_str().unwrap();
    assert!(
        err.contains(&format!("the dump's kernel's is {dump_id}")),
        "{err}"
    );
    assert!(err.contains("its build-id is "), "{err}");
}

//! `coroner sys` agrees with crash's `sys` (run with the DWARF vmlinux) on every
//! field both compute from kernel data, on every fixture variant. TASKS differs by
//! design: crash 8.0.2 finds only the idle tasks and the panic task on this kernel
//! (its `ps` does the same); ours counts every task drgn lists, plus idle tasks.

mod common;

use common::Coroner;
use coroner_testdata::{all_variants, crash_dir, reference_dir, CRASHES};
use std::collections::BTreeMap;

const COMPARED: [&str; 10] = [
    "CPUS",
    "DATE",
    "UPTIME",
    "LOAD AVERAGE",
    "NODENAME",
    "RELEASE",
    "VERSION",
    "MACHINE",
    "MEMORY",
    "PANIC",
];

fn fields(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| COMPARED.contains(&k.as_str()))
        .collect()
}

#[test]
fn sys_fields_equal_crash() {
    for crash in CRASHES {
        for dump in all_variants(crash) {
            let reference = reference_dir(crash, Some(&dump)).join("crash-sys.txt");
            let expected = fields(&std::fs::read_to_string(reference).unwrap());
            assert_eq!(expected.len(), COMPARED.len(), "{crash}: crash's sys");
            let out = Coroner::new().arg("sys").arg(&dump).output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let ours = fields(&String::from_utf8(out.stdout).unwrap());
            assert_eq!(ours, expected, "{}", dump.display());
        }
    }
}

#[test]
fn sys_json_has_crash_field_names_and_the_panic_task() {
    let dump = crash_dir("mod-null").join("vmcore.mdf-d31-zlib");
    let out = Coroner::new()
        .args(["sys", "--json"])
        .arg(&dump)
        .output()
        .unwrap();
    let sys: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "kernel",
        "dumpfile",
        "cpus",
        "date",
        "uptime",
        "load_average",
        "tasks",
        "nodename",
        "release",
        "version",
        "machine",
        "memory",
        "panic",
        "pid",
        "command",
        "task",
        "cpu",
        "state",
    ] {
        assert!(sys.get(key).is_some(), "missing {key}");
    }
    // crash's bt header for this dump: PID: 1 TASK: ffff88dfc12148c0 CPU: 1 COMMAND: "init"
    let bt =
        std::fs::read_to_string(crash_dir("mod-null").join("ref/vmcore.mdf-d31-zlib/crash-bt.txt"))
            .unwrap();
    let header: Vec<&str> = bt.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(sys["pid"].to_string(), header[1]);
    assert_eq!(sys["task"], format!("0x{}", header[3]));
    assert_eq!(sys["schema"], "coroner.sys/1");
    assert_eq!(sys["identity"]["release"], sys["release"]);
    assert_eq!(sys["cpu"].to_string(), header[5]);
    assert_eq!(sys["command"], header[7]);
}

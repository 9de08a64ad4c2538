//! `triage` on a dump of a guest that hung without panicking (a fresh QEMU dump of
//! the factory's kernel: crashfixture's `hung` action blocks a task in D state
//! forever, dumped before the hung-task detector panics): a hang, with the blocked
//! task, where it waits, for how long, and each CPU's state.

mod common;

use common::Coroner;
use coroner_testdata::qemu;

#[test]
fn a_hung_guest_is_a_hang_with_its_blocked_task() {
    let Some(factory) = qemu::factory_or_skip("a_hung_guest_is_a_hang_with_its_blocked_task")
    else {
        return;
    };
    let dump = qemu::fresh_elf(
        &factory,
        "hung-task",
        "mod:hung",
        256,
        Some("crashfixture: sleeping uninterruptibly forever"),
    );
    let out = Coroner::new()
        .args(["triage", "--json"])
        .arg(&dump)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "a hang is a finding");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["crashed"], false, "nothing panicked");
    assert_eq!(r["class"], "hang");
    // crashfixture's hung action waits in wait_for_completion() from its own code.
    let guilty = r["guilty"].as_str().unwrap();
    assert!(guilty.starts_with("fx_"), "{guilty}");
    assert_eq!(r["module"], "crashfixture");
    assert_eq!(
        r["title"],
        format!("hang: 1 task blocked in {guilty}"),
        "{}",
        r["title"]
    );
    assert_eq!(r["signature"].as_str().unwrap().len(), 16);
    let hang = &r["hang"];
    let blocked = hang["blocked"].as_array().unwrap();
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    let task = &blocked[0];
    let frames: Vec<&str> = task["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["function"].as_str().unwrap())
        .collect();
    assert_eq!(&frames[..2], ["__schedule", "schedule"], "{frames:?}");
    assert!(frames.contains(&"__wait_for_common"), "{frames:?}");
    assert!(
        frames.contains(&"ksys_write"),
        "the write to /proc/crashfixture: {frames:?}"
    );
    // Blocked since the message, about the two seconds fxqemu waits before it dumps.
    let ns = task["blocked_ns"].as_u64().unwrap();
    assert!((500_000_000..60_000_000_000).contains(&ns), "{ns} ns");
    // The guest had nothing else to do.
    let cpus = hang["cpus"].as_array().unwrap();
    assert_eq!(cpus.len(), 2);
    assert!(cpus.iter().all(|c| c["idle"] == true), "{cpus:?}");
    // The text says the same.
    let text = Coroner::new().arg("triage").arg(&dump).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains(&format!("in {guilty}: __schedule < schedule")),
        "{text}"
    );
}

//! Every command treats a reader that closes early (`coroner bt -a | head -1`,
//! a shell pipe into `grep -q`) as a normal end: exit status 0, nothing on stderr
//! about it, never a panic.

use std::path::Path;
use std::process::{Command, Stdio};

fn example() -> String {
    let dump =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sysrq-6.1-small.kdump-zstd");
    dump.to_str().unwrap().to_string()
}

/// Runs coroner with its stdout's reading end closed before it writes anything.
fn into_closed_pipe(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_command_ends_quietly_on_a_closed_pipe() {
    let dump = example();
    let roots =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../coroner-host/tests/roots/rhel7-ready");
    let roots = roots.to_str().unwrap();
    let runs: Vec<Vec<&str>> = vec![
        vec!["info", &dump],
        vec!["info", &dump, "--json"],
        vec!["dmesg", &dump],
        vec!["dmesg", &dump, "--json"],
        vec!["sym", &dump, "panic", "no_such_symbol_here"],
        vec!["rd", &dump, "linux_banner", "64"],
        vec!["ps", &dump],
        vec!["ps", &dump, "--markdown"],
        vec!["mod", &dump],
        vec!["sys", &dump],
        vec!["triage", &dump],
        vec!["triage", &dump, "--markdown"],
        vec!["bt", &dump, "-a", "-f"],
        vec!["bt", &dump, "-a", "--json"],
        vec!["struct", &dump, "task_struct"],
        vec!["struct", &dump, "task_struct", "init_task"],
        vec!["p", &dump, "init_task"],
        vec!["kmem", &dump, "-s"],
        vec!["list", &dump, "-H", "slab_caches", "-s", "kmem_cache.name"],
        vec!["task", &dump],
        vec!["timer", &dump],
        vec!["log", &dump, "-T"],
        vec!["files", &dump],
        vec!["foreach", &dump, "files"],
        vec!["vm", &dump],
        vec!["kmem", &dump, "-p"],
        vec!["foreach", &dump, "vm"],
        vec!["dis", &dump, "panic"],
        vec!["dis", &dump, "panic", "--json"],
        vec!["doctor", "--root", roots],
        vec!["nmi", "qmp:/nonexistent.sock", "--dry-run"],
    ];
    for args in runs {
        let (status, stderr) = into_closed_pipe(&args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert_eq!(status, Some(0), "{args:?}: {stderr}");
    }
}

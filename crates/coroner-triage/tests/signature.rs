//! The signature groups one bug across occurrences: it must not move with what
//! differs between two occurrences (addresses, offsets, pids, timestamps, CPUs,
//! kernel build), and must move with what identifies the bug.

use coroner_triage::analyse;

/// One crash, with everything that varies between occurrences as parameters.
fn occurrence(
    time: &str,
    cpu: u32,
    pid: u32,
    release: &str,
    base: u64,
    offset: u32,
    clone: &str,
) -> String {
    format!(
        "[{time}] BUG: unable to handle page fault for address: {addr:016x}
[{time}] #PF: supervisor read access in kernel mode
[{time}] Oops: 0000 [#1] PREEMPT SMP NOPTI
[{time}] CPU: {cpu} PID: {pid} Comm: nfsd Not tainted {release} #1
[{time}] RIP: 0010:svc_tcp_recvfrom{clone}+0x{offset:x}/0x8e0 [sunrpc]
[{time}] RSP: 0018:{rsp:016x} EFLAGS: 00010246
[{time}] Call Trace:
[{time}]  <TASK>
[{time}]  ? __die+0x23/0x70
[{time}]  svc_handle_xprt+0x{o2:x}/0x4c0 [sunrpc]
[{time}]  svc_recv+0x{o3:x}/0x1a0 [sunrpc]
[{time}]  nfsd+0x{o4:x}/0x120 [nfsd]
[{time}]  kthread+0xe8/0x120
[{time}]  ret_from_fork+0x34/0x50
[{time}]  </TASK>
",
        addr = base + 0x1f8,
        rsp = base + 0x3c00,
        o2 = offset + 0x1b,
        o3 = offset / 2 + 7,
        o4 = offset / 3 + 5,
    )
}

fn signature(log: &str) -> String {
    analyse(log.as_bytes()).signature.expect("a crash")
}

#[test]
fn insensitive_to_what_differs_between_occurrences() {
    let first = signature(&occurrence(
        "  812.004512",
        3,
        1201,
        "6.1.0-18-amd64",
        0xffff_9a3c_4d00_0000,
        0x1c4,
        "",
    ));
    let variants = [
        // Another boot: time, CPU, pid and KASLR addresses differ.
        occurrence(
            "90211.771002",
            0,
            77,
            "6.1.0-18-amd64",
            0xffff_8b11_0200_0000,
            0x1c4,
            "",
        ),
        // Another build of the same code: release, offsets and a compiler clone.
        occurrence(
            "  812.004512",
            3,
            1201,
            "6.1.0-21-amd64",
            0xffff_9a3c_4d00_0000,
            0x1e0,
            ".isra.0",
        ),
        occurrence(
            "    3.100000",
            63,
            4_000_000,
            "6.1.76-cloud",
            0xffff_a000_0000_0000,
            0x2a8,
            ".constprop.0",
        ),
    ];
    for variant in &variants {
        assert_eq!(signature(variant), first);
    }
    // Timestamps with caller ids, or none at all, change nothing either.
    let with_callers = variants[0].replace("] ", "][ T77] ");
    assert_eq!(signature(&with_callers), first);
    let bare: String = variants[0]
        .lines()
        .map(|l| format!("{}\n", &l[l.find("] ").unwrap() + 2..]))
        .collect();
    assert_eq!(signature(&bare), first);
}

#[test]
fn sensitive_to_what_identifies_the_bug() {
    let base = occurrence("1.0", 0, 1, "6.1.0", 0xffff_9a3c_4d00_0000, 0x10, "");
    let reference = signature(&base);
    let other_function = base.replace("svc_tcp_recvfrom", "svc_udp_recvfrom");
    let other_caller = base.replace("svc_handle_xprt", "svc_process");
    let other_module = base.replace(
        "svc_tcp_recvfrom+0x10/0x8e0 [sunrpc]",
        "svc_tcp_recvfrom+0x10/0x8e0 [sunrpc_dbg]",
    );
    let other_class = base.replace(
        "unable to handle page fault for address:",
        "kernel NULL pointer dereference, address:",
    );
    for changed in [other_function, other_caller, other_module, other_class] {
        assert_ne!(signature(&changed), reference, "{changed}");
    }
}

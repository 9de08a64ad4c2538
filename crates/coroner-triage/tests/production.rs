//! Production-style logs: syslog and journal prefixes, logs without timestamps,
//! RHEL 7 (3.10) and current formats, several crashes in one log, and the
//! runbook cases the knowledge base is seeded with.

use coroner_triage::{triage, Class, KnowledgeBase, Report};

fn run(log: &str) -> Report {
    triage(log.as_bytes(), &KnowledgeBase::builtin().unwrap())
}

fn kb_ids(report: &Report) -> Vec<&str> {
    report.kb.iter().map(|k| k.id.as_str()).collect()
}

/// Prefixes every line as rsyslog writes kernel messages to /var/log/messages.
fn syslog(lines: &str) -> String {
    lines
        .lines()
        .map(|l| format!("Jan 11 22:31:38 hv07 kernel: {l}\n"))
        .collect()
}

const RHEL7_KVM_BUG: &str = "\
[1234567.123456] ------------[ cut here ]------------
[1234567.123460] kernel BUG at arch/x86/kvm/mmu.c:1298!
[1234567.123470] invalid opcode: 0000 [#1] SMP
[1234567.123480] Modules linked in: vhost_net vhost macvtap macvlan tun kvm_intel kvm irqbypass bridge stp llc
[1234567.123490] CPU: 17 PID: 48211 Comm: qemu-kvm Not tainted 3.10.0-693.21.1.el7.x86_64 #1
[1234567.123495] Hardware name: Dell Inc. PowerEdge R730/0WCJNT, BIOS 2.4.3 01/17/2017
[1234567.123500] task: ffff8817e4a1cf10 ti: ffff8817d2b34000 task.ti: ffff8817d2b34000
[1234567.123510] RIP: 0010:[<ffffffffc06b2a3d>]  [<ffffffffc06b2a3d>] kvm_zap_rmapp+0x5d/0x60 [kvm]
[1234567.123520] RSP: 0018:ffff8817d2b37b48  EFLAGS: 00010246
[1234567.123530] RAX: 0000000000000000 RBX: ffffc9001e7a3008 RCX: 0000000000000000
[1234567.123540] Call Trace:
[1234567.123550]  [<ffffffffc06b2a7e>] kvm_unmap_rmapp+0xe/0x20 [kvm]
[1234567.123560]  [<ffffffffc06b4c5c>] kvm_handle_hva_range+0x12c/0x1a0 [kvm]
[1234567.123570]  [<ffffffff810b6c3e>] ? try_to_wake_up+0x1fe/0x330
[1234567.123580]  [<ffffffffc06b4d13>] kvm_unmap_hva_range+0x13/0x20 [kvm]
[1234567.123590]  [<ffffffffc0686a1b>] kvm_mmu_notifier_invalidate_range_start+0x5b/0x90 [kvm]
[1234567.123600]  [<ffffffff811edbd3>] __mmu_notifier_invalidate_range_start+0x63/0xa0
[1234567.123610]  [<ffffffff811fd8ee>] change_protection_range+0x7de/0x860
[1234567.123620]  [<ffffffff811fd9a5>] change_protection+0x35/0x40
[1234567.123630]  [<ffffffff81210c1b>] change_prot_numa+0x1b/0x30
[1234567.123640]  [<ffffffff810d3a1a>] task_numa_work+0x22a/0x340
[1234567.123650]  [<ffffffff810b0a15>] task_work_run+0xb5/0xf0
[1234567.123660]  [<ffffffff8102ab62>] do_notify_resume+0x92/0xb0
[1234567.123670]  [<ffffffff816b533d>] int_signal+0x12/0x17
[1234567.123680] Code: 48 89 df e8 35 ff ff ff 84 c0 74 e3 41 b8 01 00 00 00 eb db 0f 0b <0f> 0b 0f 1f 40 00 0f 1f 44 00 00
[1234567.123690] RIP  [<ffffffffc06b2a3d>] kvm_zap_rmapp+0x5d/0x60 [kvm]
[1234567.123700]  RSP <ffff8817d2b37b48>
[1234567.123710] ---[ end trace 8fc2c5c7f5d7f22b ]---
[1234567.123720] Kernel panic - not syncing: Fatal exception
";

#[test]
fn rhel7_kvm_bug_in_syslog_is_the_known_pml_bug() {
    let report = run(&syslog(RHEL7_KVM_BUG));
    assert_eq!(report.title.as_deref(), Some("kernel BUG in kvm_zap_rmapp"));
    assert_eq!(report.class, Some(Class::Bug));
    assert_eq!(report.guilty.as_deref(), Some("kvm_zap_rmapp"));
    assert_eq!(report.module.as_deref(), Some("kvm"));
    assert_eq!(
        report.release.as_deref(),
        Some("3.10.0-693.21.1.el7.x86_64")
    );
    assert_eq!(
        (report.comm.as_deref(), report.pid, report.cpu),
        (Some("qemu-kvm"), Some(48211), Some(17))
    );
    assert_eq!(report.panic.as_deref(), Some("Fatal exception"));
    assert_eq!(
        report.frames[..3],
        ["kvm_zap_rmapp", "kvm_unmap_rmapp", "kvm_handle_hva_range"]
    );
    assert!(
        !report.frames.contains(&"try_to_wake_up".to_string()),
        "unreliable frame kept"
    );
    assert!(report.modules.contains(&"kvm_intel".to_string()));
    assert_eq!(kb_ids(&report), ["kvm-zap-rmapp-pml"]);
    // The same BUG_ON on a kernel outside the rule's release range is not it.
    let newer = RHEL7_KVM_BUG.replace("3.10.0-693.21.1.el7.x86_64", "5.14.0-70.el9.x86_64");
    assert!(kb_ids(&run(&newer)).is_empty());
}

#[test]
fn journal_export_without_timestamps_hung_task_panic() {
    let log = "\
-- Logs begin at Mon 2024-01-08 10:00:01 UTC. --
2024-01-11T22:31:38+0000 db3 systemd[1]: Started Session 12 of user root.
2024-01-11T22:31:38+0000 db3 kernel: INFO: task jbd2/dm-0-8:412 blocked for more than 120 seconds.
2024-01-11T22:31:38+0000 db3 kernel:       Not tainted 4.18.0-348.el8.x86_64 #1
2024-01-11T22:31:38+0000 db3 kernel: \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.
2024-01-11T22:31:38+0000 db3 kernel: task:jbd2/dm-0-8     state:D stack:    0 pid:  412 ppid:     2 flags:0x80004000
2024-01-11T22:31:38+0000 db3 kernel: Call Trace:
2024-01-11T22:31:38+0000 db3 kernel:  __schedule+0x2c4/0x700
2024-01-11T22:31:38+0000 db3 kernel:  schedule+0x38/0xa0
2024-01-11T22:31:38+0000 db3 kernel:  io_schedule+0x12/0x40
2024-01-11T22:31:38+0000 db3 kernel:  bit_wait_io+0xd/0x50
2024-01-11T22:31:38+0000 db3 kernel:  __wait_on_bit+0x6c/0x80
2024-01-11T22:31:38+0000 db3 kernel:  out_of_line_wait_on_bit+0x91/0xb0
2024-01-11T22:31:38+0000 db3 kernel:  jbd2_journal_commit_transaction+0x1606/0x1a00 [jbd2]
2024-01-11T22:31:38+0000 db3 kernel:  kjournald2+0xbd/0x270 [jbd2]
2024-01-11T22:31:38+0000 db3 kernel:  kthread+0x116/0x130
2024-01-11T22:31:38+0000 db3 kernel:  ret_from_fork+0x35/0x40
2024-01-11T22:31:38+0000 db3 kernel: Kernel panic - not syncing: hung_task: blocked tasks
2024-01-11T22:31:38+0000 db3 kernel: CPU: 5 PID: 97 Comm: khungtaskd Not tainted 4.18.0-348.el8.x86_64 #1
";
    let report = run(log);
    assert_eq!(
        report.title.as_deref(),
        Some("INFO: task hung in jbd2_journal_commit_transaction")
    );
    assert_eq!(report.class, Some(Class::HungTask));
    assert_eq!(report.module.as_deref(), Some("jbd2"));
    assert_eq!(
        (report.comm.as_deref(), report.pid),
        (Some("jbd2/dm-0-8"), Some(412))
    );
    assert_eq!(report.panic.as_deref(), Some("hung_task: blocked tasks"));
    assert_eq!(kb_ids(&report), ["hung-task-panic"]);
}

#[test]
fn soft_lockup_panic_rhel7() {
    let log = "\
[ 8642.104410] NMI watchdog: BUG: soft lockup - CPU#3 stuck for 23s! [kworker/3:1:8812]
[ 8642.104470] Modules linked in: nfsv3 nfs_acl nfs lockd grace sunrpc xfs
[ 8642.104520] CPU: 3 PID: 8812 Comm: kworker/3:1 Tainted: G             L ------------   3.10.0-1160.el7.x86_64 #1
[ 8642.104540] Workqueue: events nfs_expire_unused_delegations [nfs]
[ 8642.104560] RIP: 0010:[<ffffffff816a8f6e>]  [<ffffffff816a8f6e>] _raw_spin_lock+0x2e/0x30
[ 8642.104600] Call Trace:
[ 8642.104610]  [<ffffffffc0551f1c>] nfs_expire_unused_delegation_types+0x4c/0x110 [nfs]
[ 8642.104620]  [<ffffffffc0552011>] nfs_expire_unused_delegations+0x31/0x40 [nfs]
[ 8642.104630]  [<ffffffff810b2dff>] process_one_work+0x17f/0x440
[ 8642.104640]  [<ffffffff810b3f16>] worker_thread+0x126/0x3c0
[ 8642.104650]  [<ffffffff810bb621>] kthread+0xd1/0xe0
[ 8642.104660]  [<ffffffff816b4f1d>] ret_from_fork_nospec_begin+0x7/0x21
[ 8642.104700] Kernel panic - not syncing: softlockup: hung tasks
";
    let report = run(log);
    assert_eq!(
        report.title.as_deref(),
        Some("BUG: soft lockup in nfs_expire_unused_delegations")
    );
    assert_eq!(report.class, Some(Class::SoftLockup));
    assert_eq!((report.cpu, report.pid), (Some(3), Some(8812)));
    assert_eq!(report.taint.as_ref().unwrap().letters, "L");
    assert_eq!(kb_ids(&report), ["soft-lockup-panic"]);
}

#[test]
fn unknown_nmi_panic() {
    let log = "\
[ 5021.886401] Uhhuh. NMI received for unknown reason 3d on CPU 0.
[ 5021.886405] Do you have a strange power saving mode enabled?
[ 5021.886406] Kernel panic - not syncing: NMI: Not continuing
[ 5021.886410] CPU: 0 PID: 0 Comm: swapper/0 Not tainted 5.14.0-284.el9.x86_64 #1
[ 5021.886420] Call Trace:
[ 5021.886421]  <NMI>
[ 5021.886422]  dump_stack_lvl+0x34/0x48
[ 5021.886425]  panic+0x102/0x2d4
[ 5021.886428]  nmi_panic.cold+0xc/0xc
[ 5021.886430]  unknown_nmi_error.cold+0x33/0x3a
[ 5021.886432]  default_do_nmi+0xcd/0x110
[ 5021.886434]  exc_nmi+0x103/0x130
[ 5021.886436]  end_repeat_nmi+0x16/0x67
[ 5021.886438]  </NMI>
[ 5021.886439]  <TASK>
[ 5021.886440]  default_idle+0x10/0x20
[ 5021.886442]  </TASK>
";
    let report = run(log);
    assert_eq!(
        report.title.as_deref(),
        Some("NMI received for unknown reason")
    );
    assert_eq!(report.class, Some(Class::UnknownNmi));
    assert_eq!(report.panic.as_deref(), Some("NMI: Not continuing"));
    assert_eq!(report.cpu, Some(0));
    assert_eq!(
        report
            .trace
            .iter()
            .find(|f| f.function == "exc_nmi")
            .unwrap()
            .section,
        "nmi"
    );
    assert_eq!(kb_ids(&report), ["unknown-nmi"]);
    // The panic alone (the NMI line lost) is the same case.
    let alone = run(&log[log.find("[ 5021.886406]").unwrap()..]);
    assert_eq!(
        alone.title.as_deref(),
        Some("kernel panic: NMI: Not continuing")
    );
    assert_eq!(kb_ids(&alone), ["unknown-nmi"]);
}

#[test]
fn panic_on_oom_and_machine_check() {
    let oom = "\
[12001.101] stress invoked oom-killer: gfp_mask=0x6280ca(GFP_HIGHUSER_MOVABLE|__GFP_ZERO), order=0, oom_score_adj=0
[12001.102] CPU: 1 PID: 4242 Comm: stress Not tainted 6.1.0-18-amd64 #1  Debian 6.1.76-1
[12001.103] Call Trace:
[12001.104]  <TASK>
[12001.105]  dump_stack_lvl+0x44/0x5c
[12001.106]  dump_header+0x4a/0x211
[12001.107]  out_of_memory.cold+0xa/0x7e
[12001.108]  __alloc_pages_slowpath.constprop.0+0xce2/0xe20
[12001.109]  </TASK>
[12001.110] Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled
";
    let report = run(oom);
    assert_eq!(
        report.title.as_deref(),
        Some("kernel panic: Out of memory: system-wide panic_on_oom is enabled")
    );
    assert_eq!(report.class, Some(Class::PanicOnOom));
    assert_eq!(kb_ids(&report), ["panic-on-oom"]);

    let mce = "\
[81234.567] mce: [Hardware Error]: CPU 12: Machine Check Exception: 5 Bank 7: be00000000800400
[81234.567] mce: [Hardware Error]: RIP !INEXACT! 10:<ffffffff8101f2b5> {intel_idle+0x85/0x130}
[81234.567] mce: [Hardware Error]: TSC 2a4f3c1e7b8a ADDR 1f2e3d4c0 MISC 86
[81234.567] mce: [Hardware Error]: PROCESSOR 0:50654 TIME 1705012298 SOCKET 1 APIC 18 microcode 2006b06
[81234.567] mce: [Hardware Error]: Run the above through 'mcelog --ascii'
[81234.567] Kernel panic - not syncing: Fatal machine check
";
    let report = run(mce);
    assert_eq!(report.title.as_deref(), Some("machine check exception"));
    assert_eq!(report.class, Some(Class::MachineCheck));
    assert_eq!(report.cpu, Some(12));
    assert_eq!(report.panic.as_deref(), Some("Fatal machine check"));
    assert_eq!(kb_ids(&report), ["machine-check"]);
}

#[test]
fn old_sysrq_crash_is_a_null_dereference_asked_for() {
    let log = "\
[  210.413351] SysRq : Trigger a crash
[  210.413377] BUG: unable to handle kernel NULL pointer dereference at           (null)
[  210.413407] IP: [<ffffffff813ddc76>] sysrq_handle_crash+0x16/0x20
[  210.413436] PGD 3ea8e067 PUD 3ea8f067 PMD 0
[  210.413455] Oops: 0002 [#1] SMP
[  210.413662] CPU: 0 PID: 2938 Comm: bash Not tainted 3.10.0-514.el7.x86_64 #1
[  210.413800] Call Trace:
[  210.413814]  [<ffffffff813de4a2>] __handle_sysrq+0xa2/0x170
[  210.413837]  [<ffffffff813de978>] write_sysrq_trigger+0x28/0x40
[  210.413862]  [<ffffffff81251e5d>] proc_reg_write+0x3d/0x80
[  210.413887]  [<ffffffff811de4ad>] vfs_write+0xbd/0x1e0
[  210.413909]  [<ffffffff811def4f>] SyS_write+0x7f/0xe0
[  210.413932]  [<ffffffff81696b09>] system_call_fastpath+0x16/0x1b
";
    let report = run(log);
    assert_eq!(
        report.title.as_deref(),
        Some("BUG: unable to handle kernel NULL pointer dereference in sysrq_handle_crash")
    );
    assert_eq!(report.class, Some(Class::Sysrq));
    assert_eq!(
        report.rip.as_ref().unwrap().symbol,
        "sysrq_handle_crash+0x16/0x20"
    );
    assert_eq!(kb_ids(&report), ["sysrq-trigger"]);
}

#[test]
fn several_crashes_report_the_first_and_list_the_others() {
    let log = "\
[  100.0] WARNING: CPU: 2 PID: 77 at net/core/dev.c:3212 skb_warn_bad_offload+0x8c/0xd0
[  100.0] CPU: 2 PID: 77 Comm: ksoftirqd/2 Not tainted 6.6.0 #1
[  100.0] RIP: 0010:skb_warn_bad_offload+0x8c/0xd0
[  100.0] Call Trace:
[  100.0]  __skb_gso_segment+0x12c/0x150
[  100.0]  validate_xmit_skb+0x1a5/0x320
[  100.0] ---[ end trace 0000000000000000 ]---
[  160.0] WARNING: CPU: 1 PID: 78 at net/core/dev.c:3212 skb_warn_bad_offload+0x8c/0xd0
[  160.0] RIP: 0010:skb_warn_bad_offload+0x8c/0xd0
[  160.0] Call Trace:
[  160.0]  __skb_gso_segment+0x12c/0x150
[  200.0] BUG: kernel NULL pointer dereference, address: 0000000000000010
[  200.0] RIP: 0010:ext4_da_write_end+0x3a/0x290
[  200.0] Call Trace:
[  200.0]  generic_perform_write+0x10b/0x210
[  200.0] Kernel panic - not syncing: Fatal exception
";
    let report = run(log);
    assert_eq!(
        report.title.as_deref(),
        Some("WARNING in skb_warn_bad_offload")
    );
    assert_eq!(report.class, Some(Class::Warning));
    assert_eq!(report.line, Some(1));
    let others: Vec<_> = report
        .others
        .iter()
        .map(|o| (o.title.as_str(), o.line, o.count))
        .collect();
    assert_eq!(
        others,
        [
            ("WARNING in skb_warn_bad_offload", 8, 1),
            (
                "BUG: unable to handle kernel NULL pointer dereference in ext4_da_write_end",
                12,
                1
            ),
        ]
    );
    // The first report stops at the second: its trace is its own.
    assert_eq!(
        report.frames,
        [
            "skb_warn_bad_offload",
            "__skb_gso_segment",
            "validate_xmit_skb"
        ]
    );
}

#[test]
fn plain_dmesg_without_timestamps_and_newer_layouts() {
    let log = "\
general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] PREEMPT SMP NOPTI
CPU: 7 UID: 0 PID: 3321 Comm: kworker/7:2 Tainted: G        W          6.12.9-200.fc41.x86_64 #1
Tainted: [W]=WARN
Hardware name: LENOVO 21CBCTO1WW/21CBCTO1WW, BIOS N3AET75W (1.40 ) 03/01/2023
Workqueue: events_unbound fsnotify_mark_destroy_workfn
RIP: 0010:fsnotify_destroy_marks+0x2b/0x170
Call Trace:
 <TASK>
 ? die_addr+0x36/0x90
 ? exc_general_protection+0x1c5/0x430
 ? asm_exc_general_protection+0x26/0x30
 fsnotify_mark_destroy_workfn+0xa1/0xe0
 process_one_work+0x176/0x330
 worker_thread+0x252/0x390
 kthread+0xd2/0x100
 ret_from_fork+0x34/0x50
 ret_from_fork_asm+0x1a/0x30
 </TASK>
";
    let report = run(log);
    assert_eq!(
        report.title.as_deref(),
        Some("general protection fault in fsnotify_destroy_marks")
    );
    assert_eq!(report.class, Some(Class::GeneralProtection));
    assert_eq!(
        (report.cpu, report.pid, report.comm.as_deref()),
        (Some(7), Some(3321), Some("kworker/7:2"))
    );
    assert_eq!(report.release.as_deref(), Some("6.12.9-200.fc41.x86_64"));
    assert_eq!(report.taint.as_ref().unwrap().letters, "W");
    assert_eq!(
        report.frames[..2],
        ["fsnotify_destroy_marks", "fsnotify_mark_destroy_workfn"]
    );
}

#[test]
fn logs_without_a_crash() {
    for log in [
        "",
        "\n\n\n",
        "[    0.000000] Linux version 6.1.0 (x@y) #1 SMP\n[    1.0] Run /init as init process\n",
        "Jan 11 22:31:38 host sshd[123]: WARNING: something at a.c:1 f+0x1/0x2\n",
        "[   72.159680] WARNING: /etc/ssh/moduli does not exist, using fixed modulus\n",
    ] {
        let report = run(log);
        assert!(!report.crashed, "{log:?}");
        assert_eq!(report.title, None);
        assert!(report.kb.is_empty());
        assert_eq!(coroner_triage::text(&report), "no crash found\n");
    }
}

#[test]
fn machine_checks_logged_and_hard_lockups_without_panic_are_told_apart() {
    let logged = "\
[ 9912.4] mce: [Hardware Error]: Machine check events logged
[ 9912.4] EDAC MC2: 1 CE memory read error on CPU_SrcID#0_MC#2_Chan#0_DIMM#0 (channel:0 slot:0 page:0x3a9c1d)
";
    let report = run(logged);
    assert_eq!(report.title.as_deref(), Some("machine check events logged"));
    assert_eq!(report.class, Some(Class::MachineCheck));
    assert_eq!(kb_ids(&report), ["machine-check-logged"]);

    // A hard lockup the watchdog only warned about is not the panic rule's.
    let warned = "\
[ 78123.9] WARNING: CPU: 12 PID: 0 at kernel/watchdog.c:265 watchdog_overflow_callback+0x10c/0x120()
[ 78123.9] Watchdog detected hard LOCKUP on cpu 12
[ 78123.9] CPU: 12 PID: 0 Comm: swapper/12 Not tainted 3.10.0-1062.el7.x86_64 #1
[ 78123.9] Call Trace:
[ 78123.9]  <NMI>  [<ffffffffa9779262>] dump_stack+0x19/0x1b
[ 78123.9]  [<ffffffffa9782d79>] end_repeat_nmi+0x1e/0x81
[ 78123.9]  [<ffffffffc03a7a20>] ? nvme_irq+0x40/0x1b0 [nvme]
[ 78123.9]  <<EOE>>  <IRQ>  [<ffffffffa9146f54>] __handle_irq_event_percpu+0x44/0x1c0
";
    let report = run(warned);
    assert_eq!(
        report.title.as_deref(),
        Some("BUG: hard lockup in nvme_irq")
    );
    assert_eq!(report.class, Some(Class::HardLockup));
    assert!(kb_ids(&report).is_empty());
    let panicked = warned.replace(
        "WARNING: CPU: 12 PID: 0 at kernel/watchdog.c:265 watchdog_overflow_callback+0x10c/0x120()\n[ 78123.9] ",
        "Kernel panic - not syncing: ",
    );
    let report = run(&panicked);
    assert_eq!(
        report.title.as_deref(),
        Some("BUG: hard lockup in nvme_irq")
    );
    assert_eq!(kb_ids(&report), ["hard-lockup-panic"]);
}

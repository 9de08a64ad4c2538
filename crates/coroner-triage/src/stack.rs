//! Finding the frame a title names: walk a report's lines in the steps a crash format
//! prescribes, collect the function names of real frames, drop generic crash
//! machinery (panic, dump_stack, report helpers, locking, allocation, string and copy
//! helpers), and pick one.

use crate::pattern::{any_of, re};
use crate::symbol::demangle;
use regex::Regex;
use std::sync::LazyLock;

/// One step of a walk over the report's lines.
pub enum Step {
    /// Advance to the first line matching; its capture groups are frames.
    Find(Regex),
    /// Collect frames until a line starts another stack trace.
    Trace,
}

/// How the frame is chosen from the collected ones.
#[derive(Clone, Copy)]
pub enum Pick {
    /// The topmost frame that is not machinery.
    Top,
    /// Stalls and lockups loop somewhere inside a call; the stable identity is the
    /// caller of the dispatcher the loop runs under (a syscall, a work item, a timer).
    Stall,
    /// Hung tasks are victims: group the common waits (RCU grace periods, the RTNL
    /// mutex), otherwise take the first frame that is not a wait primitive.
    HungTask,
    /// Lockups caught by a watchdog NMI: where the CPU was stuck, the interrupted
    /// context's registers or the first frames below the NMI part of the trace
    /// (`trace::interrupted`), machinery skipped. The steps are not used.
    Interrupted,
}

pub struct FrameSpec {
    pub steps: Vec<Step>,
    /// Tried when `steps` find no frame (a second report layout of the same crash).
    pub fallback: Vec<Step>,
    pub skip: Regex,
    pub pick: Pick,
}

/// Functions that are never the culprit, whatever the report (matched anywhere in
/// the name unless anchored).
const MACHINERY: &[&str] = &[
    // Sanitizer runtimes and report printers.
    "__sanitizer",
    "__asan",
    "kasan",
    "hwasan",
    "__msan",
    "kmsan",
    "kcsan_setup_watchpoint",
    "check_memory_region",
    "check_heap_object",
    "check_object",
    "read_word_at_a_time",
    "(read|write)_once_.*nocheck",
    "print_address_description",
    "print_report",
    "print_usage_bug",
    "print_tainted",
    "print_unlock",
    "imbalance_bug",
    "__fortify_report",
    "^get_taint$",
    // Panic, oops and trap handling.
    "panic",
    "invalid_op",
    "report_bug",
    "fixup_bug",
    "do_error",
    "_trap$|do_trap",
    "show_stack",
    "dump_stack",
    "walk_stack",
    "dump_backtrace",
    "warn_slowpath",
    "warn_alloc",
    "warn_bogus",
    "__warn",
    "program_check_exception",
    "program_check_common",
    "assertfail",
    "stack_trace_consume_entry",
    "arch_stack_walk",
    "stack_trace_save",
    // powerpc system call entry and exit: below every syscall, never a culprit.
    "^system_call_(?:exception|common|vectored)",
    "^syscall_exit_",
    "^ret_from_(?:syscall|except(?:_lite)?|kernel_thread)$",
    "^interrupt_return",
    // arm64 exception entry.
    "do_(kernel|translation)_fault",
    "do_mem_abort",
    "el1_abort",
    "el1h_64_sync(?:_handler)?",
    // Allocation.
    "alloc_page",
    "k?v?(?:m|z|c)alloc",
    "krealloc",
    "kmem_cache",
    "allocate_slab",
    "__alloc_frozen_pages_noprof",
    "folio_(?:alloc|unlock)",
    "filemap_alloc_folio",
    "__filemap_get_folio",
    "find_or_create_page",
    "do_read_cache_folio",
    "read_cache_page",
    "pagecache_get_page",
    "grab_cache_page_write_begin",
    "slab_",
    "^kv?free$",
    "kfree_skb",
    "memdup",
    // Debug objects and lockdep.
    "debug_object",
    "timer_is_static_object",
    "work_is_static_object",
    "lockdep",
    "lock_acquire",
    "lock_release",
    "lock_class",
    "mark_lock",
    "(reacquire|mark)_held_locks",
    "(trace|lockdep)_(hard|soft)irq",
    "seqprop_assert",
    "ref_tracker",
    // Locking primitives.
    "bh_enable",
    "bh_disable",
    "raw_spin_rq",
    "spin_lock",
    "spin_trylock",
    "spin_unlock",
    "read_lock",
    "read_trylock",
    "write_lock",
    "write_trylock",
    "read_unlock",
    "write_unlock",
    "^down$",
    "down_read",
    "down_write",
    "down_read_trylock",
    "down_write_trylock",
    "down_trylock",
    "up_read",
    "up_write",
    "^mutex_",
    "^__mutex_",
    "^rt_mutex_",
    "owner_on_cpu",
    "osq_lock",
    "osq_unlock",
    "^(un)?lock_page",
    "lock_timer_base",
    // Atomics, bit operations, reference counts.
    "atomic(64)?_(dec|inc|read|set|or|xor|and|add|sub|fetch|xchg|cmpxchg|try)",
    "(set|clear|change|test)_bit",
    "^refcount_",
    "^kref_",
    "^klist_",
    // Memory and string helpers.
    "memcpy",
    "memcmp",
    "memset",
    "memchr",
    "memmove",
    "strcmp",
    "strncmp",
    "strcpy",
    "strlcpy",
    "strncpy",
    "strscpy",
    "strlen",
    "strstr",
    "strnstr",
    "strnlen",
    "strchr",
    "strdup",
    "strndup",
    "string",
    "pointer",
    "snprintf",
    "scnprintf",
    "kasprintf",
    "kvasprintf",
    "printk",
    "va_format",
    "hex_dump_to_buffer",
    "print_hex_dump",
    "^crc\\d+",
    "crc_itu_t",
    // User copies and faults.
    "copy_to_user",
    "copy_from_user",
    "copy_to_iter",
    "copy_from_iter",
    "copy_page_to_iter",
    "copy_page_from_iter",
    "copy_folio_to_iter",
    "^copyin$",
    "^copyout$",
    "put_user",
    "get_user",
    "might_fault",
    "might_sleep",
    "__might_fault",
    "__might_resched",
    "extract_(user|iter)_to_sg",
    "__phys_addr",
    // Lists and trees.
    "list_add",
    "list_del",
    "list_replace",
    "list_move",
    "list_splice",
    "^rb_",
    "^__rb_",
    "rhashtable_lookup",
    "xas_(?:start|load|find)",
    "find_lock_entries",
    // Retpolines and MMIO accessors.
    "_indirect_thunk_",
    "readb$",
    "readw$",
    "readl$",
    "readq$",
    "writeb$",
    "writew$",
    "writel$",
    "writeq$",
    "logic_in",
    "logic_out",
    // Device printing.
    "dev_info",
    "dev_notice",
    "dev_warn",
    "dev_err",
    "dev_alert",
    "dev_crit",
    "dev_emerg",
    // Waiting, work queues and timers.
    "__wake_up",
    "^complete$",
    "wait_for_completion",
    "finish_wait",
    "del_timer",
    "flush_work",
    "__cancel_work_timer",
    "cancel_work_sync",
    "try_to_grab_pending",
    "flush_workqueue",
    "drain_workqueue",
    "destroy_workqueue",
    "queue_work",
    "insert_work",
    "__queue_delayed_work",
    "queue_delayed_work_on",
    "kthread_stop",
    "__timer_delete_sync",
    "sk_stop_timer_sync",
    "__mod_timer",
    "cleanup_srcu_struct",
    // Device model and teardown helpers that only pass a bug along.
    "kobject_",
    "add_uevent_var",
    "get_device_parent",
    "device_add",
    "device_del",
    "device_unregister",
    "device_destroy",
    "device_release",
    "devres_release_all",
    "hwrng_unregister",
    "i2c_del_adapter",
    "__unregister_client",
    "device_for_each_child",
    "rollback_registered",
    "unregister_netdev",
    "sysfs_remove",
    "device_remove_file",
    "tty_unregister_device",
    "^put_device$",
    "ida_free",
    // USB submission paths: the caller is the driver with the bug.
    "dummy_urb_enqueue",
    "usb_kill_urb",
    "usb_kill_anchored_urbs",
    "usb_control_msg",
    "usb_hcd_submit_urb",
    "usb_submit_urb",
    // VFS reference drops and page cache teardown.
    "^iput$",
    "^iput_final$",
    "^ihold$",
    "fast_dput",
    "dput",
    "drop_nlink",
    "truncate_inode_pages_range",
    "mark_buffer_dirty",
    // Tracing.
    "perf_trace",
];

/// Lines that start a (new) stack trace.
pub static STACK_START: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"Call (?:T|t)race",
        r"Allocated:",
        r"Allocated by task [0-9]+:",
        r"Freed:",
        r"Freed by task [0-9]+:",
        // "backtrace:" of kmemleak (with its crc), but not lockdep's "stack backtrace:".
        r"[^k] backtrace(?: \(crc [[:xdigit:]]*\))?:",
        r"Backtrace:",
        r"Uninit was stored to memory at",
        // riscv prints no header before the stack of a kernel-mode show_regs().
        r"status: [0-9a-f]{16} badaddr: [0-9a-f]{16} cause: [0-9a-f]{16}",
    ]
    .iter()
    .map(|p| re(p))
    .collect()
});

/// A frame line: optional return addresses, then the function (x86, arm64, ...);
/// or arm's `[<pc>] (callee) from [<pc>] (caller+..`, which names two frames.
/// Kernels before 4.9 print stack section markers in front of a frame
/// (` <IRQ>  [<ffff..>] foo+0x1/0x2`); s390 prints some frames in parentheses.
pub static FRAME: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    vec![
        re(r"^ *(?:<{1,2}/?[A-Z]+>{1,2} +)*\(?(?:@PC@ ){0,2}@FUNC@"),
        re(r"^ *@PC@ \(([a-zA-Z0-9_.]+)\) from @PC@ \(@FUNC@"),
    ]
});

/// Lines after which a trace is over without another starting: s390 prints the
/// last branch taken (one frame) after the call trace.
static TRACE_END: LazyLock<Regex> = LazyLock::new(|| re(r"^ *Last Breaking-Event-Address:"));

/// Fault-injection stacks interleave with crash reports; seeing one means the
/// frames around it cannot be trusted.
static INJECTED_FAULT: LazyLock<Regex> =
    LazyLock::new(|| re(r"^( \[<?(?:0x)?[0-9a-f]+>?\])? should_fail(slab)?(\.[a-z0-9.]+)?\+0x"));

/// Builds the skip regex of a format: the machinery plus the format's own list.
pub fn skip_list(extra: &[&str]) -> Regex {
    // Most formats add nothing: they share one compiled machinery regex.
    static MACHINERY_ONLY: LazyLock<Regex> = LazyLock::new(|| any_of(MACHINERY));
    if extra.is_empty() {
        return MACHINERY_ONLY.clone();
    }
    let mut all: Vec<&str> = MACHINERY.to_vec();
    all.extend_from_slice(extra);
    any_of(&all)
}

/// Syscall wrappers differ by architecture and version (`__x64_sys_`, `SyS_`,
/// `__do_sys_`); the name without them is the same syscall everywhere.
pub fn strip_syscall_prefix(frame: &str) -> &str {
    const PREFIXES: &[&str] = &[
        "SYSC_",
        "SyS_",
        "sys_",
        "__x64_",
        "__ia32_",
        "__arm64_",
        "__s390x_",
        "__s390_",
        "____sys_",
        "___sys_",
        "__sys_",
        "__se_",
        "__se_sys_",
        "__do_sys_",
        "compat_SYSC_",
        "compat_SyS_",
        "ksys_",
    ];
    PREFIXES
        .iter()
        .filter_map(|p| frame.strip_prefix(p))
        .min_by_key(|s| s.len())
        .unwrap_or(frame)
}

/// The frames found, one per `Trace` step that ended (formats naming two stacks,
/// such as KMSAN's use and origin, yield two), and whether every one was found.
pub struct Found {
    pub frames: Vec<String>,
    pub complete: bool,
}

/// Walks `lines` (the report from the title's match on) with `spec`.
pub fn find_frames(spec: &FrameSpec, lines: &[&str]) -> Found {
    if matches!(spec.pick, Pick::Interrupted) {
        let candidates = crate::trace::interrupted(lines);
        let frame = candidates
            .iter()
            .map(|f| strip_syscall_prefix(f))
            .find(|f| !spec.skip.is_match(f))
            .or_else(|| candidates.first().map(String::as_str));
        return Found {
            complete: frame.is_some(),
            frames: vec![frame.unwrap_or("corrupted").to_string()],
        };
    }
    let found = walk(spec, &spec.steps, lines);
    if found.complete || spec.fallback.is_empty() {
        return found;
    }
    walk(spec, &spec.fallback, lines)
}

fn walk(spec: &FrameSpec, steps: &[Step], lines: &[&str]) -> Found {
    let mut rest = lines.iter();
    let mut raw: Vec<String> = Vec::new();
    let mut found = Found {
        frames: Vec::new(),
        complete: true,
    };
    let mut traces = 0;
    let mut index = 0;
    loop {
        let at_end = index == steps.len();
        if at_end || (matches!(steps[index], Step::Trace) && traces > 0) {
            match pick(spec.pick, &raw) {
                Some(frame) => found.frames.push(frame),
                None => {
                    found.frames.push("corrupted".to_string());
                    found.complete = false;
                }
            }
            raw.clear();
        }
        if at_end {
            return found;
        }
        match &steps[index] {
            Step::Find(pattern) => {
                for line in rest.by_ref() {
                    if INJECTED_FAULT.is_match(line) {
                        found.complete = false;
                        break;
                    }
                    if let Some(caps) = pattern.captures(line) {
                        push_captures(&mut raw, &caps, spec);
                        break;
                    }
                }
            }
            Step::Trace => {
                traces += 1;
                let next = steps.get(index + 1);
                for line in rest.by_ref() {
                    if INJECTED_FAULT.is_match(line) {
                        found.complete = false;
                        break;
                    }
                    if STACK_START.iter().any(|s| s.is_match(line)) || TRACE_END.is_match(line) {
                        break;
                    }
                    // The step after this trace may start on this line: take it and
                    // go on after it.
                    if let Some(Step::Find(pattern)) = next {
                        if let Some(caps) = pattern.captures(line) {
                            push_captures(&mut raw, &caps, spec);
                            index += 1;
                            break;
                        }
                    }
                    if let Some(caps) = FRAME.iter().find_map(|f| f.captures(line)) {
                        push_captures(&mut raw, &caps, spec);
                    }
                }
            }
        }
        index += 1;
    }
}

fn push_captures(raw: &mut Vec<String>, caps: &regex::Captures, spec: &FrameSpec) {
    for name in caps.iter().skip(1).flatten() {
        let name = demangle(name.as_str());
        // A stall's dispatcher is kept even where it is machinery (powerpc's
        // syscall entry): the frame above it is the stall's name.
        let anchor = matches!(spec.pick, Pick::Stall) && STALL_ANCHORS.is_match(&name);
        if anchor || !spec.skip.is_match(&name) {
            raw.push(name.into_owned());
        }
    }
}

fn pick(how: Pick, raw: &[String]) -> Option<String> {
    let stripped: Vec<&str> = raw.iter().map(|f| strip_syscall_prefix(f)).collect();
    match how {
        Pick::Top => stripped.first().map(|s| s.to_string()),
        Pick::Stall => stall_frame(&stripped),
        Pick::HungTask => hung_task_frame(&stripped),
        // Chosen before the walk (find_frames).
        Pick::Interrupted => stripped.first().map(|s| s.to_string()),
    }
}

/// Dispatchers a stall loops under; the frame just above the first one names the
/// loop. Socket, file and ioctl entry points are dispatchers too: the frame above
/// them says which protocol or device.
static STALL_ANCHORS: LazyLock<Regex> = LazyLock::new(|| {
    any_of(&[
        "process_one_work",
        "do_syscall_",
        "do_fast_syscall_",
        "sysenter_dispatch",
        "tracesys_phase2",
        "el0_svc_handler",
        "invoke_syscall",
        // s390 and powerpc system call dispatchers.
        "^__do_syscall$",
        "^system_call_exception$",
        "ret_fast_syscall",
        "netif_receive_skb",
        "do_softirq",
        "call_timer_fn",
        "_run_timers",
        "run_timer_softirq",
        "hrtimer_run",
        "run_ksoftirqd",
        "smpboot_thread_fn",
        "^kthread$",
        "start_secondary",
        "cpu_startup_entry",
        "ret_from_fork",
        "vfs_write",
        "vfs_read",
        "vfs_iter_read",
        "vfs_iter_write",
        "do_iter_read",
        "do_iter_write",
        "call_read_iter",
        "call_write_iter",
        "new_sync_read",
        "new_sync_write",
        "vfs_ioctl",
        "ksys_ioctl",
        "compat_ioctl",
        "compat_sys_ioctl",
        "blkdev_driver_ioctl",
        "blkdev_ioctl",
        "do_iter_readv_writev",
        "^call_mmap",
        "mmap_region",
        "do_mmap",
        "do_dentry_open",
        "vfs_open",
        "^sock_sendmsg",
        "^sock_recvmsg",
        "^sock_release",
        "^__sock_release",
        "^setsockopt$",
        "kernel_setsockopt",
        "sock_common_setsockopt",
        "^listen$",
        "kernel_listen",
        "sk_common_release",
        "^sock_mmap",
        "^accept$",
        "kernel_accept",
        "^sock_do_ioctl",
        "^sock_ioctl",
        "^compat_sock_ioctl",
        "^nfnetlink_rcv_msg",
        "^rtnetlink_rcv_msg",
        "^netlink_dump",
        "^(sys_)?(socketpair|connect|ioctl)",
        "__do_fault",
        "do_page_fault",
        "^page_fault$",
        "__fput",
        "task_work_run",
        "exit_to_usermode",
        "smp_call_function",
        "tasklet_action",
        "tasklet_hi_action",
    ])
});

fn stall_frame(frames: &[&str]) -> Option<String> {
    let mut previous = *frames.first()?;
    for &frame in frames {
        if STALL_ANCHORS.is_match(frame) {
            // Cross-CPU calls vary below; the call itself is the identity.
            if frame.contains("smp_call_function") {
                return Some("smp_call_function".to_string());
            }
            return Some(previous.to_string());
        }
        previous = frame;
    }
    None
}

fn hung_task_frame(frames: &[&str]) -> Option<String> {
    const GROUPS: &[(&str, &str)] = &[
        ("rtnl_lock", ""),
        ("synchronize_rcu", "synchronize_rcu"),
        ("synchronize_srcu", "synchronize_rcu"),
        ("synchronize_net", "synchronize_rcu"),
        ("synchronize_sched", "synchronize_rcu"),
    ];
    for &frame in frames {
        for &(anchor, group) in GROUPS {
            if frame.contains(anchor) {
                return Some(if group.is_empty() { frame } else { group }.to_string());
            }
        }
    }
    const WAITS: &[&str] = &[
        "sched",
        "_lock",
        "_slowlock",
        "down",
        "rwsem",
        "completion",
        "kthread",
        "wait",
        "synchronize",
        "context_switch",
        "__switch_to",
        "cancel_delayed_work",
        "rcu_barrier",
    ];
    frames
        .iter()
        .find(|f| !WAITS.iter().any(|w| f.contains(w)))
        .map(|f| f.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::CALL_TRACE;

    fn spec(pick: Pick) -> FrameSpec {
        FrameSpec {
            steps: vec![Step::Find(re(CALL_TRACE)), Step::Trace],
            fallback: Vec::new(),
            skip: skip_list(&[]),
            pick,
        }
    }

    #[test]
    fn machinery_and_unreliable_lines_are_skipped() {
        let lines = [
            "Call Trace:",
            " dump_stack_lvl+0x44/0x5c",
            " panic+0x118/0x2f4",
            " ? _printk+0x68/0x83",
            " sysrq_handle_crash+0x16/0x20",
        ];
        let found = find_frames(&spec(Pick::Top), &lines);
        assert_eq!(found.frames, ["sysrq_handle_crash"]);
        assert!(found.complete);
    }

    #[test]
    fn no_frames_is_corrupted() {
        let found = find_frames(&spec(Pick::Top), &["Call Trace:", "Code: 00"]);
        assert_eq!(found.frames, ["corrupted"]);
        assert!(!found.complete);
    }

    #[test]
    fn stall_takes_the_frame_above_the_dispatcher() {
        let lines = [
            "Call Trace:",
            " foo_loop+0x1/0x2",
            " foo_ioctl+0x1/0x2",
            " vfs_ioctl+0x1/0x2",
            " __x64_sys_ioctl+0x1/0x2",
        ];
        assert_eq!(
            find_frames(&spec(Pick::Stall), &lines).frames,
            ["foo_ioctl"]
        );
    }

    #[test]
    fn hung_tasks_group_rcu_waits() {
        let lines = [
            "Call Trace:",
            " __schedule+0x1/0x2",
            " synchronize_srcu+0x1/0x2",
            " foo+0x1/0x2",
        ];
        assert_eq!(
            find_frames(&spec(Pick::HungTask), &lines).frames,
            ["synchronize_rcu"]
        );
    }

    #[test]
    fn syscall_prefixes() {
        assert_eq!(strip_syscall_prefix("__x64_sys_write"), "sys_write");
        assert_eq!(strip_syscall_prefix("ksys_write"), "write");
        assert_eq!(strip_syscall_prefix("SyS_ioctl"), "ioctl");
        assert_eq!(strip_syscall_prefix("foo"), "foo");
    }
}

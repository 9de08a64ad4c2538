//! The crash catalog: every kind of kernel report this crate recognises, as the line
//! that starts it (`header`) and the layouts it comes in (`Format`). A format says
//! how to title the report, following the convention that syzbot and the kernel
//! mailing lists use (`KIND in FUNCTION`), and how to find the function.
//!
//! Order matters twice: a line holding several headers belongs to the first kind
//! listed, and among a kind's formats matching at the same place the first wins.

use crate::class::Class;
use crate::pattern::{re, CALL_TRACE, RIP_LINE};
use crate::stack::{skip_list, FrameSpec, Pick, Step};
use regex::Regex;
use std::sync::LazyLock;

pub struct Kind {
    /// Text whose presence in a line starts a report of this kind.
    pub header: &'static str,
    pub formats: Vec<Format>,
    /// Lines holding the header that are not reports (benign messages).
    pub benign: Option<Regex>,
    /// When set, only lines matching it start a report (for generic headers).
    pub gate: Option<Regex>,
    /// The report is only one when output came before it (`scan::earlier_output`):
    /// a boot seen again.
    pub after: Option<Earlier>,
    /// Events that are the primary report only of a log holding no other (a
    /// machine check logged and survived); they never end another report.
    pub minor: bool,
}

/// What must come before a header for it to start a report.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Earlier {
    /// Any output but the boot loader's and the kernel decompressor's.
    Output,
    /// Kernel log lines of an earlier boot.
    KernelOutput,
}

pub struct Format {
    /// Where the report's title text is (searched across lines).
    pub title: Regex,
    /// A stricter pattern whose groups feed the template; when it fails to match,
    /// the next format is tried.
    pub report: Option<Regex>,
    /// The title: `{n}` is the n-th capture group, then the frames found.
    pub template: &'static str,
    pub frame: Option<FrameSpec>,
    /// Formats without a frame spec whose title names a function: the template
    /// argument holding it, which is then the guilty function too.
    pub names: Option<usize>,
    /// Where the guilty function is looked for when it is not the title's (lockups:
    /// where the CPU was stuck, while the title names what the stall ran under).
    pub guilty: Option<FrameSpec>,
    /// The report carries no stack trace by design (so none missing is no damage).
    pub no_stack_trace: bool,
    /// Matching this format means the report lost its real start.
    pub corrupted: bool,
    pub class: Class,
}

fn format(class: Class, title: &str, template: &'static str) -> Format {
    Format {
        title: re(title),
        report: None,
        template,
        frame: None,
        names: None,
        guilty: None,
        no_stack_trace: false,
        corrupted: false,
        class,
    }
}

impl Format {
    fn report(mut self, pattern: &str) -> Format {
        self.report = Some(re(pattern));
        self
    }
    fn frame(mut self, spec: FrameSpec) -> Format {
        self.frame = Some(spec);
        self
    }
    fn names(mut self, argument: usize) -> Format {
        self.names = Some(argument);
        self
    }
    fn guilty(mut self, spec: FrameSpec) -> Format {
        self.guilty = Some(spec);
        self
    }
    fn no_stack(mut self) -> Format {
        self.no_stack_trace = true;
        self
    }
    fn corrupted(mut self) -> Format {
        self.corrupted = true;
        self
    }
}

fn spec(steps: Vec<Step>, skip: &[&str]) -> FrameSpec {
    FrameSpec {
        steps,
        fallback: Vec::new(),
        skip: skip_list(skip),
        pick: Pick::Top,
    }
}

impl FrameSpec {
    fn pick(mut self, pick: Pick) -> FrameSpec {
        self.pick = pick;
        self
    }
}

fn find(pattern: &str) -> Step {
    Step::Find(re(pattern))
}

/// The faulting function, then the call trace.
fn rip_then_trace(skip: &[&str]) -> FrameSpec {
    spec(vec![find(RIP_LINE), find(CALL_TRACE), Step::Trace], skip)
}

fn call_trace(skip: &[&str]) -> FrameSpec {
    spec(vec![find(CALL_TRACE), Step::Trace], skip)
}

fn rip_only() -> FrameSpec {
    spec(vec![find(RIP_LINE)], &[])
}

/// WARNINGs trap: newer kernels print the trapping RIP (powerpc: the interrupt
/// frame, "--- Exception:" before 4.x) then the stack; older ones print only the
/// stack.
fn warning(skip: &[&str]) -> FrameSpec {
    let mut spec = spec(
        vec![
            find(&format!(
                "(?:{RIP_LINE}|--- (?:interrupt|Exception): [0-9a-f]+ at @FUNC@)"
            )),
            Step::Trace,
        ],
        skip,
    );
    spec.fallback = vec![find(CALL_TRACE), Step::Trace];
    spec
}

/// Where a CPU stopped by a watchdog was running (`Pick::Interrupted`), without
/// the watchdog's own NMI and perf machinery.
fn interrupted() -> FrameSpec {
    // Compiled once: several formats share it.
    static SKIP: LazyLock<Regex> = LazyLock::new(|| {
        skip_list(&[
            "^(?:do_|default_do_|exc_|asm_exc_|end_repeat_|repeat_|first_)?nmi(?:_handle)?$",
            "watchdog",
            "perf_event",
            "pmu_handle_irq",
            "notifier_call_chain",
            "^notify_die$",
            "^die_nmi$",
        ])
    });
    FrameSpec {
        steps: Vec::new(),
        fallback: Vec::new(),
        skip: SKIP.clone(),
        pick: Pick::Interrupted,
    }
}

fn kind(header: &'static str, formats: Vec<Format>, benign: &[&str]) -> Kind {
    Kind {
        header,
        formats,
        benign: (!benign.is_empty()).then(|| crate::pattern::any_of(benign)),
        gate: None,
        after: None,
        minor: false,
    }
}

/// Device and network-device messages (`snd_hda_intel 0000:00:1b.0: ...`, `e1000e
/// 0000:00:19.0 eno1: ...`, `usb 1-1.2: ...`, `ata1.00: ...`, `eth0: ...`) are a
/// driver's own text, whatever words they hold: the kernel's BUG reports never start
/// so. (syzkaller counts a device's "WARNING:" line as a report; so does this catalog.)
const DEVICE_MESSAGE: &str = r"^(?:[a-z][a-z0-9_\-]* [A-Za-z0-9_\-]*[0-9][A-Za-z0-9_.:\-]*(?: [A-Za-z0-9_.\-]+)?|[a-z]+[0-9]+(?:\.[0-9]+)?): .*BUG:";

/// The decompressor's and boot loader's lines, which come before every boot.
pub const BOOT_PREAMBLE: &str = r"Decompressing Linux|Parsing ELF|Uncompressing Linux|early console in extract_kernel|^(?:input_data|input_len|output|output_len|kernel_total_size|needed_size|trampoline_32bit): 0x|KASLR|^Booting the kernel|^Linux version |Command line: |EFI stub: |Loading Linux |Loading initial ramdisk|^Starting kernel";

/// SLUB's consistency checks (mm/slub.c): "BUG <cache> (<taint>): <what went
/// wrong>". KASAN reuses the layout inside its own reports; those are not listed.
const SLUB_REPORT: &str = r"BUG [^ ]+ \((?:Not tainted|Tainted:[^)]*)\): ((?:Left |Right )?Redzone overwritten|Poison overwritten|Object padding overwritten|Padding overwritten|Freepointer corrupt|Freechain corrupt|Object already free|Wrong number of objects|Wrong object count|Objects remaining|Invalid object pointer|Not a valid slab page)";

fn slub_format() -> Format {
    format(Class::SlabCorruption, SLUB_REPORT, "BUG: {1}").no_stack()
}

pub static CATALOG: LazyLock<Vec<Kind>> = LazyLock::new(build);

fn build() -> Vec<Kind> {
    vec![
        kind("BUG:", bug_formats(), &[
            "ODEBUG:", "Boot_DEBUG:", "xlog_status:", "DEBUG:",
            "BUG: no syscalls can create resource", DEVICE_MESSAGE,
        ]),
        kind("WARNING:", warning_formats(), &[
            "WARNING: /etc/ssh/moduli does not exist, using fixed modulus",
            "WARNING: workqueue cpumask: online intersect > possible intersect",
            "WARNING: [Tt]he mand mount option",
            r"WARNING: Unsupported flag value\(s\) of 0x%x in DT_FLAGS_1",
            "WARNING: Unprivileged eBPF is enabled with eIBRS",
            r"WARNING: fbcon: Driver '(.*)' missed to adjust virtual screen size",
            "WARNING: See https.* for mitigation options.",
            "WARNING: kernel not compiled with CPU_SRSO",
            r"EXT4-[Ff][Ss](?: \(.*\))?:",
            "(?i)warning: .* uses (deprecated v2 capabilities|wireless extensions)",
            r"XFS \(\w+\): WARNING",
        ]),
        kind("INFO:", info_formats(), &[
            "INFO: lockdep is turned off", "INFO: Stall ended before state dump start",
            "INFO: NMI handler", "INFO: recovery required on readonly filesystem",
            "(handler|interrupt).*took too long", "INFO: sys_.* is not present in /proc/kallsyms",
            "INFO: no syscalls can create resource", "rmt_storage:INFO:", "_INFO:",
        ]),
        kind("Unable to handle kernel", vec![
            // arm64 and arm: the same NULL dereference x86 calls one.
            format(Class::NullDeref,
                "Unable to handle kernel (NULL pointer dereference)",
                "BUG: unable to handle kernel {1} in {2}")
                .frame(rip_then_trace(&[])),
            // s390: "pointer dereference in virtual kernel address space" (before
            // 4.x "at virtual kernel address ADDR").
            format(Class::PagingRequest,
                "Unable to handle kernel (paging request|access to user memory|pointer dereference)",
                "BUG: unable to handle kernel {1} in {2}")
                .frame(rip_then_trace(&[])),
        ], &[]),
        kind("general protection fault", vec![
            format(Class::GeneralProtection, "general protection fault.*:",
                "general protection fault in {1}")
                .frame(rip_then_trace(&[])),
        ], &[
            // A user-space fault logged by the kernel, not a kernel bug.
            r"general protection fault .* error:\d+ in ",
        ]),
        kind("stack segment: ", vec![
            format(Class::StackSegment, "stack segment: ", "stack segment fault in {1}")
                .frame(rip_then_trace(&[])),
        ], &[]),
        kind("Kernel panic", panic_formats(), &[]),
        kind("PANIC: double fault", vec![
            format(Class::DoubleFault, "PANIC: double fault", "PANIC: double fault in {1}")
                .frame(rip_only()),
        ], &[]),
        kind("rust_kernel: panicked", vec![
            format(Class::RustPanic, "rust_kernel: panicked", "{1} in {2}")
                .report("rust_kernel: panicked at [^\n]*?\n(.+?)\n")
                .frame(call_trace(&[r"__rustc::rust_begin_unwind"])),
        ], &[]),
        kind("kernel BUG", vec![
            format(Class::Bug, "kernel BUG at mm/usercopy.c", "BUG: bad usercopy in {1}")
                .frame(call_trace(&["usercopy", "__check"])),
            format(Class::ListCorruption, "kernel BUG at lib/list_debug.c",
                "BUG: corrupted list in {1}")
                .frame(call_trace(&[])),
            // skb helpers are full of BUG_ONs; the bug is almost always the caller's.
            format(Class::Bug, "kernel BUG at (.*)", "kernel BUG in {2}")
                .frame(rip_then_trace(&["^skb_"])),
        ], &[]),
        kind("Kernel BUG", vec![
            format(Class::Bug, "Kernel BUG (.*)", "kernel BUG {1}"),
        ], &[]),
        kind("BUG kmalloc-", vec![
            format(Class::SlabCorruption, "BUG kmalloc-.*: Object already free",
                "BUG: Object already free"),
            slub_format(),
        ], &[]),
        kind("divide error:", vec![
            format(Class::DivideError, "divide error: ", "divide error in {1}").frame(rip_only()),
        ], &[]),
        // Misspelt so between the IDTENTRY conversion (5.8) and its fix.
        kind("divide_error:", vec![
            format(Class::DivideError, "divide_error: ", "divide error in {1}").frame(rip_only()),
        ], &[]),
        kind("invalid opcode:", vec![
            format(Class::InvalidOpcode, "invalid opcode: ", "invalid opcode in {1}")
                .frame(rip_only()),
        ], &[]),
        kind("int3:", vec![
            format(Class::Int3, "int3: ", "int3 in {1}").frame(rip_then_trace(&[])),
        ], &[]),
        kind("UBSAN:", vec![
            format(Class::Ubsan, "UBSAN:", "UBSAN: undefined-behaviour in {1}")
                .report("UBSAN: Undefined behaviour in")
                .frame(call_trace(&["ubsan", "overflow"])),
            format(Class::Ubsan, "UBSAN: array-index-out-of-bounds in",
                "UBSAN: array-index-out-of-bounds in {1}")
                .frame(call_trace(&["ubsan", "overflow"])),
            format(Class::Ubsan, "UBSAN:", "UBSAN: {1} in {2}")
                .report("UBSAN: (.*?) in")
                .frame(call_trace(&["ubsan", "overflow"])),
        ], &[]),
        kind("unregister_netdevice: waiting for", vec![
            format(Class::Hang, "unregister_netdevice: waiting for (?:.*) to become free",
                "unregister_netdevice: waiting for DEV to become free")
                .no_stack(),
        ], &[]),
        kind("VFS: Close: file count is 0", vec![
            format(Class::UseAfterFree, "VFS: Close: file count is 0",
                "VFS: Close: file count is zero (use-after-free)")
                .no_stack(),
        ], &[]),
        kind("VFS: Busy inodes after unmount", vec![
            format(Class::UseAfterFree, "VFS: Busy inodes after unmount",
                "VFS: Busy inodes after unmount (use-after-free)")
                .no_stack(),
        ], &[]),
        // arm64 reports some faults as "Internal error: synchronous external abort"
        // where arm says "Unable to handle kernel paging request".
        kind("Internal error:", vec![
            format(Class::CpuException, "Internal error:", "Internal error in {1}")
                .frame(rip_then_trace(&[])),
        ], &[]),
        kind("Unhandled fault:", vec![
            format(Class::CpuException, "Unhandled fault:", "Unhandled fault in {1}")
                .frame(rip_then_trace(&[])),
        ], &[]),
        kind("Alignment trap:", vec![
            format(Class::CpuException, "Alignment trap:", "Alignment trap in {1}")
                .frame(rip_then_trace(&[])),
        ], &[]),
        // Android's trusted OS reports through the kernel log.
        kind("trusty: panic", vec![
            format(Class::Panic, r"trusty: panic.* ASSERT FAILED", "trusty: ASSERT FAILED: {1}")
                .report(r"trusty: panic \(.*?\):(?: DEBUG)? ASSERT FAILED at \(.*?\): (.+)")
                .no_stack(),
            format(Class::Panic, r"trusty: panic.* ASSERT FAILED.*: *(.*)",
                "trusty: ASSERT FAILED: {1}")
                .corrupted(),
            format(Class::Panic, "trusty: panic", "trusty: panic: {1}")
                .report(r"trusty: panic \(.*?\): (.+)")
                .no_stack(),
        ], &[]),
        // Failures of the syzkaller fuzzer's executor, which logs to the console.
        kind("SYZFAIL:", vec![
            format(Class::Harness, "SYZFAIL:(.*)", "SYZFAIL:{1}").no_stack(),
        ], &[]),
        kind("SYZFATAL:", vec![
            format(Class::Harness, "SYZFATAL:(.*)", "SYZFATAL:{1}").no_stack(),
        ], &[]),
        // A Go program's runtime dying on the console (syzkaller's fuzzer): syzkaller's
        // "go runtime error", only at a line's start.
        Kind {
            gate: Some(re("^fatal error: ")),
            ..kind("fatal error:", vec![
                format(Class::Harness, "fatal error:", "go runtime error").no_stack(),
            ], &["ALSA", "fatal error: cannot create timer"])
        },
        // What follows is not in the syzbot convention (fuzzing VMs do not have
        // these); the titles extend it in its own style.
        // x86 and arm64 (kernel/watchdog*.c: "Watchdog detected hard LOCKUP on cpu
        // N", since 6.5 "CPUn: Watchdog detected ..."), powerpc's own watchdog
        // ("CPU n self-detected hard LOCKUP @ foo", "CPU n detected hard LOCKUP on
        // other CPUs"): the title names where the CPU was stuck.
        kind("detected hard LOCKUP", vec![
            format(Class::HardLockup, "detected hard LOCKUP", "BUG: hard lockup in {1}")
                .frame(interrupted()),
        ], &[]),
        kind("NMI received for unknown reason", vec![
            format(Class::UnknownNmi, "NMI received for unknown reason",
                "NMI received for unknown reason").no_stack(),
        ], &[]),
        kind("NMI: PCI system error", vec![
            format(Class::UnknownNmi, "NMI: PCI system error", "NMI: PCI system error (SERR)")
                .no_stack(),
        ], &[]),
        kind("NMI: IOCK error", vec![
            format(Class::UnknownNmi, "NMI: IOCK error", "NMI: IOCK error").no_stack(),
        ], &[]),
        kind("Machine Check Exception:", vec![
            format(Class::MachineCheck, "Machine Check Exception:", "machine check exception")
                .no_stack(),
        ], &[]),
        // Errors the machine check handler logged and the system survived
        // (corrected, or recovered): "mce: [Hardware Error]: Machine check events
        // logged", and each event as printed without mcelog ("CPU 3: Machine
        // Check: 0 Bank 5: ..."). They are the hardware's, not the kernel's.
        Kind {
            minor: true,
            ..kind("Machine check events logged", vec![
                format(Class::MachineCheck, "Machine check events logged", "machine check events logged")
                    .no_stack(),
            ], &[])
        },
        Kind {
            minor: true,
            ..kind("Machine Check: ", vec![
                format(Class::MachineCheck, r"CPU [0-9]+: Machine Check: ", "machine check events logged")
                    .no_stack(),
            ], &[])
        },
        // The kernel booting again with no crash reported before: the machine was
        // reset (a hang, a hardware reset, a watchdog), syzkaller's "unexpected
        // kernel reboot". The x86 decompressor's line is what syzkaller looks for;
        // the banner is what every kernel prints.
        Kind {
            gate: Some(re("^Booting the kernel")),
            after: Some(Earlier::Output),
            ..kind("Booting the kernel.", vec![reboot_format()], &[
                "Parsing ELF|Decompressing Linux|Unknown parameter '",
            ])
        },
        Kind {
            gate: Some(re(r"^Linux version [0-9]+\.[0-9]+")),
            after: Some(Earlier::KernelOutput),
            ..kind("Linux version ", vec![reboot_format()], &[])
        },
        // x86 prints the command line right after the banner: a boot whose banner
        // was lost.
        Kind {
            gate: Some(re("^Command line: ")),
            after: Some(Earlier::KernelOutput),
            ..kind("Command line: ", vec![reboot_format()], &[])
        },
        Kind {
            gate: Some(re(&format!("^{SLUB_REPORT}"))),
            ..kind("BUG ", vec![slub_format()], &[])
        },
    ]
}

fn reboot_format() -> Format {
    format(
        Class::Reboot,
        "(?:Booting the kernel|Linux version|Command line: )",
        "unexpected kernel reboot",
    )
    .no_stack()
}

fn bug_formats() -> Vec<Format> {
    let kasan_hw_tags = &["kernel_fault", "tag_check", "mem_abort", "^el1_", "^el1h_"];
    vec![
        format(Class::Kasan, "BUG: KASAN:", "KASAN: {1} {3} in {4}")
            .report(r"BUG: KASAN: ([a-z\-]+) in @FUNC@(?:.*\n)+?.*(Read|Write) (?:of size|at addr) (?:[0-9a-f]+)")
            .frame(spec(
                vec![find(r"BUG: KASAN: (?:[a-z\-]+) in @FUNC@"), find(CALL_TRACE), Step::Trace],
                kasan_hw_tags,
            )),
        format(Class::Kasan, "BUG: KASAN:", "KASAN: invalid-free in {2}")
            .report("BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in @FUNC@")
            .frame(spec(
                vec![
                    find("BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in @FUNC@"),
                    find(CALL_TRACE),
                    Step::Trace,
                ],
                &["slab_", "kfree", "vunmap", "vfree"],
            )),
        format(Class::Kasan, r"BUG: KASAN: ([a-z\-]+) on address(?:.*\n)+?.*(Read|Write) of size ([0-9]+)",
            "KASAN: {1} {2}"),
        format(Class::Kasan, "BUG: KASAN: (.*)", "KASAN: {1}").corrupted(),
        format(Class::Kmsan, "BUG: KMSAN: kernel-usb-infoleak", "KMSAN: kernel-usb-infoleak in {2}")
            .report("BUG: KMSAN: kernel-usb-infoleak in @FUNC@")
            .frame(spec(
                vec![Step::Trace, find("(Local variable .* created at:|Uninit was created at:)"), Step::Trace],
                &["alloc_skb", "usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg",
                  "usb_interrupt_msg", "usb_control_msg"],
            ))
            .no_stack(),
        format(Class::Kmsan, "BUG: KMSAN:", "KMSAN: {1} in {3}")
            .report(r"BUG: KMSAN: ([a-z\-]+) in @FUNC@")
            .frame(spec(
                vec![Step::Trace, find("(Local variable .* created at:|Uninit was created at:)"), Step::Trace],
                // Generic crypto is where uninit data is used, rarely where it came from.
                &["alloc_skb", "netlink_ack", "netlink_rcv_skb", "_encrypt$",
                  "^(?:crypto|cipher|drbg|rng)_"],
            ))
            .no_stack(),
        format(Class::Kcsan, "BUG: KCSAN: data-race", "KCSAN: {1}")
            .report("BUG: KCSAN: (.*)")
            .no_stack(),
        format(Class::Kcsan, "BUG: KCSAN:", "KCSAN: {1}").report("BUG: KCSAN: (.*)").no_stack(),
        format(Class::Kfence, r"BUG: KFENCE: (use-after-free|out-of-bounds) (read|write) in @FUNC@",
            "KFENCE: {1} {2} in {4}")
            .frame(spec(vec![find(r"BUG: KFENCE: (?:[a-z\- ]+) in @FUNC@"), Step::Trace], &[])),
        format(Class::Kfence, "BUG: KFENCE: invalid free in @FUNC@", "KFENCE: invalid free in {2}")
            .frame(spec(vec![find(r"BUG: KFENCE: (?:[a-z\- ]+) in @FUNC@"), Step::Trace], &[]))
            .no_stack(),
        format(Class::Kfence, "BUG: KFENCE: invalid (read|write) in @FUNC@", "KFENCE: invalid {1} in {3}")
            .frame(spec(vec![find(r"BUG: KFENCE: (?:[a-z\- ]+) in @FUNC@"), Step::Trace], &[])),
        format(Class::Kfence, "BUG: KFENCE: memory corruption in @FUNC@",
            "KFENCE: memory corruption in {2}")
            .frame(spec(vec![find(r"BUG: KFENCE: (?:[a-z\- ]+) in @FUNC@"), Step::Trace], &[]))
            .no_stack(),
        format(Class::PagingRequest,
            "BUG: (?:unable to handle kernel paging request|unable to handle page fault for address|Unable to handle kernel data access)",
            "BUG: unable to handle kernel paging request in {1}")
            .frame(rip_then_trace(&[])),
        format(Class::NullDeref,
            "BUG: (?:unable to handle kernel NULL pointer dereference|kernel NULL pointer dereference|Kernel NULL pointer dereference)",
            "BUG: unable to handle kernel NULL pointer dereference in {1}")
            .frame(rip_then_trace(&[])),
        // The kernel prints this header in two pieces; the second can be lost.
        format(Class::PagingRequest, "BUG: (?:unable to handle kernel|Unable to handle kernel)",
            "BUG: unable to handle kernel")
            .corrupted(),
        format(Class::Lockdep,
            "BUG: (spinlock|rwlock) (lockup suspected|already unlocked|recursion|cpu recursion|bad magic|wrong owner|wrong CPU|trylock failure on UP)",
            "BUG: {1} {2} in {3}")
            .frame(call_trace(&["spin_", "_lock", "_unlock"])),
        // The title names what the stall ran under (syzbot's convention); the
        // guilty function is where the CPU was stuck.
        format(Class::SoftLockup, "BUG: soft lockup", "BUG: soft lockup in {1}")
            .frame(rip_then_trace(&[]).pick(Pick::Stall))
            .guilty(interrupted()),
        format(Class::Lockdep, "BUG: .*still has locks held!", "BUG: still has locks held in {1}")
            .report(r"BUG: .*still has locks held!(?:.*\n)+?.*@PC@ +@FUNC@")
            .names(1),
        format(Class::AtomicSleep, "BUG: scheduling while atomic", "BUG: scheduling while atomic in {1}")
            .frame(call_trace(&["schedule"])),
        format(Class::Lockdep, "BUG: lock held when returning to user space",
            "BUG: lock held when returning to user space in {1}")
            .report(r"BUG: lock held when returning to user space(?:.*\n)+?.*leaving the kernel with locks still held(?:.*\n)+?.*at: (?:@PC@ +)?@FUNC@")
            .names(1)
            .no_stack(),
        format(Class::Lockdep, "BUG: bad unlock balance detected!", "BUG: bad unlock balance in {1}")
            .frame(spec(vec![find("@PC@ +@FUNC@"), find(CALL_TRACE), Step::Trace], &[])),
        format(Class::Lockdep, "BUG: held lock freed!", "BUG: held lock freed in {1}")
            .report(r"BUG: held lock freed!(?:.*\n)+?.*@PC@ +@FUNC@")
            .names(1),
        format(Class::Bug, "BUG: Bad rss-counter state", "BUG: Bad rss-counter state").no_stack(),
        format(Class::Bug, "BUG: non-zero nr_ptes on freeing mm", "BUG: non-zero nr_ptes on freeing mm")
            .no_stack(),
        format(Class::Bug, "BUG: non-zero nr_pmds on freeing mm", "BUG: non-zero nr_pmds on freeing mm")
            .no_stack(),
        // The filesystem and block device in this message only split one bug in many.
        format(Class::UseAfterFree, "BUG: Dentry .* still in use", "BUG: Dentry still in use in {1}")
            .report(r"BUG: Dentry .* still in use \([0-9]+\) \[(unmount) of ([^\]]+)\]"),
        format(Class::BadPage, "BUG: Bad page (state|cache)", "BUG: Bad page {1} in {2}")
            .frame(spec(
                vec![find("page last allocated"), Step::Trace],
                &["(free|put|get|update|release)_page", "free_unref", "^_*folio",
                  "truncate_inode_pages", "page_frag_free", "alloc", "vmap", "page_owner"],
            )),
        format(Class::BadPage, "BUG: Bad page map", "BUG: Bad page map"),
        format(Class::Hang, "BUG: workqueue lockup", "BUG: workqueue lockup").no_stack(),
        format(Class::AtomicSleep, "BUG: sleeping function called from invalid context at (.*)",
            "BUG: sleeping function called from invalid context in {2}")
            .frame(call_trace(&[])),
        format(Class::AtomicSleep, r"BUG: using ([a-z_]+)\(\) in preemptible",
            "BUG: using {1}() in preemptible code in {2}")
            .frame(call_trace(&["dump_stack", "preemption", "preempt", "debug_", "processor_id", "this_cpu"])),
        format(Class::Lockdep, "BUG: workqueue leaked lock or atomic",
            "BUG: workqueue leaked lock or atomic in {1}")
            .report(r"BUG: workqueue leaked lock or atomic(?:.*\n)+?.*last function: ([a-zA-Z0-9_]+)\n")
            .names(1)
            .no_stack(),
        format(Class::MemoryLeak, "BUG: memory leak", "memory leak in {1}")
            .frame(spec(
                vec![find(r"backtrace(?: \(crc [[:xdigit:]]*\))?:"), Step::Trace],
                &["kmemleak", "mmap", "kmem", "slab", "alloc", "create_object", "idr_get",
                  "list_lru_init", "kasprintf", "kvasprintf", "pcpu_create", "strdup",
                  "strndup", "memdup"],
            )),
        format(Class::StackOverflow, "BUG: .*stack guard page was hit at",
            "BUG: stack guard page was hit in {1}")
            .frame(rip_then_trace(&[]).pick(Pick::Stall)),
        // arm and arm64 print what x86 calls a lockdep locking bug this way.
        format(Class::Lockdep, "BUG: Invalid wait context", "WARNING: locking bug in {1}")
            .frame(call_trace(&["lock_sock", "release_sock"])),
        format(Class::Bug, r"BUG:[[:space:]]*(?:\n|$)", "BUG: corrupted").corrupted(),
    ]
}

fn warning_formats() -> Vec<Format> {
    vec![
        // Hard lockups reported through WARN (2.6.32 to 4.4: "Watchdog detected hard
        // LOCKUP on cpu N" follows the WARNING line): titled like the later form.
        format(Class::HardLockup,
            r"WARNING: .*watchdog.*\n(?:.*\n){0,8}?.*Watchdog detected hard LOCKUP",
            "BUG: hard lockup in {1}")
            .frame(interrupted()),
        format(Class::Warning, r"WARNING: .*lib/debugobjects\.c.* (?:debug_print|debug_check|at)",
            "WARNING: ODEBUG bug in {1}")
            .frame(warning(&["debug_", "rcu", "hrtimer_", "timer_", "work_", "percpu_",
                "vunmap", "vfree", "__free_", "debug_check", "kobject_"])),
        format(Class::Warning, r"WARNING: .*mm/usercopy\.c.* (?:usercopy_warn|at)",
            "WARNING: bad usercopy in {1}")
            .frame(warning(&["usercopy", "__check"])),
        format(Class::Warning, r"WARNING: .*lib/kobject\.c.* (?:kobject_|at)", "WARNING: kobject bug in {1}")
            .frame(warning(&["kobject_"])),
        format(Class::Warning, r"WARNING: .*fs/proc/generic\.c.* (?:proc_register|at)",
            "WARNING: proc registration bug in {1}")
            .frame(warning(&["proc_"])),
        format(Class::Warning, r"WARNING: .*lib/refcount\.c.* (?:refcount_|at)", "WARNING: refcount bug in {1}")
            .frame(warning(&["refcount", "kobject_"])),
        format(Class::Lockdep, r"WARNING: .*kernel/locking/lockdep\.c.*lock_", "WARNING: locking bug in {1}")
            .frame(warning(&["lock_sock", "release_sock"])),
        format(Class::Lockdep, "WARNING: .*still has locks held!", "WARNING: still has locks held in {1}")
            .report(r"WARNING: .*still has locks held!(?:.*\n)+?.*at: @FUNC@")
            .names(1),
        format(Class::Lockdep, "WARNING: Nested lock was not taken", "WARNING: nested lock was not taken in {1}")
            .frame(warning(&[])),
        format(Class::Lockdep, "WARNING: lock held when returning to user space",
            "WARNING: lock held when returning to user space in {1}")
            .report(r"WARNING: lock held when returning to user space(?:.*\n)+?.*leaving the kernel with locks still held(?:.*\n)+?.*at: (?:@PC@ +)?@FUNC@")
            .names(1)
            .no_stack(),
        format(Class::Warning, r"WARNING: .*mm/.*\.c.* k?.?malloc", "WARNING: kmalloc bug in {1}")
            .frame(warning(&["kmalloc", "krealloc", "slab", "kmem"])),
        format(Class::Warning, r"WARNING: .*mm/vmalloc.c.*__vmalloc_node", "WARNING: zero-size vmalloc in {1}")
            .frame(warning(&[])),
        format(Class::Warning, "WARNING: .* usb_submit_urb", "WARNING in {1}/usb_submit_urb")
            .frame(warning(&["usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg",
                "usb_interrupt_msg", "usb_control_msg"])),
        // The 6.19 layout: "WARNING: net/core/dev.c:123 at 0x0, CPU#1: ...".
        format(Class::Warning, r"WARNING: @SRC@ at 0x\d+, CPU#\d+", "WARNING in {2}").frame(warning(&[])),
        format(Class::Warning, "WARNING: .* at @SRC@ @FUNC@", "WARNING in {3}").frame(warning(&[])),
        // Before 3.11 (RHEL 6, early RHEL 7): "WARNING: at fs/foo.c:12 foo+0x9c/0xd0()",
        // the function holding the WARN named (their traces can be all unreliable);
        // architectures that trap on WARN printed no function before 4.x, and no
        // file without CONFIG_DEBUG_BUGVERBOSE.
        format(Class::Warning, "WARNING: at @SRC@ @FUNC@", "WARNING in {2}").names(2),
        format(Class::Warning, "WARNING: at @SRC@", "WARNING in {2}").frame(warning(&[])),
        format(Class::Warning, r"WARNING: at (?:0x)?[0-9a-f]+ \[verbose debug info unavailable\]",
            "WARNING in {1}").frame(warning(&[])),
        format(Class::Warning, r"WARNING: CPU: [0-9]+ PID: [0-9]+ at @FUNC@", "WARNING in {2}")
            .frame(warning(&[])),
        format(Class::Warning, "WARNING: @SRC@ at @FUNC@", "WARNING in {3}").frame(warning(&[])),
        format(Class::Warning, r"WARNING: \[.*\] @SRC@ at @FUNC@.*", "WARNING in {3}").frame(warning(&[])),
        format(Class::Lockdep, "WARNING: possible circular locking dependency detected", "possible deadlock in {1}")
            .report(r"WARNING: possible circular locking dependency detected(?:.*\n)+?.*is trying to acquire lock")
            .frame(spec(
                vec![find("at: (?:@PC@ +)?@FUNC@"), find("at: (?:@PC@ +)?@FUNC@"), Step::Trace],
                // Work items take locks of their own: such deadlocks are the workqueue's.
                &["process_one_work", "flush_workqueue", "drain_workqueue", "destroy_workqueue"],
            )),
        format(Class::Lockdep, "WARNING: possible irq lock inversion dependency detected", "possible deadlock in {1}")
            .report(r"WARNING: possible irq lock inversion dependency detected(?:.*\n)+?.*just changed the state of lock(?:.*\n)+?.*at: (?:@PC@ +)?@FUNC@")
            .names(1),
        format(Class::Lockdep, "WARNING: .*-safe -> .*-unsafe lock order detected", "possible deadlock in {1}")
            .frame(spec(vec![find("which became (?:.*) at:"), Step::Trace], &[])),
        format(Class::Lockdep, "WARNING: possible recursive locking detected", "possible deadlock in {1}")
            .report(r"WARNING: possible recursive locking detected(?:.*\n)+?.*is trying to acquire lock(?:.*\n)+?.*at: (?:@PC@ +)?@FUNC@")
            .names(1),
        format(Class::Lockdep, "WARNING: inconsistent lock state", "inconsistent lock state in {2}")
            .report(r"WARNING: inconsistent lock state(?:.*\n)+?.*takes(?:.*\n)+?.*at: (?:@PC@ +)?@FUNC@")
            .frame(call_trace(&[])),
        format(Class::Lockdep, "WARNING: suspicious RCU usage", "WARNING: suspicious RCU usage in {2}")
            .report("WARNING: suspicious RCU usage(?:.*\n)+?.*?@SRC@")
            .frame(call_trace(&["rcu", "kmem", "slab"])),
        format(Class::Warning, "WARNING: kernel stack regs at [0-9a-f]+ in [^ ]* has bad '([^']+)' value",
            "WARNING: kernel stack regs has bad '{1}' value")
            .no_stack(),
        format(Class::Warning, "WARNING: kernel stack frame pointer at [0-9a-f]+ in [^ ]* has bad value",
            "WARNING: kernel stack frame pointer has bad value")
            .no_stack(),
        format(Class::Lockdep, "WARNING: bad unlock balance detected!", "WARNING: bad unlock balance in {1}")
            .frame(spec(vec![find("@PC@ +@FUNC@"), find(CALL_TRACE), Step::Trace], &[])),
        format(Class::Lockdep, "WARNING: held lock freed!", "WARNING: held lock freed in {1}")
            .report(r"WARNING: held lock freed!(?:.*\n)+?.*at:(?: @PC@)? +@FUNC@")
            .names(1),
        format(Class::Warning, "WARNING: kernel stack regs .* has bad 'bp' value",
            "WARNING: kernel stack regs has bad value")
            .no_stack(),
        format(Class::Warning, "WARNING: kernel stack frame pointer .* has bad value",
            "WARNING: kernel stack regs has bad value")
            .no_stack(),
        format(Class::Warning, r"WARNING:[[:space:]]*(?:\n|$)", "WARNING: corrupted").corrupted(),
    ]
}

fn info_formats() -> Vec<Format> {
    vec![
        format(Class::Lockdep, "INFO: possible circular locking dependency detected", "possible deadlock in {1}")
            .report(r"INFO: possible circular locking dependency detected \](?:.*\n)+?.*is trying to acquire lock(?:.*\n)+?.*at: @PC@ +@FUNC@")
            .names(1),
        format(Class::Lockdep, "INFO: possible irq lock inversion dependency detected", "possible deadlock in {1}")
            .report(r"INFO: possible irq lock inversion dependency detected \](?:.*\n)+?.*just changed the state of lock(?:.*\n)+?.*at: @PC@ +@FUNC@")
            .names(1),
        format(Class::Lockdep, "INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected", "possible deadlock in {1}")
            .report(r"INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected \](?:.*\n)+?.*is trying to acquire(?:.*\n)+?.*at: @PC@ +@FUNC@")
            .names(1),
        format(Class::Lockdep, "INFO: possible recursive locking detected", "possible deadlock in {1}")
            .report(r"INFO: possible recursive locking detected \](?:.*\n)+?.*is trying to acquire lock(?:.*\n)+?.*at: @PC@ +@FUNC@")
            .names(1),
        format(Class::Lockdep, "INFO: inconsistent lock state", "inconsistent lock state in {1}")
            .report(r"INFO: inconsistent lock state \](?:.*\n)+?.*takes(?:.*\n)+?.*at: @PC@ +@FUNC@")
            .names(1),
        format(Class::RcuStall, "INFO: rcu_(?:preempt|sched|bh|tasks) (?:self-)?detected(?: expedited)? stall",
            "INFO: rcu detected stall in {1}")
            .frame({
                let mut spec = spec(
                    vec![find("apic_timer_interrupt"), find(RIP_LINE), Step::Trace],
                    &["apic_timer_interrupt", "rcu"],
                )
                .pick(Pick::Stall);
                spec.fallback = vec![find("(?:apic_timer_interrupt|Exception stack|el1h_64_irq)"), Step::Trace];
                spec
            }),
        format(Class::Lockdep, "INFO: trying to register non-static key",
            "INFO: trying to register non-static key in {1}")
            .frame(call_trace(&["stack", "lock", "IRQ"])),
        format(Class::Lockdep, "INFO: suspicious RCU usage", "INFO: suspicious RCU usage in {2}")
            .report("INFO: suspicious RCU usage(?:.*\n)+?.*?@SRC@")
            .frame(call_trace(&["rcu", "kmem", "slab"])),
        format(Class::HungTask, "INFO: task @TASK@ blocked (?:in I/O wait )?for more than [0-9]+ seconds",
            "INFO: task hung in {1}")
            .frame(call_trace(&[]).pick(Pick::HungTask)),
        format(Class::HungTask, "INFO: task @TASK@ can't die for more than .* seconds", "INFO: task can't die in {1}")
            .frame(call_trace(&["schedule"])),
        // What is left of an old-style KASAN report whose header was lost.
        format(Class::Kasan, "INFO: (Freed|Allocated) in (.*)", "INFO: {1} in {2}").corrupted(),
        format(Class::Bug, r"INFO:[[:space:]]*(?:\n|$)", "INFO: corrupted").corrupted(),
    ]
}

fn panic_formats() -> Vec<Format> {
    vec![
        // hardlockup_panic: 2.6.32 to 4.4 panic with the watchdog's message, later
        // kernels print the report first and panic with "Hard LOCKUP" (seen alone,
        // the report was lost).
        format(
            Class::HardLockup,
            "Kernel panic - not syncing: Watchdog detected hard LOCKUP",
            "BUG: hard lockup in {1}",
        )
        .frame(interrupted()),
        format(
            Class::HardLockup,
            "Kernel panic - not syncing: Hard LOCKUP",
            "BUG: hard lockup in {1}",
        )
        .frame(interrupted())
        .corrupted(),
        // Stack corruption can cost the symbol name or the whole unwind.
        format(
            Class::StackProtector,
            "Kernel panic - not syncing: stack-protector:",
            "kernel panic: stack is corrupted in {1}",
        )
        .report("Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: @FUNC@")
        .names(1)
        .no_stack(),
        format(
            Class::StackProtector,
            "Kernel panic - not syncing: stack-protector:",
            "kernel panic: stack is corrupted in {1}",
        )
        .report(
            "Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: [a-f0-9]+",
        )
        .frame(call_trace(&["stack_chk"])),
        format(
            Class::StackOverflow,
            "Kernel panic - not syncing: corrupted stack end",
            "kernel panic: corrupted stack end in {1}",
        )
        .report("Kernel panic - not syncing: corrupted stack end detected inside scheduler")
        .frame(call_trace(&["schedule", "retint_kernel"]).pick(Pick::Stall)),
        format(
            Class::StackOverflow,
            "Kernel panic - not syncing: kernel stack overflow",
            "kernel stack overflow in {1}",
        )
        .frame(call_trace(&["bad_stack"]).pick(Pick::Stall)),
        format(
            Class::KillInit,
            "Kernel panic - not syncing: Attempted to kill init!",
            "kernel panic: Attempted to kill init!",
        ),
        format(
            Class::Panic,
            "Kernel panic - not syncing: Couldn't open N_TTY ldisc for [^ ]+ --- error -[0-9]+",
            "kernel panic: Couldn't open N_TTY ldisc",
        ),
        // These panics follow another report: seen first, that report was lost.
        format(
            Class::Panic,
            "Kernel panic - not syncing: Fatal exception",
            "kernel panic: Fatal exception",
        )
        .corrupted(),
        format(
            Class::Warning,
            "Kernel panic - not syncing: panic_on_warn set",
            "kernel panic: panic_on_warn set",
        )
        .corrupted(),
        format(
            Class::HungTask,
            "Kernel panic - not syncing: hung_task: blocked tasks",
            "kernel panic: hung_task: blocked tasks",
        )
        .corrupted(),
        format(
            Class::Panic,
            "Kernel panic - not syncing: (.*)",
            "kernel panic: {1}",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles_and_templates_fit_their_formats() {
        for kind in CATALOG.iter() {
            assert!(!kind.formats.is_empty(), "{}", kind.header);
            for f in &kind.formats {
                let groups = f.report.as_ref().unwrap_or(&f.title).captures_len() - 1;
                let frames = f.frame.as_ref().map_or(0, |s| {
                    s.steps
                        .iter()
                        .filter(|s| matches!(s, Step::Trace))
                        .count()
                        .max(1)
                });
                for n in 1..=9 {
                    if f.template.contains(&format!("{{{n}}}")) {
                        assert!(n <= groups + frames, "{}: {{{n}}}", f.template);
                    }
                }
            }
        }
    }
}

//! Cutting one report out of a log: the lines from its first line on that the same
//! printk context wrote, up to the next report, without unreliable frames and
//! without the panic that a report can trigger (`panic_on_warn`, `panic_on_oops`).

use crate::log::{self, Context, Line};
use crate::scan::{self, Hit};
use regex::Regex;
use std::sync::LazyLock;

/// How far a report is followed: enough for the longest real reports (lockdep
/// chains, all-CPU backtraces), small enough to bound the work on any input.
pub const MAX_LINES: usize = 8000;
const MAX_BYTES: usize = 2 << 20;
/// Lines of the same context kept from before the report (more with caller ids,
/// where they surely come from the same task).
const PREFIX_LINES: usize = 5;
const PREFIX_LINES_TASK: usize = 50;
/// A report at least this long is whole; a panic after it is only its consequence.
const MIN_LINES_BEFORE_PANIC: usize = 22;
/// KMSAN reports have no "Call Trace:" and fewer lines.
const MIN_LINES_BEFORE_PANIC_KMSAN: usize = 16;

pub struct Extracted {
    /// The report's lines, first line first, up to the next report.
    pub lines: Vec<String>,
    /// Same-context lines just before the report.
    pub prefix: Vec<String>,
    /// The reason of the first `Kernel panic - not syncing:` at or after the report.
    pub panic: Option<String>,
    /// `lines` with the unreliable frames kept, when there were any: where every
    /// frame is unreliable (kernels without frame pointers), they are all there is.
    pub full: Vec<String>,
}

/// Messages that follow the report they belong to; seeing one does not end it.
pub(crate) static CONTINUATIONS: LazyLock<Regex> = LazyLock::new(|| {
    crate::pattern::any_of(&[
        "invalid opcode: 0000",
        "Kernel panic - not syncing",
        "unregister_netdevice: waiting for",
        // A double fault can come from the page fault being handled.
        "PANIC: double fault",
        "Internal error:",
        // The message of the watchdog's WARN (2.6.32 to 4.4), after its WARNING line;
        // later kernels print it with their "NMI watchdog: " prefix as the report.
        "^Watchdog detected hard LOCKUP on cpu",
    ])
});

/// Informational messages that print a stack: they end the report before them.
const STACK_PRINTING_MESSAGES: &[&str] = &[
    "vmalloc: allocation failure:",
    "FAULT_INJECTION: forcing a failure",
    "FAULT_FLAG_ALLOW_RETRY missing",
];

static UNRELIABLE_FRAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\[<[0-9a-f]+>\])? \? ").expect("unreliable frame pattern"));

const PANIC: &str = "Kernel panic - not syncing: ";

/// True for a backtrace line the unwinder was not sure of (` ? foo+0x..`, powerpc
/// `(unreliable)`); such lines are only meaningful with a timestamp prefix.
fn unreliable(line: &Line) -> bool {
    line.context != Context::None
        && ((!line.body.contains("<EOI>") && UNRELIABLE_FRAME.is_match(&line.body))
            || line.body.ends_with(" (unreliable)"))
}

/// Cuts out the report `hit` starts, following it for at most `max_lines` lines.
pub fn extract(text: &[u8], hit: &Hit, max_lines: usize) -> Extracted {
    let context = hit.line.context;
    let own_task = matches!(context, Context::Task(_) | Context::Cpu(_));
    let first_is_kmsan = hit.line.body.contains("BUG: KMSAN:");
    let min_lines = if first_is_kmsan {
        MIN_LINES_BEFORE_PANIC_KMSAN
    } else {
        MIN_LINES_BEFORE_PANIC
    };
    let mut out = Extracted {
        lines: vec![hit.line.body.clone()],
        prefix: prefix(text, hit),
        panic: panic_reason(&hit.line.body),
        full: Vec::new(),
    };
    let mut dropped = false;
    let mut next_report = false;
    let mut all_cpus = false;
    let mut cut_rest = false;
    let mut bytes = hit.line.body.len();
    let mut pos = scan::line_end(text, hit.start) + 1;
    let mut seen = 0;
    while pos < text.len() && seen < max_lines && bytes < MAX_BYTES {
        let end = scan::line_end(text, pos);
        let line = log::parse(&text[pos..end]);
        let line_at = pos;
        seen += 1;
        pos = end + 1;
        if out.panic.is_none() && line.from_kernel {
            out.panic = panic_reason(&line.body);
        }
        if !next_report && starts_next_report(&line, text, line_at) {
            next_report = true;
        }
        // Without caller ids, what follows another report may be any CPU's: the
        // report ends there (only its panic is still looked for).
        if next_report && !own_task {
            if out.panic.is_some() {
                break;
            }
            continue;
        }
        let same_context =
            line.context == context || (all_cpus && matches!(line.context, Context::Cpu(_)));
        if cut_rest || !line.from_kernel || !same_context {
            continue;
        }
        if unreliable(&line) {
            if !dropped {
                out.full = out.lines.clone();
                dropped = true;
            }
            bytes += line.body.len();
            out.full.push(line.body);
            continue;
        }
        if line
            .body
            .contains("Disabling lock debugging due to kernel taint")
        {
            continue;
        }
        if line.body.contains("Sending NMI from CPU") {
            // Backtraces of all CPUs follow, printed from each CPU's context.
            all_cpus = true;
        } else if (line.body.contains("Kernel panic - not syncing")
            || line
                .body
                .contains("WARNING: possible circular locking dependency detected"))
            && out.lines.len() > min_lines
        {
            cut_rest = true;
            continue;
        }
        bytes += line.body.len();
        if dropped {
            out.full.push(line.body.clone());
        }
        out.lines.push(line.body);
    }
    out
}

/// Lines a report's body is made of: register dumps, traces and their markers, the
/// module list. A log starting with them starts inside a report.
static REPORT_BODY: LazyLock<Regex> = LazyLock::new(|| {
    crate::pattern::re(
        r"^\s*(?:Call [Tt]race:|(?:RIP|RSP|RAX|RBX|RCX|RDX|RBP|RSI|RDI|R[0-9]{1,2}|FS|CS|CR2|DR[0-7]|EIP|ESP|EAX): |Code: |Stack:|GPR[0-9]{2}: |NIP[: ]|LR[: ]|REGS: |MSR: |Krnl (?:PSW|GPRS|Code)|pc : |lr : |sp : |x[0-9]+ ?: |Instruction dump:|Modules linked in:|<(?:IRQ|NMI|TASK|EOI|SOFTIRQ)>|</(?:IRQ|NMI|TASK|SOFTIRQ)>|\(?(?:\[<?[0-9a-f]+>?\] *){0,2}(?:\? +)?[A-Za-z_][A-Za-z0-9_.]*\+0x[0-9a-f]+/0x[0-9a-f]+)",
    )
});

/// Kernel lines looked at for the start of a log inside a report.
const ORPHAN_START_LINES: usize = 3;

/// The report a log starts inside of (its first lines were lost: a capture begun
/// late, a rotated file): its lines up to `end` (the first report header, or the
/// end), when the log's first kernel lines are a report's body.
pub fn orphan(text: &[u8], end: usize) -> Option<Extracted> {
    let end = end.min(text.len());
    let mut out = Extracted {
        lines: Vec::new(),
        prefix: Vec::new(),
        panic: None,
        full: Vec::new(),
    };
    let (mut pos, mut seen, mut kernel_lines) = (0, 0, 0);
    let mut bytes = 0;
    let mut dropped = false;
    while pos < end && seen < MAX_LINES && bytes < MAX_BYTES {
        let line_end = scan::line_end(text, pos).min(end);
        let line = log::parse(&text[pos..line_end]);
        pos = line_end + 1;
        seen += 1;
        if !line.from_kernel || line.body.trim().is_empty() {
            continue;
        }
        kernel_lines += 1;
        if out.lines.is_empty() {
            if !REPORT_BODY.is_match(&line.body) {
                if kernel_lines >= ORPHAN_START_LINES {
                    return None;
                }
                continue;
            }
            // A log cut inside the trace: the trace's header was lost too.
            if !line.body.contains("race:") && crate::trace::is_frame(&line.body) {
                out.lines.push("Call Trace:".to_string());
            }
        }
        bytes += line.body.len();
        if unreliable(&line) {
            if !dropped {
                out.full = out.lines.clone();
                dropped = true;
            }
            out.full.push(line.body);
            continue;
        }
        if dropped {
            out.full.push(line.body.clone());
        }
        if out.panic.is_none() {
            out.panic = panic_reason(&line.body);
        }
        out.lines.push(line.body);
    }
    (!out.lines.is_empty()).then_some(out)
}

fn starts_next_report(line: &Line, text: &[u8], line_at: usize) -> bool {
    STACK_PRINTING_MESSAGES
        .iter()
        .any(|m| line.body.contains(m))
        || (scan::kind_of(line).is_some_and(|k| !crate::catalog::CATALOG[k].minor)
            && !CONTINUATIONS.is_match(&line.body)
            && !scan::replayed_next(text, scan::line_end(text, line_at)))
}

fn panic_reason(body: &str) -> Option<String> {
    let at = body.find(PANIC)?;
    Some(body[at + PANIC.len()..].trim().to_string())
}

/// Up to a few same-context lines right before the report.
fn prefix(text: &[u8], hit: &Hit) -> Vec<String> {
    let max = match hit.line.context {
        Context::Task(_) => PREFIX_LINES_TASK,
        _ => PREFIX_LINES,
    };
    let mut lines = Vec::new();
    let mut end = hit.start;
    let mut looked = 0;
    while end > 0 && lines.len() < max && looked < 4 * PREFIX_LINES_TASK {
        let start = scan::line_start(text, end - 1, 0);
        let line = log::parse(&text[start..end - 1]);
        end = start;
        looked += 1;
        if line.from_kernel
            && line.context == hit.line.context
            && !line.body.is_empty()
            && !unreliable(&line)
        {
            lines.push(line.body);
        }
    }
    lines.reverse();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(text: &str) -> Extracted {
        let hit = scan::next_hit(text.as_bytes(), 0).unwrap();
        extract(text.as_bytes(), &hit, MAX_LINES)
    }

    #[test]
    fn report_ends_at_the_next_one_and_skips_unreliable_frames() {
        let text = "[ 1.0] before\n[ 1.1] BUG: soft lockup - CPU#0 stuck\n[ 1.2] Call Trace:\n[ 1.2]  ? junk+0x1/0x2\n[ 1.2]  foo+0x1/0x2\nno stamp\n[ 1.3] WARNING: CPU: 0 PID: 1 at a.c:1 bar+0x1/0x2\n[ 1.4] tail\n";
        let report = first(text);
        assert_eq!(report.prefix, ["before"]);
        assert_eq!(
            report.lines,
            [
                "BUG: soft lockup - CPU#0 stuck",
                "Call Trace:",
                " foo+0x1/0x2"
            ]
        );
        assert_eq!(report.panic, None);
    }

    #[test]
    fn panic_is_noted_and_kept_as_part_of_the_report() {
        let text = "BUG: kernel NULL pointer dereference, address: 0\nRIP: 0010:f+0x1/0x2\nKernel panic - not syncing: Fatal exception\n";
        let report = first(text);
        assert_eq!(report.panic.as_deref(), Some("Fatal exception"));
        assert_eq!(report.lines.len(), 3);
    }

    #[test]
    fn caller_ids_keep_other_tasks_out() {
        let text = "[ 1.0][ T1] INFO: task a:1 blocked for more than 1 seconds.\n[ 1.0][ T2] other task\n[ 1.0][ T1] Call Trace:\n";
        let report = first(text);
        assert_eq!(report.lines.len(), 2);
    }
}

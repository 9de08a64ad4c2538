//! The crash's call trace, normalised: function names without addresses, offsets or
//! compiler suffixes, unreliable (`?`) frames dropped, each frame tagged with the
//! stack section it ran in (`<IRQ>`, `<NMI>`, ...) and its module.

use crate::stack::STACK_START;
use crate::symbol::normalise;
use regex::Regex;
use serde::Serialize;
use std::sync::LazyLock;

/// Frames kept at most: the top of a trace is what identifies a crash.
const MAX_FRAMES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame {
    pub function: String,
    pub module: Option<String>,
    /// `task` unless inside an `<IRQ>`, `<NMI>`, `<SOFTIRQ>` or exception section.
    pub section: &'static str,
    /// Inlined into the next frame (symbolized reports print these).
    pub inlined: bool,
}

/// The instruction pointer of the fault, as `symbol+off/size` with its module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rip {
    pub symbol: String,
    pub function: String,
    pub module: Option<String>,
}

/// `RIP: 0010:foo+0x1c/0x28 [mod]` (x86, with or without addresses), `IP:` (x86
/// before 4.x), `pc : ` (arm64), `PC is at` (arm, arm64 before 4.15), `NIP [..]`
/// (powerpc), `Krnl PSW : <mask> <addr> (foo+0x1c/0x28 [mod])` (s390).
static RIP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:^|\s)(?:RIP: (?:[0-9a-f]{4}:)?|IP: |pc : |PC is at |NIP:? |Krnl PSW : [0-9a-f]{8,16} [0-9a-f]{8,16} \()(?:\[<?[0-9a-f]+>?\] +){0,2}([A-Za-z_][A-Za-z0-9_.]*)\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[([A-Za-z0-9_\-]+)[^\]]*\])?",
    )
    .expect("rip pattern")
});

/// A frame line: addresses, an optional `?`, the symbol with offset and size, an
/// optional `[module]`; or a symbolized inline frame `name file.c:12 [inline]`.
/// s390 prints some frames in parentheses: `([<000000000012345a>] foo+0x1a/0x40)`.
static FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\s*\(?(?:\[<?(?:0x)?[0-9a-f]+>?\]\s*){0,2}(\?\s+)?(?:\[<?(?:0x)?[0-9a-f]+>?\]\s*)?([A-Za-z_][A-Za-z0-9_.$]*)(?:(\+0x[0-9a-f]+/0x[0-9a-f]+)(?:\s+\[([A-Za-z0-9_\-]+)[^\]]*\])?|\s+\S+:[0-9]+\s+\[inline\])",
    )
    .expect("frame pattern")
});

/// arm's `[<c0>] (callee) from [<c0>] (caller+0x..)`: the callee is the frame.
static ARM_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*\[<[0-9a-f]+>\] \(([A-Za-z_][A-Za-z0-9_.]*)\+0x[0-9a-f]+/0x[0-9a-f]+\) from ")
        .expect("arm frame pattern")
});

/// Lines after which the first trace is over.
const TRACE_ENDS: &[&str] = &[
    "---[ end",
    // s390 prints the last branch after the trace.
    "Last Breaking-Event-Address:",
    "Kernel Offset:",
    "Mem-Info:",
    "NMI backtrace for cpu",
    "Sending NMI from CPU",
    "Showing all locks held",
];

/// The first kernel RIP in the report.
pub fn rip(lines: &[String]) -> Option<Rip> {
    lines.iter().find_map(|line| {
        let caps = RIP.captures(line)?;
        let whole = caps.get(0)?.as_str().trim_start();
        let symbol_start = whole.rfind(&caps[1]).unwrap_or(0);
        let symbol = whole[symbol_start..]
            .split_whitespace()
            .next()
            .unwrap_or_default();
        Some(Rip {
            symbol: symbol.to_string(),
            function: normalise(&caps[1]).into_owned(),
            module: caps.get(2).map(|m| m.as_str().to_string()),
        })
    })
}

/// The first call trace of the report, top frame first. A kernel RIP printed
/// before the trace is its top frame (x86 prints the trace from the caller); one
/// printed inside it marks where an exception or interrupt came in.
pub fn frames(lines: &[String]) -> Vec<Frame> {
    let mut frames: Vec<Frame> = Vec::new();
    let mut pending_rip: Option<Frame> = None;
    let mut in_trace = false;
    let mut sections: Vec<&'static str> = Vec::new();
    for line in lines {
        let body = line.trim();
        if in_trace && TRACE_ENDS.iter().any(|end| body.starts_with(end)) {
            break;
        }
        let (changes, rest) = inline_sections(body);
        let changes_seen = !changes.is_empty();
        for section in changes {
            match section {
                Some(name) => sections.push(name),
                None => {
                    sections.pop();
                }
            }
        }
        if rest.is_empty() {
            continue;
        }
        let line: &str = if changes_seen { rest } else { line };
        if STACK_START.iter().any(|s| s.is_match(line)) {
            if in_trace && !frames.is_empty() {
                break;
            }
            in_trace = true;
            if let Some(top) = pending_rip.take() {
                frames.push(top);
            }
            continue;
        }
        if let Some(caps) = RIP.captures(line) {
            let frame = Frame {
                function: normalise(&caps[1]).into_owned(),
                module: caps.get(2).map(|m| m.as_str().to_string()),
                section: "exception",
                inlined: false,
            };
            if in_trace {
                frames.push(Frame {
                    section: current(&sections),
                    ..frame
                });
            } else if pending_rip.is_none() {
                pending_rip = Some(Frame {
                    section: "task",
                    ..frame
                });
            }
            continue;
        }
        if !in_trace {
            continue;
        }
        if let Some(frame) = parse_frame(line, current(&sections)) {
            if frames.last() != Some(&frame) || frame.inlined {
                frames.push(frame);
            }
            if frames.len() >= MAX_FRAMES {
                break;
            }
        }
    }
    frames
}

/// The NMI entry code: what the NMI part of a trace shows after it is the
/// interrupted instruction pointer (2.6.32 to 4.x print it as an unreliable frame).
static NMI_ENTRY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:nmi|end_repeat_nmi|repeat_nmi|first_nmi|nmi_restore|asm_exc_nmi)$")
        .expect("nmi entry pattern")
});

/// Where a CPU caught by a watchdog NMI was running, as candidate function names,
/// nearest first: the registers printed for the interrupted context (before the
/// trace, as `show_regs` prints them, or inside its NMI part, as 4.x+ `dump_stack`
/// does), the frame after the NMI entry, then the frames below the NMI part.
/// Unreliable (`?`) frames count when no reliable one is there (kernels without
/// frame pointers, such as RHEL 6, mark every frame so).
pub fn interrupted(lines: &[&str]) -> Vec<String> {
    let mut rip: Option<String> = None;
    let mut nmi_rip: Option<String> = None;
    let mut nmi_tail: Option<String> = None;
    let mut after_entry = false;
    let mut after_nmi: Vec<(String, bool)> = Vec::new();
    let mut trace: Vec<(String, bool)> = Vec::new();
    let mut sections: Vec<&'static str> = Vec::new();
    let (mut in_trace, mut nmi_seen) = (false, false);
    for line in lines.iter().take(crate::extract::MAX_LINES) {
        let body = line.trim();
        if in_trace && TRACE_ENDS.iter().any(|end| body.starts_with(end)) {
            break;
        }
        let (changes, rest) = inline_sections(body);
        let changes_seen = !changes.is_empty();
        for change in changes {
            match change {
                Some(name) => {
                    nmi_seen |= name == "nmi";
                    sections.push(name);
                }
                None => {
                    sections.pop();
                }
            }
        }
        let line: &str = if changes_seen { rest } else { line };
        if line.is_empty() {
            continue;
        }
        if STACK_START.iter().any(|s| s.is_match(line)) {
            if in_trace && !trace.is_empty() {
                break;
            }
            in_trace = true;
            continue;
        }
        let in_nmi = current(&sections) == "nmi";
        if let Some(caps) = RIP.captures(line) {
            let name = normalise(&caps[1]).into_owned();
            if in_trace && in_nmi {
                nmi_rip = Some(name);
            } else if !in_trace && rip.is_none() {
                rip = Some(name);
            }
            continue;
        }
        if !in_trace {
            continue;
        }
        let Some(caps) = FRAME.captures(line) else {
            continue;
        };
        if caps.get(3).is_none() {
            continue;
        }
        let frame = (normalise(&caps[2]).into_owned(), caps.get(1).is_none());
        if in_nmi {
            if after_entry && nmi_tail.is_none() {
                nmi_tail = Some(frame.0);
            } else {
                after_entry |= NMI_ENTRY.is_match(&frame.0);
            }
            continue;
        }
        if nmi_seen {
            after_nmi.push(frame.clone());
        }
        trace.push(frame);
        if trace.len() >= MAX_FRAMES {
            break;
        }
    }
    let prefer_reliable = |frames: Vec<(String, bool)>| -> Vec<String> {
        let any_reliable = frames.iter().any(|(_, reliable)| *reliable);
        frames
            .into_iter()
            .filter(|(_, reliable)| *reliable || !any_reliable)
            .map(|(name, _)| name)
            .collect()
    };
    // Registers printed before the trace are the interrupted context's (show_regs
    // of the NMI's regs): nearest of all.
    let mut out: Vec<String> = rip.into_iter().collect();
    if nmi_seen {
        out.extend(nmi_rip.or(nmi_tail));
        out.extend(prefer_reliable(after_nmi));
    } else {
        out.extend(prefer_reliable(trace));
    }
    out
}

/// The first trace's frames when every reliable one is missing: the unreliable
/// (`?`) ones, top first.
pub fn unreliable_frames(lines: &[String]) -> Vec<Frame> {
    let mut out = Vec::new();
    let mut in_trace = false;
    for line in lines.iter().take(crate::extract::MAX_LINES) {
        let body = line.trim();
        if in_trace && TRACE_ENDS.iter().any(|end| body.starts_with(end)) {
            break;
        }
        let (changes, rest) = inline_sections(body);
        let line: &str = if changes.is_empty() { line } else { rest };
        if STACK_START.iter().any(|s| s.is_match(line)) {
            if in_trace && !out.is_empty() {
                break;
            }
            in_trace = true;
            continue;
        }
        if !in_trace {
            continue;
        }
        if let Some(caps) = FRAME.captures(line) {
            if caps.get(3).is_some() {
                out.push(Frame {
                    function: normalise(&caps[2]).into_owned(),
                    module: caps.get(4).map(|m| m.as_str().to_string()),
                    section: "task",
                    inlined: false,
                });
            }
        }
        if out.len() >= MAX_FRAMES {
            break;
        }
    }
    out
}

/// A call-trace frame line, reliable or not.
pub fn is_frame(line: &str) -> bool {
    let (_, rest) = inline_sections(line.trim());
    FRAME.captures(rest).is_some_and(|c| c.get(3).is_some()) || ARM_FRAME.is_match(line)
}

fn parse_frame(line: &str, section: &'static str) -> Option<Frame> {
    if let Some(caps) = FRAME.captures(line) {
        if caps.get(1).is_some() {
            return None;
        }
        return Some(Frame {
            function: normalise(&caps[2]).into_owned(),
            module: caps.get(4).map(|m| m.as_str().to_string()),
            section,
            inlined: caps.get(3).is_none(),
        });
    }
    let caps = ARM_FRAME.captures(line)?;
    Some(Frame {
        function: normalise(&caps[1]).into_owned(),
        module: None,
        section,
        inlined: false,
    })
}

/// The section markers a line starts with and what follows them: kernels before
/// 4.9 print markers in front of the next frame (` <NMI>  [<ffff..>] foo+0x1/0x2`,
/// ` <<EOE>>  [<..>] bar+..`), later ones on a line of their own.
fn inline_sections(body: &str) -> (Vec<Option<&'static str>>, &str) {
    let mut changes = Vec::new();
    let mut rest = body;
    while rest.starts_with('<') {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        match section_change(&rest[..end]) {
            Some(change) => changes.push(change),
            None => break,
        }
        rest = rest[end..].trim_start();
    }
    (changes, rest)
}

/// `Some(Some(name))` opens a section, `Some(None)` closes one.
fn section_change(body: &str) -> Option<Option<&'static str>> {
    Some(match body {
        "<IRQ>" => Some("irq"),
        "<NMI>" => Some("nmi"),
        "<SOFTIRQ>" => Some("softirq"),
        "<#DF>" => Some("double-fault"),
        "<TASK>" => Some("task"),
        "</IRQ>" | "</NMI>" | "</SOFTIRQ>" | "</TASK>" | "<EOI>" | "<<EOE>>" | "<EOE>" => None,
        _ => return None,
    })
}

fn current(sections: &[&'static str]) -> &'static str {
    sections.last().copied().unwrap_or("task")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn modern_x86_trace_with_rip_on_top() {
        let report = lines(
            "BUG: kernel NULL pointer dereference, address: 0000000000000000\n\
             RIP: 0010:fx_null_deref+0x1c/0x28 [crashfixture]\n\
             Call Trace:\n\
             <TASK>\n\
             fx_run.cold+0x2d/0x32 [crashfixture]\n\
             ? filp_close+0x5b/0x70\n\
             vfs_write+0xc7/0x3f0\n\
             RIP: 0033:0x47b7a0\n\
             </TASK>\n\
             Modules linked in: crashfixture(OE)\n",
        );
        let names: Vec<_> = frames(&report).into_iter().map(|f| f.function).collect();
        assert_eq!(names, ["fx_null_deref", "fx_run", "vfs_write"]);
        let rip = rip(&report).unwrap();
        assert_eq!(rip.symbol, "fx_null_deref+0x1c/0x28");
        assert_eq!(rip.module.as_deref(), Some("crashfixture"));
    }

    #[test]
    fn old_x86_trace_with_addresses_and_sections() {
        let report = lines(
            "RIP: 0010:[<ffffffffc05e0d49>]  [<ffffffffc05e0d49>] kvm_zap_rmapp+0x49/0x60 [kvm]\n\
             Call Trace:\n\
             <IRQ>\n\
             [<ffffffff8163e4b5>] irq_fn+0x19/0x1b\n\
             <EOI>\n\
             [<ffffffffc05e0da0>] kvm_unmap_rmapp+0x10/0x20 [kvm]\n\
             [<ffffffff810b4ff8>] ? other+0x1/0x2\n",
        );
        let got = frames(&report);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].function, "kvm_zap_rmapp");
        assert_eq!(got[0].module.as_deref(), Some("kvm"));
        assert_eq!(got[1].section, "irq");
        assert_eq!(got[2].section, "task");
        assert_eq!(got[2].function, "kvm_unmap_rmapp");
    }

    #[test]
    fn interrupted_context_of_a_watchdog_nmi() {
        // 3.10: the NMI part, the interrupted RIP as '?' frames, <<EOE>>, the rest.
        let old = [
            "Call Trace:",
            " <NMI>  [<ffffffff81685eac>] dump_stack+0x19/0x1b",
            " [<ffffffff8113b5ad>] watchdog_overflow_callback+0xfd/0x100",
            " [<ffffffff81690db9>] end_repeat_nmi+0x1e/0x2e",
            " [<ffffffffc03a7a20>] ? nvme_irq+0x40/0x1b0 [nvme]",
            " <<EOE>>  <IRQ>  [<ffffffff81146f54>] __handle_irq_event_percpu+0x44/0x1c0",
        ];
        assert_eq!(interrupted(&old), ["nvme_irq", "__handle_irq_event_percpu"]);
        // 4.x+: show_regs of the interrupted context, no NMI part.
        let new = [
            "RIP: 0010:native_queued_spin_lock_slowpath+0x5d/0x1c0",
            "Call Trace:",
            " _raw_spin_lock_irqsave+0x32/0x40",
            " ? junk+0x1/0x2",
            " qla2x00_start_scsi+0x7c/0x7e0 [qla2xxx]",
        ];
        assert_eq!(
            interrupted(&new),
            [
                "native_queued_spin_lock_slowpath",
                "_raw_spin_lock_irqsave",
                "qla2x00_start_scsi"
            ]
        );
    }

    #[test]
    fn inline_section_markers_and_s390_frames() {
        let report = lines(
            "Call Trace:\n <IRQ>  [<ffffffff8106a3c5>] foo_irq+0x1/0x2\n <EOI>  [<ffffffff8106a3c5>] bar+0x1/0x2\n\
             ([<000003ff8010b532>] baz+0x10a/0x138 [dasd_mod])\nLast Breaking-Event-Address:\n [<000003ff8010a3ba>] qux+0x5a/0x68\n",
        );
        let got = frames(&report);
        let names: Vec<_> = got.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(names, ["foo_irq", "bar", "baz"]);
        assert_eq!((got[0].section, got[1].section), ("irq", "task"));
        let psw =
            lines("Krnl PSW : 0704c00180000000 000003ff8010a3be (dasd_free+0x5e/0x68 [dasd_mod])");
        let rip = rip(&psw).unwrap();
        assert_eq!(
            (rip.function.as_str(), rip.module.as_deref()),
            ("dasd_free", Some("dasd_mod"))
        );
    }

    #[test]
    fn inline_frames_and_arm() {
        let report = lines(
            "Call Trace:\n __dump_stack lib/dump_stack.c:77 [inline]\n dump_stack+0x172/0x1f0 lib/dump_stack.c:113\n",
        );
        let got = frames(&report);
        assert!(got[0].inlined && !got[1].inlined);
        let arm =
            lines("Backtrace:\n[<c0101234>] (foo+0x10/0x20) from [<c0105678>] (bar+0x1/0x2)\n");
        assert_eq!(frames(&arm)[0].function, "foo");
    }
}

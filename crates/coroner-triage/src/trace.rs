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
/// before 4.x), `pc : ` (arm64), `PC is at` (arm), `NIP [..]` (powerpc).
static RIP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:^|\s)(?:RIP: (?:[0-9a-f]{4}:)?|IP: |pc : |PC is at |NIP:? )(?:\[<?[0-9a-f]+>?\] +){0,2}([A-Za-z_][A-Za-z0-9_.]*)\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[([A-Za-z0-9_\-]+)[^\]]*\])?",
    )
    .expect("rip pattern")
});

/// A frame line: addresses, an optional `?`, the symbol with offset and size, an
/// optional `[module]`; or a symbolized inline frame `name file.c:12 [inline]`.
static FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\s*(?:\[<?(?:0x)?[0-9a-f]+>?\]\s*){0,2}(\?\s+)?(?:\[<?(?:0x)?[0-9a-f]+>?\]\s*)?([A-Za-z_][A-Za-z0-9_.$]*)(?:(\+0x[0-9a-f]+/0x[0-9a-f]+)(?:\s+\[([A-Za-z0-9_\-]+)[^\]]*\])?|\s+\S+:[0-9]+\s+\[inline\])",
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
        if let Some(section) = section_change(body) {
            match section {
                Some(name) => sections.push(name),
                None => {
                    sections.pop();
                }
            }
            continue;
        }
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

/// `Some(Some(name))` opens a section, `Some(None)` closes one.
fn section_change(body: &str) -> Option<Option<&'static str>> {
    Some(match body {
        "<IRQ>" => Some("irq"),
        "<NMI>" => Some("nmi"),
        "<SOFTIRQ>" => Some("softirq"),
        "<#DF>" => Some("double-fault"),
        "<TASK>" => Some("task"),
        "</IRQ>" | "</NMI>" | "</SOFTIRQ>" | "</TASK>" | "<EOI>" | "<<EOE>>" => None,
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

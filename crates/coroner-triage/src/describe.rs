//! Titling a report: find the earliest place one of its kind's formats matches,
//! fill the format's template with the captured text and the frame found, and
//! normalise the result so that the same bug always reads the same.

use crate::catalog::{Format, Kind};
use crate::class::Class;
use crate::pattern::{re, RIP_LINE};
use crate::sanitize;
use crate::stack::{self, find_frames, Found, FrameSpec, Pick};
use regex::Regex;
use std::sync::LazyLock;

pub struct Description {
    pub title: String,
    pub class: Class,
    /// The function the title names, when the format names one.
    pub frame: Option<String>,
    /// The function to blame when it is not the title's (lockups: where the CPU
    /// was stuck).
    pub guilty: Option<String>,
    /// The report lost parts (interleaved output, missing frames, a lost header).
    pub corrupted: bool,
}

/// Titles `text` (a report's lines joined by `\n`) as a report of `kind`. `full`
/// is the same report with its unreliable frames, when it had any.
pub fn describe(text: &str, full: Option<&str>, kind: &Kind) -> Description {
    let mut chosen: Option<(usize, &Format, String, Option<String>, bool)> = None;
    let mut earliest = text.len();
    let mut matched_title = false;
    for format in &kind.formats {
        let Some(m) = format.title.find(text) else {
            continue;
        };
        if m.start() > earliest || (m.start() == earliest && chosen.is_some()) {
            continue;
        }
        if m.start() < earliest {
            chosen = None;
            earliest = m.start();
        }
        matched_title = true;
        let pattern = format.report.as_ref().unwrap_or(&format.title);
        let Some(caps) = pattern.captures(text) else {
            continue;
        };
        let mut args: Vec<String> = caps
            .iter()
            .skip(1)
            .map(|g| g.map_or(String::new(), |g| g.as_str().to_string()))
            .collect();
        let mut frame = None;
        let mut complete = true;
        if let Some(spec) = &format.frame {
            let from = caps.get(0).map_or(0, |m| m.start());
            let found = frames(spec, format, text, from, full);
            complete = found.complete;
            frame = found.frames.first().cloned();
            args.extend(found.frames);
        } else if let Some(n) = format.names {
            frame = args
                .get(n.wrapping_sub(1))
                .filter(|f| !f.is_empty())
                .cloned();
        }
        let title = fill(format.template, &args);
        chosen = Some((m.start(), format, title, frame, complete));
    }
    let Some((_, format, title, frame, complete)) = chosen else {
        return untitled(text, kind, matched_title);
    };
    let from = format.title.find(text).map_or(0, |m| m.start());
    let guilty = format
        .guilty
        .as_ref()
        .and_then(|spec| {
            frames(spec, format, text, from, full)
                .frames
                .into_iter()
                .next()
                .filter(|f| f != "corrupted")
        })
        .or_else(|| {
            // The title keeps syzbot's "in corrupted" when no reliable frame is
            // there; the faulting function is still known.
            let spec = format.frame.as_ref().filter(|_| !complete)?;
            unreliable_guilty(spec, format, &text[from..], full?)
        });
    let title = sanitize::title(&title);
    // Watchdog reports are read with their unreliable frames: so is their trace.
    let watchdog = format
        .frame
        .as_ref()
        .is_some_and(|spec| matches!(spec.pick, Pick::Interrupted));
    let traced = full.filter(|_| watchdog).unwrap_or(text);
    let corrupted = !complete
        || format.corrupted
        || TIMESTAMP.is_match(&title)
        || (format.frame.is_some() && !format.no_stack_trace && !has_stack_trace(traced, watchdog));
    Description {
        title,
        class: format.class,
        frame: frame.filter(|f| f != "corrupted"),
        guilty,
        corrupted,
    }
}

/// The frames `spec` finds from the title's match at `from` on. Watchdog lockups
/// read the unreliable frames too (`full`): a CPU stopped in NMI context often
/// has no reliable frame at all.
fn frames(spec: &FrameSpec, format: &Format, text: &str, from: usize, full: Option<&str>) -> Found {
    if matches!(spec.pick, Pick::Interrupted) {
        if let Some(full) = full {
            let from = format.title.find(full).map_or(0, |m| m.start());
            let lines: Vec<&str> = full[from..].split('\n').collect();
            return find_frames(spec, &lines);
        }
    }
    let lines: Vec<&str> = text[from..].split('\n').collect();
    find_frames(spec, &lines)
}

/// The function to blame when a trace's frames are all unreliable (`?`): the RIP
/// line's (NIP, PC, PSW) unless it is machinery, else the walk over the trace with
/// the unreliable frames taken as they are, else the RIP line's whatever it is.
fn unreliable_guilty(spec: &FrameSpec, format: &Format, text: &str, full: &str) -> Option<String> {
    let rip = text.split('\n').find_map(|l| {
        RIP_FUNCTION
            .captures(l)
            .and_then(|c| c.iter().skip(1).flatten().next())
            .map(|m| stack::strip_syscall_prefix(m.as_str()).to_string())
    });
    if let Some(rip) = rip.as_ref().filter(|r| !spec.skip.is_match(r)) {
        return Some(rip.clone());
    }
    let from = format.title.find(full).map_or(0, |m| m.start());
    let marked: Vec<String> = full[from..]
        .split('\n')
        .map(|l| UNRELIABLE_MARK.replace(l, "$1 ").into_owned())
        .collect();
    let lines: Vec<&str> = marked.iter().map(String::as_str).collect();
    let found = find_frames(spec, &lines);
    if found.complete {
        return found.frames.into_iter().next();
    }
    rip
}

static RIP_FUNCTION: LazyLock<Regex> = LazyLock::new(|| re(RIP_LINE));
/// The ` ? ` an unwinder puts before a frame it is unsure of.
static UNRELIABLE_MARK: LazyLock<Regex> =
    LazyLock::new(|| re(r"^((?:\s*<{1,2}/?[A-Z]+>{1,2})*\s*(?:\[<?[0-9a-f]+>?\]\s*)?) \? "));

/// No format fits: the title is the line from the header on, and the class that
/// of the kind's catch-all (last) format.
fn untitled(text: &str, kind: &Kind, matched_title: bool) -> Description {
    let from = text.find(kind.header).unwrap_or(0);
    let line = text[from..].split('\n').next().unwrap_or_default();
    Description {
        title: sanitize::title(line),
        class: kind.formats.last().map_or(Class::Bug, |f| f.class),
        frame: None,
        guilty: None,
        corrupted: matched_title,
    }
}

/// `{n}` in `template` becomes `args[n - 1]`.
fn fill(template: &str, args: &[String]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| {
            let n: usize = after[..close].parse().ok()?;
            Some((n, close))
        }) {
            Some((n, close)) => {
                out.push_str(args.get(n.wrapping_sub(1)).map_or("", String::as_str));
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A timestamp inside a title: two console lines were merged.
static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| re(r"\[ *[0-9]+\.[0-9]+\]"));

/// Every stack-trace header in the report must be followed by frames (unreliable
/// ones count when `unreliable` is set), and there must be at least one such trace.
fn has_stack_trace(text: &str, unreliable: bool) -> bool {
    let riscv = &stack::STACK_START[stack::STACK_START.len() - 1];
    let mut any = false;
    for start in stack::STACK_START.iter() {
        let Some(m) = start.find(text) else {
            continue;
        };
        let following: Vec<&str> = text[m.start()..].split('\n').skip(1).collect();
        if following.len() < 3 {
            return false;
        }
        let framed = following
            .iter()
            .take(15)
            .take_while(|l| !stack::STACK_START.iter().any(|s| s.is_match(l)))
            .any(|l| {
                l.contains("(stack is not available)")
                    || stack::FRAME.iter().any(|f| f.is_match(l))
                    || (unreliable && crate::trace::is_frame(l))
            });
        if framed {
            any = true;
        } else if !std::ptr::eq(start, riscv) {
            return false;
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        let args = ["a".to_string(), "b".to_string()];
        assert_eq!(fill("x {2} in {1}", &args), "x b in a");
        assert_eq!(fill("{3} {x} {", &args), " {x} {");
    }
}

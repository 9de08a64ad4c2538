//! The human forms of a report: one terminal screen, and Markdown for tickets.

use crate::report::Report;
use std::fmt::Write;

/// Frames shown: the top of the trace is what a reader needs.
const SHOWN_FRAMES: usize = 12;

/// A short plain-text report.
pub fn text(report: &Report) -> String {
    let Some(title) = &report.title else {
        return "no crash found\n".to_string();
    };
    let mut out = String::new();
    let mut row = |key: &str, value: &str| {
        let _ = writeln!(out, "{key:<10} {value}");
    };
    row("crash", title);
    for (key, value) in fields(report) {
        row(key, &value);
    }
    for (i, frame) in shown_frames(report).into_iter().enumerate() {
        row(if i == 0 { "trace" } else { "" }, &frame);
    }
    for known in &report.kb {
        row("known", &format!("{} ({})", known.summary, known.id));
        for line in wrap(&known.diagnosis, 68) {
            row("", &line);
        }
        if let Some(workaround) = &known.workaround {
            for (i, line) in wrap(workaround, 68).into_iter().enumerate() {
                row(if i == 0 { "workaround" } else { "" }, &line);
            }
        }
        for reference in &known.references {
            row("see", reference);
        }
    }
    for other in &report.others {
        row("also", &other_line(other));
    }
    out
}

/// A Markdown report for pasting into a ticket.
pub fn markdown(report: &Report) -> String {
    let Some(title) = &report.title else {
        return "No crash found.\n".to_string();
    };
    let mut out = format!("### {title}\n\n| | |\n|---|---|\n");
    for (key, value) in fields(report) {
        let _ = writeln!(out, "| {key} | `{}` |", value.replace('|', "\\|"));
    }
    let frames = shown_frames(report);
    if !frames.is_empty() {
        let _ = writeln!(out, "\n**Call trace**\n\n```\n{}\n```", frames.join("\n"));
    }
    for known in &report.kb {
        let _ = writeln!(
            out,
            "\n**Known issue: {}** (`{}`)\n\n{}",
            known.summary, known.id, known.diagnosis
        );
        if let Some(workaround) = &known.workaround {
            let _ = writeln!(out, "\n*Workaround:* {workaround}");
        }
        for reference in &known.references {
            let _ = writeln!(out, "- {reference}");
        }
    }
    if !report.others.is_empty() {
        let _ = writeln!(out, "\n**Other crashes in the log**\n");
        for other in &report.others {
            let _ = writeln!(out, "- {}", other_line(other));
        }
    }
    out
}

/// The labelled facts both forms show, in reading order.
fn fields(report: &Report) -> Vec<(&'static str, String)> {
    let mut rows = Vec::new();
    if let Some(class) = report.class {
        rows.push(("class", class.name().to_string()));
    }
    if let Some(message) = &report.message {
        rows.push(("message", message.clone()));
    }
    if let Some(panic) = &report.panic {
        rows.push(("panic", panic.clone()));
    }
    if let Some(guilty) = &report.guilty {
        let module = report
            .module
            .as_deref()
            .map(|m| format!(" [{m}]"))
            .unwrap_or_default();
        rows.push(("guilty", format!("{guilty}{module}")));
    }
    if let Some(rip) = &report.rip {
        let module = rip
            .module
            .as_deref()
            .map(|m| format!(" [{m}]"))
            .unwrap_or_default();
        rows.push(("rip", format!("{}{module}", rip.symbol)));
    }
    let task = match (&report.comm, report.pid) {
        (Some(comm), Some(pid)) => Some(format!("{comm} (pid {pid})")),
        (Some(comm), None) => Some(comm.clone()),
        (None, Some(pid)) => Some(format!("pid {pid}")),
        (None, None) => None,
    };
    let cpu = report.cpu.map(|c| format!("CPU {c}"));
    match (task, cpu) {
        (Some(task), Some(cpu)) => rows.push(("task", format!("{task} on {cpu}"))),
        (Some(task), None) => rows.push(("task", task)),
        (None, Some(cpu)) => rows.push(("cpu", cpu)),
        (None, None) => {}
    }
    if let Some(release) = &report.release {
        rows.push(("kernel", release.clone()));
    }
    if let Some(taint) = &report.taint {
        let value = if taint.flags.is_empty() {
            "not tainted".to_string()
        } else {
            taint.flags.join("; ")
        };
        rows.push(("taint", value));
    }
    if let Some(hardware) = &report.hardware {
        rows.push(("hardware", hardware.clone()));
    }
    if !report.modules.is_empty() {
        rows.push(("modules", report.modules.join(" ")));
    }
    if let Some(signature) = &report.signature {
        rows.push(("signature", signature.clone()));
    }
    if report.corrupted {
        rows.push((
            "note",
            "the report is damaged (interleaved or cut lines)".to_string(),
        ));
    }
    rows
}

fn shown_frames(report: &Report) -> Vec<String> {
    let mut frames: Vec<String> = report
        .trace
        .iter()
        .take(SHOWN_FRAMES)
        .map(|f| {
            let module = f
                .module
                .as_deref()
                .map(|m| format!(" [{m}]"))
                .unwrap_or_default();
            let section = if f.section == "task" {
                String::new()
            } else {
                format!("  <{}>", f.section)
            };
            let inlined = if f.inlined { " (inlined)" } else { "" };
            format!("{}{module}{inlined}{section}", f.function)
        })
        .collect();
    if report.trace.len() > SHOWN_FRAMES {
        frames.push(format!("... {} more", report.trace.len() - SHOWN_FRAMES));
    }
    frames
}

fn other_line(other: &crate::report::Other) -> String {
    let times = if other.count > 1 {
        format!(" (x{})", other.count)
    } else {
        String::new()
    };
    format!("{} (line {}){times}", other.title, other.line)
}

/// Greedy word wrap.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_crash_forms() {
        let empty = Report::default();
        assert_eq!(text(&empty), "no crash found\n");
        assert_eq!(markdown(&empty), "No crash found.\n");
    }

    #[test]
    fn wraps_words() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert!(wrap("", 5).is_empty());
    }
}

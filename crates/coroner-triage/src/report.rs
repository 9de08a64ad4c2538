//! Assembling the report: the primary crash with everything known about it, the
//! further crashes of the log, and the knowledge-base matches.

use crate::catalog::CATALOG;
use crate::class::Class;
use crate::describe::{describe, Description};
use crate::extract::{self, extract, Extracted, CONTINUATIONS, MAX_LINES};
use crate::facts;
use crate::kb::KnowledgeBase;
use crate::scan::{self, Hit};
use crate::signature;
use crate::stack;
use crate::taint::Taint;
use crate::trace::{self, Frame, Rip};
use regex::Regex;
use serde::Serialize;
use std::sync::LazyLock;

/// Further crashes listed at most (distinct titles); the rest are only counted.
const MAX_OTHERS: usize = 32;
/// Further report lines looked at: bounds the work on logs of endless oopses.
const MAX_OTHER_HITS: usize = 1000;
/// Further reports are only titled: their first lines are enough.
const MAX_OTHER_LINES: usize = 400;

/// Everything triage says about a log. Field names are the JSON interface.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// A crash report was found.
    pub crashed: bool,
    pub title: Option<String>,
    pub class: Option<Class>,
    /// The first line of the report, as printed.
    pub message: Option<String>,
    /// The reason of `Kernel panic - not syncing: ...`, when the kernel panicked.
    pub panic: Option<String>,
    /// The function the crash is blamed on.
    pub guilty: Option<String>,
    /// The module of the guilty function (`None`: built into the kernel).
    pub module: Option<String>,
    pub signature: Option<String>,
    /// The faulting instruction pointer.
    pub rip: Option<Rip>,
    /// The call trace's functions, top first.
    pub frames: Vec<String>,
    /// The same with modules, stack sections and inlining.
    pub trace: Vec<Frame>,
    pub comm: Option<String>,
    pub pid: Option<u32>,
    pub cpu: Option<u32>,
    pub taint: Option<Taint>,
    pub release: Option<String>,
    pub hardware: Option<String>,
    pub modules: Vec<String>,
    /// Parts of the report are missing or garbled: the title may be less precise.
    pub corrupted: bool,
    /// 1-based line of the input where the report starts.
    pub line: Option<usize>,
    pub kb: Vec<KbMatch>,
    /// Further crashes in the log, first first.
    pub others: Vec<Other>,
}

/// A knowledge-base rule that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KbMatch {
    pub id: String,
    pub summary: String,
    pub diagnosis: String,
    pub workaround: Option<String>,
    pub references: Vec<String>,
}

/// A further crash of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Other {
    pub title: String,
    pub class: Class,
    pub line: usize,
    /// How many times this title occurs after the primary crash.
    pub count: usize,
}

/// Analyses `text` and adds the knowledge base's matches.
pub fn triage(text: &[u8], kb: &KnowledgeBase) -> Report {
    let mut report = analyse(text);
    if report.crashed {
        report.kb = kb.matches(&report);
    }
    report
}

/// Analyses `text` without a knowledge base.
pub fn analyse(text: &[u8]) -> Report {
    let hit = scan::primary_hit(text);
    let orphan = extract::orphan(text, hit.as_ref().map_or(text.len(), |h| h.start));
    let Some(hit) = hit else {
        return orphan.map_or_else(Report::default, |o| lost_header(text, &o));
    };
    let extracted = extract(text, &hit, MAX_LINES);
    let description = describe_extracted(&extracted, &hit);
    let mut report = primary(&hit, &extracted, description);
    // A panic (or another consequence) first, after a report whose start was
    // lost: that report is the crash, the panic its end.
    if let Some(orphan) = orphan.filter(|_| CONTINUATIONS.is_match(&hit.line.body)) {
        let body = primary_from(&orphan, lost_header_description(&orphan));
        if body.guilty.is_some() {
            report.guilty = body.guilty;
            report.module = body.module;
            report.rip = body.rip;
            report.frames = body.frames;
            report.trace = body.trace;
            report.corrupted = true;
            report.signature = Some(signature::compute(
                report.class.unwrap_or(Class::Oops),
                report.title.as_deref().unwrap_or_default(),
                report.guilty.as_deref(),
                report.module.as_deref(),
                &report.trace,
            ));
        }
    }
    if report.release.is_none() {
        report.release = facts::banner_release(text);
    }
    report.line = Some(line_number(text, hit.start));
    report.others = others(text, &hit, report.line.unwrap_or(1));
    report
}

/// A log that starts inside a crash report and holds no other: the report is
/// there, its header is not.
fn lost_header(text: &[u8], orphan: &Extracted) -> Report {
    let description = lost_header_description(orphan);
    let mut report = primary_from(orphan, description);
    if report.guilty.is_none() && report.rip.is_none() {
        return Report::default();
    }
    report.message = orphan
        .lines
        .iter()
        .find(|l| l.as_str() != "Call Trace:")
        .cloned();
    if report.release.is_none() {
        report.release = facts::banner_release(text);
    }
    report.line = Some(1);
    report
}

fn lost_header_description(orphan: &Extracted) -> Description {
    let trace = trace::frames(&orphan.lines);
    let mut guilty = first_culprit(&trace);
    if guilty.is_none() && !orphan.full.is_empty() {
        guilty = first_culprit(&trace::unreliable_frames(&orphan.full));
    }
    let class = orphan
        .panic
        .as_deref()
        .map_or(Class::Oops, Class::of_panic_reason);
    let class = if class == Class::Panic {
        Class::Oops
    } else {
        class
    };
    let title = match &guilty {
        Some(g) => format!("corrupted report in {g}"),
        None => "corrupted report".to_string(),
    };
    Description {
        title: crate::sanitize::title(&title),
        class,
        frame: guilty.clone(),
        guilty,
        corrupted: true,
    }
}

fn describe_extracted(extracted: &Extracted, hit: &Hit) -> Description {
    let full = (!extracted.full.is_empty()).then(|| extracted.full.join("\n"));
    describe(
        &extracted.lines.join("\n"),
        full.as_deref(),
        &CATALOG[hit.kind],
    )
}

fn primary(hit: &Hit, extracted: &Extracted, description: Description) -> Report {
    let mut report = primary_from(extracted, description);
    report.message = Some(hit.line.body.trim().to_string());
    report
}

fn primary_from(extracted: &Extracted, description: Description) -> Report {
    let lines = &extracted.lines;
    let facts = facts::collect(
        extracted
            .prefix
            .iter()
            .chain(lines.iter())
            .map(String::as_str),
    );
    let trace = trace::frames(lines);
    let rip = trace::rip(lines);
    let guilty = description
        .guilty
        .clone()
        .or_else(|| description.frame.clone())
        .or_else(|| first_culprit(&trace))
        .or_else(|| {
            // Every frame unreliable (the RIP line, when there is one, tops the
            // trace above): the unreliable frames are all there is.
            (!extracted.full.is_empty())
                .then(|| first_culprit(&trace::unreliable_frames(&extracted.full)))
                .flatten()
        })
        // Only machinery: where it faulted is still the best there is.
        .or_else(|| rip.as_ref().map(|r| r.function.clone()));
    let module = guilty
        .as_deref()
        .and_then(|g| module_of(g, &trace, rip.as_ref()));
    let class = refine(description.class, extracted, guilty.as_deref());
    let signature = signature::compute(
        class,
        &description.title,
        guilty.as_deref(),
        module.as_deref(),
        &trace,
    );
    Report {
        crashed: true,
        title: Some(description.title),
        class: Some(class),
        message: None,
        panic: extracted.panic.clone(),
        guilty,
        module,
        signature: Some(signature),
        rip,
        frames: trace.iter().map(|f| f.function.clone()).collect(),
        trace,
        comm: facts.comm,
        pid: facts.pid,
        cpu: facts.cpu,
        taint: facts.taint,
        release: facts.release,
        hardware: facts.hardware,
        modules: facts.modules,
        corrupted: description.corrupted,
        line: None,
        kb: Vec::new(),
        others: Vec::new(),
    }
}

/// The top frame that is not crash machinery, for reports whose title names none.
fn first_culprit(trace: &[Frame]) -> Option<String> {
    static MACHINERY: LazyLock<Regex> = LazyLock::new(|| stack::skip_list(&[]));
    trace
        .iter()
        .find(|f| !f.inlined && !MACHINERY.is_match(&f.function))
        .map(|f| f.function.clone())
}

fn module_of(function: &str, trace: &[Frame], rip: Option<&Rip>) -> Option<String> {
    trace
        .iter()
        .find(|f| f.function == function)
        .and_then(|f| f.module.clone())
        .or_else(|| {
            rip.filter(|r| r.function == function)
                .and_then(|r| r.module.clone())
        })
}

static SYSRQ_CRASH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)sysrq ?: (?:Trigger a crash|crash)").expect("sysrq pattern"));
static LIST_CORRUPTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"list_(?:add|del) corruption|lib/list_debug\.c").expect("list pattern")
});

/// What the report's own format cannot tell: who asked for the crash, and what a
/// bare panic or a WARNING in list debugging stands for.
fn refine(class: Class, extracted: &Extracted, guilty: Option<&str>) -> Class {
    let all = || extracted.prefix.iter().chain(extracted.lines.iter());
    if guilty == Some("sysrq_handle_crash") || all().any(|l| SYSRQ_CRASH.is_match(l)) {
        return Class::Sysrq;
    }
    match class {
        Class::Panic => extracted
            .panic
            .as_deref()
            .map_or(Class::Panic, Class::of_panic_reason),
        Class::Warning | Class::Bug | Class::InvalidOpcode
            if all().take(8).any(|l| LIST_CORRUPTION.is_match(l)) =>
        {
            Class::ListCorruption
        }
        _ => class,
    }
}

/// The crashes after the primary one. Messages that belong to the report before
/// them (the panic it caused, "invalid opcode" after "kernel BUG") are not crashes.
fn others(text: &[u8], primary: &Hit, primary_line: usize) -> Vec<Other> {
    let mut found: Vec<Other> = Vec::new();
    let mut from = scan::line_end(text, primary.start) + 1;
    let (mut counted_to, mut line) = (primary.start, primary_line);
    for _ in 0..MAX_OTHER_HITS {
        if from >= text.len() {
            break;
        }
        let Some(hit) = scan::next_hit(text, from) else {
            break;
        };
        from = scan::line_end(text, hit.start) + 1;
        if CONTINUATIONS.is_match(&hit.line.body) {
            continue;
        }
        line += count_lines(&text[counted_to..hit.start]);
        counted_to = hit.start;
        let extracted = extract(text, &hit, MAX_OTHER_LINES);
        let description = describe_extracted(&extracted, &hit);
        if let Some(seen) = found.iter_mut().find(|o| o.title == description.title) {
            seen.count += 1;
        } else if found.len() < MAX_OTHERS {
            found.push(Other {
                title: description.title,
                class: description.class,
                line,
                count: 1,
            });
        }
    }
    found
}

fn line_number(text: &[u8], at: usize) -> usize {
    count_lines(&text[..at]) + 1
}

fn count_lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

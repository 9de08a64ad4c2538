//! `triage`: what crashed, where, and whether it is a known issue, from a kernel
//! log (any capture of one) or from the log inside a dump, which also brings the
//! dump's own record of the kernel.

use crate::hang::HangReport;
use crate::identity::KernelIdentity;
use crate::render::Render;
use crate::schema::{write_document, Warning};
use coroner_dump::Dump;
use coroner_kernel::dmesg::{self, LogError};
use coroner_kernel::Kernel;
use coroner_triage::{Class, Frame, KnowledgeBase, Report};
use serde::Serialize;
use std::io::{self, Write};

/// The dump a log was read from.
#[derive(Debug, Clone, Serialize)]
pub struct DumpFacts {
    pub format: &'static str,
    #[serde(flatten)]
    pub identity: KernelIdentity,
    /// What could not be read of the kernel log.
    pub log_warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TriageReport {
    /// The path given (`-` for standard input).
    pub input: String,
    #[serde(flatten)]
    pub report: Report,
    /// Present when the input was a dump.
    pub dump: Option<DumpFacts>,
    /// For a dump whose log holds no crash: what its CPUs and blocked tasks show.
    pub hang: Option<HangReport>,
}

/// Triages a log's text.
pub fn from_text(input: &str, text: &[u8], kb: &KnowledgeBase) -> TriageReport {
    TriageReport {
        input: input.to_string(),
        report: coroner_triage::triage(text, kb),
        dump: None,
        hang: None,
    }
}

/// Triages the log a dump holds; the dump's own record of the release beats one
/// parsed from the log.
pub fn from_kernel(
    input: &str,
    kernel: &Kernel,
    kb: &KnowledgeBase,
) -> Result<TriageReport, LogError> {
    let dump: &Dump = kernel.dump();
    let read = dmesg::read_log(kernel, kernel.vmcoreinfo())?;
    let text = dmesg::text::render_with_callers(&read.log);
    let mut report = coroner_triage::triage(&text, kb);
    let identity = KernelIdentity::read(dump);
    if identity.release.is_some() {
        report.release.clone_from(&identity.release);
    }
    Ok(TriageReport {
        input: input.to_string(),
        report,
        dump: Some(DumpFacts {
            format: dump.info().format.name(),
            identity,
            log_warnings: read.warnings,
        }),
        hang: None,
    })
}

impl TriageReport {
    /// A crash or a hang was found (exit status 0 then, 1 if not, as grep does).
    pub fn found(&self) -> bool {
        self.report.crashed || self.report.title.is_some()
    }

    /// Adds what a dump without a crash shows; when something looks stuck, the
    /// report takes the class `hang`, a title, the function blamed and a signature,
    /// so a fleet groups repeated hangs as it groups crashes.
    pub fn add_hang(&mut self, hang: HangReport) {
        if !self.report.crashed {
            if let Some(title) = hang.summary() {
                let frames = hang.culprit_frames();
                let guilty = match &hang.culprit {
                    Some(c) => Some(c.function.clone()),
                    None => frames.first().map(|f| f.function.clone()),
                };
                let module = frames
                    .iter()
                    .find(|f| Some(&f.function) == guilty.as_ref())
                    .and_then(|f| f.module.clone());
                let trace: Vec<Frame> = frames
                    .iter()
                    .map(|f| Frame {
                        function: f.function.clone(),
                        module: f.module.clone(),
                        section: "task",
                        inlined: false,
                    })
                    .collect();
                self.report.signature = Some(coroner_triage::signature(
                    Class::Hang,
                    &title,
                    guilty.as_deref(),
                    module.as_deref(),
                    &trace,
                ));
                self.report.class = Some(Class::Hang);
                self.report.title = Some(title);
                self.report.guilty = guilty;
                self.report.module = module;
                self.report.frames = frames.iter().map(|f| f.function.clone()).collect();
                self.report.trace = trace;
            }
        }
        self.hang = Some(hang);
    }
}

fn join(frames: &[crate::hang::FrameName]) -> String {
    let names: Vec<String> = frames.iter().map(|f| f.to_string()).collect();
    names.join(" < ")
}

fn hang_lines(hang: &HangReport, bullet: &str) -> String {
    let mut out = String::new();
    for c in &hang.cpus {
        let what = if c.idle {
            "idle".to_string()
        } else {
            format!(
                "PID {} \"{}\" in {}",
                c.pid.map_or("?".into(), |p| p.to_string()),
                c.comm.as_deref().unwrap_or("?"),
                join(&c.frames)
            )
        };
        out.push_str(&format!(
            "{bullet}{:<10} {what}\n",
            format!("CPU {}", c.cpu)
        ));
    }
    for t in &hang.blocked {
        let since = t
            .blocked_ns
            .map_or(String::new(), |ns| format!(" for {:.1} s", ns as f64 / 1e9));
        out.push_str(&format!(
            "{bullet}{:<10} PID {} \"{}\"{since} in {}: {}\n",
            "blocked",
            t.pid,
            t.comm,
            t.waiting_in.as_deref().unwrap_or("?"),
            join(&t.frames)
        ));
    }
    out
}

fn dump_lines(dump: &DumpFacts, bullet: &str) -> String {
    let mut out = String::new();
    let mut row = |key: &str, value: &str| out.push_str(&format!("{bullet}{key:<10} {value}\n"));
    row("dump", dump.format);
    if let Some(release) = &dump.identity.release {
        row("release", release);
    }
    if let Some(build_id) = &dump.identity.build_id {
        row("build-id", build_id);
    }
    if let Some(time) = &dump.identity.crash_time {
        row("crashed", time);
    }
    for warning in &dump.log_warnings {
        row("log", warning);
    }
    out
}

impl Render for TriageReport {
    fn schema(&self) -> &'static str {
        "coroner.triage/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        if let Some(dump) = &self.dump {
            out.write_all(dump_lines(dump, "").as_bytes())?;
        }
        out.write_all(coroner_triage::text(&self.report).as_bytes())?;
        if let Some(hang) = &self.hang {
            out.write_all(hang_lines(hang, "").as_bytes())?;
        }
        Ok(())
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        write_document(out, self.schema(), self)
    }

    fn markdown(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(coroner_triage::markdown(&self.report).as_bytes())?;
        if let Some(dump) = &self.dump {
            out.write_all(dump_lines(dump, "- ").as_bytes())?;
        }
        if let Some(hang) = &self.hang {
            out.write_all(hang_lines(hang, "- ").as_bytes())?;
        }
        Ok(())
    }

    fn warnings(&self) -> &[Warning] {
        // The dump's log warnings are part of every form (`log_warnings`).
        self.hang.as_ref().map_or(&[], |h| &h.warnings)
    }
}

//! `doctor`: is this host ready to take a kernel crash dump, and what exactly to
//! change if not; with `--fix`, what was (or would be) changed.

use crate::render::Render;
use crate::schema::{write_document, Warning};
use coroner_host::cmdline::Bytes;
use coroner_host::fix::{Kind, Plan};
use coroner_host::{Report, Status};
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Serialize)]
pub struct FixOutcome {
    pub dry_run: bool,
    #[serde(flatten)]
    pub plan: Plan,
}

#[derive(Debug, Serialize)]
pub struct DoctorReport {
    #[serde(flatten)]
    pub report: Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<FixOutcome>,
}

impl Render for DoctorReport {
    fn schema(&self) -> &'static str {
        "coroner.doctor/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        report_text(out, &self.report)?;
        match &self.fix {
            Some(fix) => plan_text(out, &fix.plan, fix.dry_run),
            None => Ok(()),
        }
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        write_document(out, self.schema(), self)
    }

    fn warnings(&self) -> &[Warning] {
        &[]
    }
}

fn report_text(out: &mut dyn Write, r: &Report) -> io::Result<()> {
    let ram = r
        .ram_bytes
        .map_or("RAM unknown".to_string(), |b| format!("{} RAM", Bytes(b)));
    writeln!(
        out,
        "coroner doctor {}: {}, kernel {}, {ram}",
        r.root,
        r.distro.name,
        r.kernel.as_deref().unwrap_or("unknown")
    )?;
    writeln!(
        out,
        "platform: {}; role: {}",
        r.platform.description,
        r.role.name()
    )?;
    writeln!(out)?;
    let width = r.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for c in &r.checks {
        let status = match c.status {
            Status::Pass => "pass",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        };
        writeln!(out, "{status}  {:width$}  {}", c.id, c.message)?;
        if let Some(fix) = c.fix.as_ref().filter(|_| c.status != Status::Pass) {
            let auto = if c.auto_fix {
                "  [--fix does this]"
            } else {
                ""
            };
            writeln!(out, "      {:width$}  fix: {fix}{auto}", "")?;
        }
    }
    let count = |s| r.checks.iter().filter(|c| c.status == s).count();
    writeln!(out)?;
    writeln!(
        out,
        "verdict: {} ({} pass, {} warn, {} fail)",
        r.verdict.name(),
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail)
    )
}

fn plan_text(out: &mut dyn Write, plan: &Plan, dry_run: bool) -> io::Result<()> {
    writeln!(out)?;
    if plan.changes.is_empty() {
        writeln!(out, "--fix: nothing doctor can change by itself")?;
    } else if dry_run {
        writeln!(out, "--fix --dry-run: would change")?;
    } else {
        writeln!(out, "--fix: changed")?;
    }
    for c in &plan.changes {
        match c.kind {
            Kind::Live => writeln!(
                out,
                "  set {}: {} -> {}",
                c.path,
                c.removed.join(""),
                c.added.join("")
            )?,
            Kind::Create => writeln!(out, "  create {}", c.path)?,
            Kind::Edit => match &c.backup {
                Some(b) => writeln!(out, "  edit {} (backup {b})", c.path)?,
                None => writeln!(out, "  edit {}", c.path)?,
            },
        }
        if c.kind != Kind::Live {
            for l in &c.removed {
                writeln!(out, "    - {l}")?;
            }
            for l in &c.added {
                writeln!(out, "    + {l}")?;
            }
        }
    }
    if !plan.manual.is_empty() {
        writeln!(out, "by hand:")?;
        for m in &plan.manual {
            writeln!(out, "  {m}")?;
        }
    }
    Ok(())
}

//! `coroner doctor [--root DIR] [--json] [--fix [--dry-run]] [--role ROLE]`: is this
//! host ready to take a kernel crash dump, and what exactly to change if not.

use coroner_host::cmdline::Bytes;
use coroner_host::fix::{self, Kind, Plan};
use coroner_host::{audit, Context, Report, Role, Root, Status};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Audit this directory tree (a mounted image, a copy of a host's files) instead of `/`.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Print JSON (field names are documented in the README).
    #[arg(long)]
    json: bool,
    /// Make the fixes doctor can make itself (coroner's sysctl.d file, kdump.conf and
    /// kdump-tools lines, live sysctls), atomically, keeping a backup of each file.
    #[arg(long)]
    fix: bool,
    /// With --fix: print what would change, change nothing.
    #[arg(long, requires = "fix")]
    dry_run: bool,
    /// The machine's role, which decides the recommended panic settings (detected:
    /// a VM is a guest, bare metal with KVM/libvirt/Xen dom0 a hypervisor).
    #[arg(long, value_enum)]
    role: Option<RoleArg>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    Guest,
    Server,
    Hypervisor,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Guest => Role::Guest,
            RoleArg::Server => Role::Server,
            RoleArg::Hypervisor => Role::Hypervisor,
        }
    }
}

#[derive(Serialize)]
struct FixOutput<'a> {
    dry_run: bool,
    #[serde(flatten)]
    plan: &'a Plan,
}

#[derive(Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    report: &'a Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<FixOutput<'a>>,
}

/// Exit status: 0 ready, 1 warnings, 2 not ready (after the fixes, with --fix).
pub fn run(args: &Args) -> Result<ExitCode, String> {
    let root = Root::new(&args.root)?;
    let role = args.role.map(Role::from);
    let ctx = Context::read(root.clone(), role);
    let before = audit(&ctx);
    let (report, plan) = if args.fix {
        let mut plan = fix::plan(&ctx, &before)?;
        if args.dry_run {
            (before, Some(plan))
        } else {
            fix::apply(&ctx, &mut plan)?;
            // Judge the host as the fixes left it.
            (audit(&Context::read(root, role)), Some(plan))
        }
    } else {
        (before, None)
    };
    if args.json {
        let out = Output {
            report: &report,
            fix: plan.as_ref().map(|plan| FixOutput {
                dry_run: args.dry_run,
                plan,
            }),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
    } else {
        print_report(&report);
        if let Some(plan) = &plan {
            print_plan(plan, args.dry_run);
        }
    }
    Ok(ExitCode::from(report.verdict.exit_code()))
}

fn print_report(r: &Report) {
    let ram = r
        .ram_bytes
        .map_or("RAM unknown".to_string(), |b| format!("{} RAM", Bytes(b)));
    println!(
        "coroner doctor {}: {}, kernel {}, {ram}",
        r.root,
        r.distro.name,
        r.kernel.as_deref().unwrap_or("unknown")
    );
    println!(
        "platform: {}; role: {}",
        r.platform.description,
        r.role.name()
    );
    println!();
    let width = r.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for c in &r.checks {
        let status = match c.status {
            Status::Pass => "pass",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        };
        println!("{status}  {:width$}  {}", c.id, c.message);
        if let Some(fix) = c.fix.as_ref().filter(|_| c.status != Status::Pass) {
            let auto = if c.auto_fix {
                "  [--fix does this]"
            } else {
                ""
            };
            println!("      {:width$}  fix: {fix}{auto}", "");
        }
    }
    let count = |s| r.checks.iter().filter(|c| c.status == s).count();
    println!();
    println!(
        "verdict: {} ({} pass, {} warn, {} fail)",
        r.verdict.name(),
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail)
    );
}

fn print_plan(plan: &Plan, dry_run: bool) {
    println!();
    if plan.changes.is_empty() {
        println!("--fix: nothing doctor can change by itself");
    } else {
        println!(
            "{}",
            if dry_run {
                "--fix --dry-run: would change"
            } else {
                "--fix: changed"
            }
        );
    }
    for c in &plan.changes {
        match c.kind {
            Kind::Live => println!(
                "  set {}: {} -> {}",
                c.path,
                c.removed.join(""),
                c.added.join("")
            ),
            Kind::Create => println!("  create {}", c.path),
            Kind::Edit => match &c.backup {
                Some(b) => println!("  edit {} (backup {b})", c.path),
                None => println!("  edit {}", c.path),
            },
        }
        if c.kind != Kind::Live {
            for l in &c.removed {
                println!("    - {l}");
            }
            for l in &c.added {
                println!("    + {l}");
            }
        }
    }
    if !plan.manual.is_empty() {
        println!("by hand:");
        for m in &plan.manual {
            println!("  {m}");
        }
    }
}

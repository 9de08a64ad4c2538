//! `coroner doctor [--root DIR] [--json] [--fix [--dry-run]] [--role ROLE]`: is this
//! host ready to take a kernel crash dump, and what exactly to change if not.

use coroner_host::fix;
use coroner_host::{audit, Context, Role, Root};
use coroner_report::doctor::{DoctorReport, FixOutcome};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Audit this directory tree (a mounted image, a copy of a host's files) instead of `/`.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Print JSON (field names are documented in the README).
    #[arg(long)]
    pub json: bool,
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

/// Exit status: 0 ready, 1 warnings, 2 not ready (after the fixes, with --fix).
pub fn run(args: &Args) -> Result<(DoctorReport, u8), String> {
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
    let status = report.verdict.exit_code();
    let fix = plan.map(|plan| FixOutcome {
        dry_run: args.dry_run,
        plan,
    });
    Ok((DoctorReport { report, fix }, status))
}

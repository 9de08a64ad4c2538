//! `coroner nmi TARGET [--dry-run] [--yes]`: send a hung machine an NMI, by the
//! route its platform has (`coroner doctor` names it).

use coroner_host::nmi::{self, Target};

#[derive(clap::Args)]
pub struct Args {
    /// qmp:SOCKET (QEMU's QMP, spoken natively), libvirt:DOMAIN (virsh),
    /// ipmi:HOST (ipmitool; IPMI_USER, and IPMI_PASSWORD or
    /// CORONER_IPMI_PASSWORD_FILE), aws:INSTANCE_ID (the AWS CLI),
    /// esxi:VMX_PATH (vm-support, in the ESXi shell), or sysrq (this machine).
    target: String,
    /// Print exactly what would be run or sent, and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Confirm `sysrq`, which crashes the machine coroner runs on.
    #[arg(long)]
    yes: bool,
}

/// What was (or would be) done, as one line.
pub fn run(args: &Args) -> Result<String, String> {
    let target: Target = args
        .target
        .parse()
        .map_err(|e: nmi::NmiError| e.to_string())?;
    let route = nmi::route(&target, &|k| std::env::var(k).ok()).map_err(|e| e.to_string())?;
    if args.dry_run {
        return Ok(format!("would {route}"));
    }
    nmi::send(&route, args.yes)
        .map(|done| done.to_string())
        .map_err(|e| e.to_string())
}

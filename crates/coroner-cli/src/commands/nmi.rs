//! `coroner nmi TARGET [--dry-run] [--yes]`: send a hung machine an NMI, by the
//! route its platform has (`coroner doctor` names it).

use coroner_host::nmi::{self, Target};
use std::process::ExitCode;

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

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let target: Target = args
        .target
        .parse()
        .map_err(|e: nmi::NmiError| e.to_string())?;
    let route = nmi::route(&target, &|k| std::env::var(k).ok()).map_err(|e| e.to_string())?;
    if args.dry_run {
        println!("would {route}");
        return Ok(ExitCode::SUCCESS);
    }
    let done = nmi::send(&route, args.yes).map_err(|e| e.to_string())?;
    println!("{done}");
    Ok(ExitCode::SUCCESS)
}

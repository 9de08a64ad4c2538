//! The `coroner` binary: parses the command line and hands each subcommand to its module.

mod commands;
mod time;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "coroner", version, about = "Linux kernel crash dump toolkit")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Say what a dump is: format, kernel, memory, pages.
    Info(commands::info::Args),
    /// Print the kernel log (as `makedumpfile --dump-dmesg`), no debuginfo needed.
    Dmesg(commands::dmesg::Args),
    /// Look up symbols by address or name (kallsyms from the dump).
    Sym(commands::sym::Args),
    /// Show memory as hex words and ASCII, like crash's `rd`.
    Rd(commands::rd::Args),
    /// List every task, like crash's `ps` (from BTF; no vmlinux needed).
    Ps(commands::ps::Args),
    /// List loaded modules, like crash's `mod`.
    Mod(commands::modules::Args),
    /// System summary, like crash's `sys` (kernel data read with kallsyms and BTF).
    Sys(commands::sys::Args),
    /// Say what crashed, where, and whether it is a known issue (from a dump or a log).
    Triage(commands::triage::Args),
    /// Is this host ready to take a crash dump (crashkernel, kdump, panic settings, dump target)? --fix repairs what it can.
    Doctor(commands::doctor::Args),
    /// Send a hung machine an NMI: qmp:SOCKET, libvirt:DOMAIN, ipmi:HOST, aws:INSTANCE_ID, esxi:VMX_PATH, sysrq.
    Nmi(commands::nmi::Args),
    /// Backtraces, like crash's `bt` (ORC unwind data from the dump; no vmlinux needed).
    Bt(commands::bt::Args),
    /// A struct or union: its declaration, member offsets (-o), or its value at ADDR, like crash's `struct` (from BTF).
    #[command(alias = "union")]
    Struct(commands::structure::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => commands::info::run(&args),
        Command::Dmesg(args) => commands::dmesg::run(&args),
        Command::Sym(args) => commands::sym::run(&args),
        Command::Rd(args) => commands::rd::run(&args),
        Command::Ps(args) => commands::ps::run(&args),
        Command::Mod(args) => commands::modules::run(&args),
        Command::Sys(args) => commands::sys::run(&args),
        Command::Triage(args) => commands::triage::run(&args),
        Command::Doctor(args) => commands::doctor::run(&args),
        Command::Nmi(args) => commands::nmi::run(&args),
        Command::Bt(args) => commands::bt::run(&args),
        Command::Struct(args) => commands::structure::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("coroner: {err}");
            ExitCode::from(2)
        }
    }
}

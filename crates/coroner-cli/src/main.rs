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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => commands::info::run(&args),
        Command::Dmesg(args) => commands::dmesg::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("coroner: {err}");
            ExitCode::from(2)
        }
    }
}

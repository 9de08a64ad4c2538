//! The `coroner` binary: parses the command line, runs the command, prints its
//! report. Dump commands come from coroner-commands' registry (`coroner bt DUMP -a`
//! opens DUMP and runs `bt -a`); `doctor` and `nmi` are about the live host,
//! `convert` writes a dump anew.

mod commands;

use clap::{ArgMatches, Args as _, FromArgMatches as _};
use coroner_commands::{format, Registry};
use coroner_report::{Format, Render};
use std::io::{self, Write};

fn cli(registry: &Registry) -> clap::Command {
    let mut cli = clap::Command::new("coroner")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Linux kernel crash dump toolkit")
        .arg_required_else_help(true);
    #[cfg(feature = "shell")]
    {
        cli = cli
            .arg(
                clap::Arg::new("dump")
                    .value_name("DUMP")
                    .value_parser(clap::value_parser!(std::path::PathBuf))
                    .help("A dump to open in the interactive shell (as `coroner shell DUMP`)"),
            )
            .args_conflicts_with_subcommands(true);
    }
    #[cfg(not(feature = "shell"))]
    {
        cli = cli.subcommand_required(true);
    }
    for command in registry.commands() {
        cli = cli.subcommand(registry.invocation_parser(*command));
        if command.name() == "triage" {
            cli = cli
                .subcommand(commands::doctor::Args::augment_args(
                    clap::Command::new("doctor").about("Is this host ready to take a crash dump (crashkernel, kdump, panic settings, dump target)? --fix repairs what it can."),
                ))
                .subcommand(commands::capture::Args::augment_args(
                    capture_command("capture").about("Write a filtered, compressed dump of a vmcore (makedumpfile's options: -d, -c/-l/-p/-z, -F, -R, --dump-dmesg); also runs as `makedumpfile`."),
                ))
                .subcommand(commands::convert::Args::augment_args(
                    clap::Command::new("convert").about("Rewrite a dump (VMware .vmss/.vmsn/.vmem, ELF, kdump, flattened) as a standard vmcore that crash, makedumpfile and drgn open."),
                ))
                .subcommand(commands::nmi::Args::augment_args(
                    clap::Command::new("nmi").about("Send a hung machine an NMI: qmp:SOCKET, libvirt:DOMAIN, ipmi:HOST, aws:INSTANCE_ID, esxi:VMX_PATH, sysrq."),
                ))
                .subcommand(debuginfo_command());
        }
    }
    #[cfg(feature = "shell")]
    {
        cli = cli.subcommand(shell_command());
    }
    #[cfg(feature = "serve")]
    {
        use commands::serve::{PushArgs, ServeArgs, TokenArgs};
        cli = cli
            .subcommand(ServeArgs::augment_args(
                clap::Command::new("serve").about("Run the fleet server: hosts send kernel logs and dumps over HTTP; crashes are triaged and grouped into problems."),
            ))
            .subcommand(PushArgs::augment_args(
                clap::Command::new("push").about("Send a crash (a kernel log, or a dump) to a fleet server (coroner serve)."),
            ))
            .subcommand(
                clap::Command::new("token")
                    .about("Manage the fleet server's tokens.")
                    .subcommand_required(true)
                    .subcommand(TokenArgs::augment_args(
                        clap::Command::new("create").about("Create a token and print it (it is shown once)."),
                    )),
            );
    }
    cli
}

/// makedumpfile's own flags (`-v`, `-h`) and argument order are kept.
fn capture_command(name: &'static str) -> clap::Command {
    clap::Command::new(name)
        .disable_version_flag(true)
        .override_usage(format!("{name} [OPTIONS] VMCORE [DUMPFILE]"))
}

/// Installed or linked as `makedumpfile`: the whole command line is capture's.
fn as_makedumpfile() -> Option<u8> {
    let argv0 = std::env::args_os().next()?;
    let name = std::path::Path::new(&argv0)
        .file_name()?
        .to_str()?
        .to_string();
    if name != "makedumpfile" {
        return None;
    }
    let m = commands::capture::Args::augment_args(capture_command("makedumpfile")).get_matches();
    let args = commands::capture::Args::from_arg_matches(&m).expect("clap checked the arguments");
    Some(commands::capture::run(&args, "makedumpfile"))
}

fn main() {
    if let Some(status) = as_makedumpfile() {
        std::process::exit(status.into());
    }
    let registry = Registry::builtin();
    let matches = cli(&registry).get_matches();
    let status = match matches.subcommand() {
        #[cfg(feature = "shell")]
        Some(("shell", m)) => shell(m),
        #[cfg(feature = "shell")]
        None if matches.contains_id("dump") => shell(&matches),
        Some(("doctor", m)) => doctor(m),
        Some(("nmi", m)) => nmi(m),
        Some(("capture", m)) => {
            let args =
                commands::capture::Args::from_arg_matches(m).expect("clap checked the arguments");
            commands::capture::run(&args, "coroner capture")
        }
        Some(("convert", m)) => convert(m),
        Some(("debuginfo", m)) => debuginfo(m),
        #[cfg(feature = "serve")]
        Some(("serve", m)) => serve(m),
        #[cfg(feature = "serve")]
        Some(("token", m)) => token(m),
        #[cfg(feature = "serve")]
        Some(("push", m)) => push(m),
        Some((name, m)) => dump_command(&registry, name, m),
        None => 2,
    };
    // Exiting here skips freeing the program's symbol and type tables: the OS takes
    // back their 200k allocations faster.
    std::process::exit(status.into())
}

fn dump_command(registry: &Registry, name: &str, m: &ArgMatches) -> u8 {
    let command = registry
        .find(name)
        .expect("clap only accepts registered names");
    // Without --vmlinux, the debuginfo store is searched by the dump's build-id.
    let store = |session: coroner_commands::Session| {
        session.with_vmlinux_finder(commands::debuginfo::finder())
    };
    match registry.run_invocation_with(command, m, store) {
        Ok((output, session)) => {
            let printed = print(output.report.as_ref(), format(m));
            std::mem::forget(session);
            printed.unwrap_or(output.status)
        }
        Err(err) => fail(&err.to_string(), err.status()),
    }
}

#[cfg(feature = "shell")]
fn shell_command() -> clap::Command {
    clap::Command::new("shell")
        .about("An interactive session over a dump, in crash's habits (pipes, redirection, history, completion); `coroner DUMP` does the same.")
        .arg(
            clap::Arg::new("dump")
                .value_name("DUMP")
                .value_parser(clap::value_parser!(std::path::PathBuf))
                .required(true)
                .help("The dump file (any format `coroner info` reads)"),
        )
        .arg(
            clap::Arg::new("script")
                .short('i')
                .value_name("FILE")
                .value_parser(clap::value_parser!(std::path::PathBuf))
                .help("Run the commands in FILE, one a line, then exit (as crash's -i)"),
        )
        .args(coroner_commands::program_files())
}

#[cfg(feature = "shell")]
fn shell(m: &ArgMatches) -> u8 {
    let dump = m
        .get_one::<std::path::PathBuf>("dump")
        .expect("required")
        .clone();
    let options = coroner_shell::Options {
        script: m
            .try_get_one::<std::path::PathBuf>("script")
            .ok()
            .flatten()
            .cloned(),
        history: coroner_shell::default_history(),
    };
    let session =
        coroner_commands::session_for(dump, m).with_vmlinux_finder(commands::debuginfo::finder());
    coroner_shell::run(session, &options)
}

fn doctor(m: &ArgMatches) -> u8 {
    let args = commands::doctor::Args::from_arg_matches(m).expect("clap checked the arguments");
    match commands::doctor::run(&args) {
        Ok((report, status)) => {
            let form = if args.json {
                Format::Json
            } else {
                Format::Text
            };
            print(&report, form).unwrap_or(status)
        }
        Err(err) => fail(&err, 2),
    }
}

fn convert(m: &ArgMatches) -> u8 {
    let args = commands::convert::Args::from_arg_matches(m).expect("clap checked the arguments");
    match commands::convert::run(&args) {
        Ok(report) => {
            let form = if args.json {
                Format::Json
            } else {
                Format::Text
            };
            print(&report, form).unwrap_or(0)
        }
        Err(err) => fail(&err, 2),
    }
}

fn debuginfo_command() -> clap::Command {
    use commands::debuginfo::{AddArgs, ListArgs};
    clap::Command::new("debuginfo")
        .about("The store of kernel debuginfo (vmlinux by build-id) that dump commands search when no --vmlinux is given.")
        .subcommand_required(true)
        .subcommand(AddArgs::augment_args(clap::Command::new("add").about(
            "File the vmlinux of a vmlinux, a directory, a -dbg .deb/.ddeb or a kernel-debuginfo .rpm.",
        )))
        .subcommand(ListArgs::augment_args(
            clap::Command::new("list").about("List the builds in the store."),
        ))
}

fn debuginfo(m: &ArgMatches) -> u8 {
    use commands::debuginfo::{add, list, AddArgs, ListArgs};
    let result = match m.subcommand() {
        Some(("add", m)) => add(&AddArgs::from_arg_matches(m).expect("clap checked the arguments")),
        Some(("list", m)) => {
            list(&ListArgs::from_arg_matches(m).expect("clap checked the arguments"))
        }
        _ => Err("debuginfo: the subcommands are add and list".to_string()),
    };
    match result {
        Ok(lines) => {
            write_out(|out| lines.iter().try_for_each(|l| writeln!(out, "{l}"))).unwrap_or(0)
        }
        Err(err) => fail(&format!("debuginfo: {err}"), 2),
    }
}

fn nmi(m: &ArgMatches) -> u8 {
    let args = commands::nmi::Args::from_arg_matches(m).expect("clap checked the arguments");
    match commands::nmi::run(&args) {
        Ok(line) => write_out(|out| writeln!(out, "{line}")).unwrap_or(0),
        Err(err) => fail(&err, 2),
    }
}

#[cfg(feature = "serve")]
fn serve(m: &ArgMatches) -> u8 {
    let args = commands::serve::ServeArgs::from_arg_matches(m).expect("clap checked the arguments");
    match commands::serve::serve(&args) {
        Ok(()) => 0,
        Err(err) => fail(&err, 2),
    }
}

#[cfg(feature = "serve")]
fn token(m: &ArgMatches) -> u8 {
    let Some(("create", m)) = m.subcommand() else {
        return fail("token: the subcommand is create", 2);
    };
    let args = commands::serve::TokenArgs::from_arg_matches(m).expect("clap checked the arguments");
    match commands::serve::token_create(&args) {
        Ok(token) => write_out(|out| writeln!(out, "{token}")).unwrap_or(0),
        Err(err) => fail(&err, 2),
    }
}

#[cfg(feature = "serve")]
fn push(m: &ArgMatches) -> u8 {
    let args = commands::serve::PushArgs::from_arg_matches(m).expect("clap checked the arguments");
    match commands::serve::push(&args) {
        Ok(reply) => write_out(|out| writeln!(out, "{reply}")).unwrap_or(0),
        Err(err) => fail(&err, 2),
    }
}

/// Prints a report and the warnings its text leaves out; `Some(status)` when the
/// output ended early (a closed pipe is a normal end: 0, quietly).
fn print(report: &dyn Render, form: Format) -> Option<u8> {
    let early = write_out(|out| report.render(form, out));
    let mut stderr = io::stderr().lock();
    for w in report.warnings() {
        // Nothing better can be done if stderr is gone too.
        let _ = writeln!(stderr, "coroner: warning: {}", w.text);
    }
    early
}

/// Writes to standard output through a buffer; a closed pipe ends the output
/// quietly with status 0, as ripgrep does, any other error with status 2.
fn write_out(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Option<u8> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => None,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Some(0),
        Err(e) => Some(fail(&format!("writing the output: {e}"), 2)),
    }
}

fn fail(message: &str, status: u8) -> u8 {
    let _ = writeln!(io::stderr(), "coroner: {message}");
    status
}

//! Every command, found by name, and the one way a line of arguments runs.

use crate::command::{Command, Output, QueryCommand};
use crate::commands::*;
use crate::dis::Dis;
use crate::error::CommandError;
use crate::files::Files;
use crate::kmem::Kmem;
use crate::list::List;
use crate::mach::Mach;
use crate::net::Net;
use crate::print::{Pd, Px, P};
use crate::runq::Runq;
use crate::search::Search;
use crate::session::Session;
use crate::source::Source;
use crate::task::Task;
use crate::timer::Timer;
use crate::vm::Vm;
use coroner_report::Format;
use std::path::PathBuf;

/// The commands a session can run.
pub struct Registry {
    commands: Vec<&'static dyn Command>,
}

static INFO: QueryCommand<Info> = QueryCommand::new();
static DMESG: QueryCommand<Dmesg> = QueryCommand::new();
static SYM: QueryCommand<Sym> = QueryCommand::new();
static RD: QueryCommand<Rd> = QueryCommand::new();
static PS: QueryCommand<Ps> = QueryCommand::new();
static MOD: QueryCommand<Mod> = QueryCommand::new();
static SYS: QueryCommand<Sys> = QueryCommand::new();
static TRIAGE: QueryCommand<Triage> = QueryCommand::new();
static BT: QueryCommand<Bt> = QueryCommand::new();
static STRUCT: QueryCommand<Struct> = QueryCommand::new();
static SET: QueryCommand<Set> = QueryCommand::new();
static FOREACH: QueryCommand<Foreach> = QueryCommand::new();
static P_: QueryCommand<P> = QueryCommand::new();
static PX: QueryCommand<Px> = QueryCommand::new();
static PD: QueryCommand<Pd> = QueryCommand::new();
static KMEM: QueryCommand<Kmem> = QueryCommand::new();
static LIST: QueryCommand<List> = QueryCommand::new();
static TASK: QueryCommand<Task> = QueryCommand::new();
static RUNQ: QueryCommand<Runq> = QueryCommand::new();
static MACH: QueryCommand<Mach> = QueryCommand::new();
static NET: QueryCommand<Net> = QueryCommand::new();
static TIMER: QueryCommand<Timer> = QueryCommand::new();
static SEARCH: QueryCommand<Search> = QueryCommand::new();
static FILES: QueryCommand<Files> = QueryCommand::new();
static VM: QueryCommand<Vm> = QueryCommand::new();
static DIS: QueryCommand<Dis> = QueryCommand::new();
static SOURCE: QueryCommand<Source> = QueryCommand::new();

impl Registry {
    /// coroner's commands, in the order help lists them.
    pub fn builtin() -> Registry {
        Registry {
            commands: vec![
                &INFO, &DMESG, &SYM, &RD, &PS, &MOD, &SYS, &TRIAGE, &BT, &STRUCT, &SET, &FOREACH,
                &P_, &PX, &PD, &KMEM, &LIST, &TASK, &RUNQ, &MACH, &NET, &TIMER, &SEARCH, &DIS,
                &SOURCE, &FILES, &VM,
            ],
        }
    }

    pub fn commands(&self) -> &[&'static dyn Command] {
        &self.commands
    }

    /// A command by its name or an alias.
    pub fn find(&self, name: &str) -> Option<&'static dyn Command> {
        self.commands
            .iter()
            .copied()
            .find(|c| c.name() == name || c.aliases().contains(&name))
    }

    /// A command's parser for a line run in a session: its own arguments and the
    /// output forms. Front ends that take the input on the command line add it
    /// before the command's arguments.
    pub fn parser(&self, command: &dyn Command, input: Option<clap::Arg>) -> clap::Command {
        let mut cmd = clap::Command::new(command.name())
            .about(command.about())
            .visible_aliases(command.aliases().iter().copied());
        if let Some(input) = input {
            cmd = cmd.arg(input);
        }
        output_forms(command.arguments(cmd))
    }

    /// A command's parser for a one-shot run, `NAME INPUT ARGS...` (the CLI's form):
    /// the input first, `--symbols` for the commands that open a program.
    pub fn invocation_parser(&self, command: &dyn Command) -> clap::Command {
        let triage = command.name() == "triage";
        let input = clap::Arg::new("input")
            .value_name(if triage { "INPUT" } else { "DUMP" })
            .value_parser(clap::value_parser!(PathBuf))
            .required(true)
            .help(if triage {
                "A kernel dump, a kernel log (vmcore-dmesg.txt, console capture, syslog, journal export, dmesg output), or `-` for standard input"
            } else {
                "The dump file (any format `coroner info` reads)"
            });
        let mut cmd = self.parser(command, Some(input));
        if command.needs_program() {
            cmd = cmd.args(program_files());
        }
        cmd
    }

    /// Runs a one-shot invocation parsed by [`Registry::invocation_parser`]: opens
    /// its input and runs the command on it.
    pub fn run_invocation(
        &self,
        command: &dyn Command,
        matches: &clap::ArgMatches,
    ) -> Result<(Output, Session), CommandError> {
        self.run_invocation_with(command, matches, |session| session)
    }

    /// [`Registry::run_invocation`] with the session prepared by `prepare` (a
    /// front end's vmlinux finder).
    pub fn run_invocation_with(
        &self,
        command: &dyn Command,
        matches: &clap::ArgMatches,
        prepare: impl FnOnce(Session) -> Session,
    ) -> Result<(Output, Session), CommandError> {
        let input = matches
            .get_one::<PathBuf>("input")
            .ok_or_else(|| CommandError::Usage("no input given".into()))?;
        let session = prepare(session_for(input.clone(), matches));
        let output = command.run(matches, &session)?;
        Ok((output, session))
    }

    /// Runs one line (`bt -a --json`) in `session`: what a shell or an API call does.
    pub fn run_line(
        &self,
        session: &Session,
        words: &[String],
    ) -> Result<(Output, Format), CommandError> {
        let name = words
            .first()
            .ok_or_else(|| CommandError::Usage("an empty line runs nothing".into()))?;
        let command = self
            .find(name)
            .ok_or_else(|| CommandError::Input(format!("{name}: no such command")))?;
        let matches = self
            .parser(command, None)
            .no_binary_name(false)
            .try_get_matches_from(words)
            .map_err(|e| CommandError::Usage(e.render().to_string()))?;
        Ok((command.run(&matches, session)?, format(&matches)))
    }
}

/// `--symbols` and `--vmlinux`: what the commands that open a program take for
/// what the dump lacks.
pub fn program_files() -> [clap::Arg; 2] {
    [
        clap::Arg::new("symbols")
            .long("symbols")
            .value_name("FILE")
            .value_parser(clap::value_parser!(PathBuf))
            .help("A System.map (or `nm` output) to use instead of the kallsyms in the dump"),
        clap::Arg::new("vmlinux")
            .long("vmlinux")
            .value_name("FILE")
            .value_parser(clap::value_parser!(PathBuf))
            .help("The kernel's vmlinux with DWARF: its types for a dump without BTF (refused if its build-id is not the dump's)"),
    ]
}

/// A session on `input` with the `--symbols` and `--vmlinux` a parsed line gave.
pub fn session_for(input: PathBuf, matches: &clap::ArgMatches) -> Session {
    // Only the commands that open a program take them.
    let file = |id: &str| matches.try_get_one::<PathBuf>(id).ok().flatten().cloned();
    Session::new(input, file("symbols")).with_vmlinux(file("vmlinux"))
}

/// `--json` and `--markdown`, which every command takes.
fn output_forms(cmd: clap::Command) -> clap::Command {
    cmd.arg(
        clap::Arg::new("json")
            .long("json")
            .action(clap::ArgAction::SetTrue)
            .conflicts_with("markdown")
            .help("Print JSON (the schema is in the README)"),
    )
    .arg(
        clap::Arg::new("markdown")
            .long("markdown")
            .action(clap::ArgAction::SetTrue)
            .help("Print Markdown, for tickets"),
    )
}

/// The output form a parsed line asks for.
pub fn format(matches: &clap::ArgMatches) -> Format {
    if matches.get_flag("json") {
        Format::Json
    } else if matches.get_flag("markdown") {
        Format::Markdown
    } else {
        Format::Text
    }
}

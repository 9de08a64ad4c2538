//! Every command, found by name, and the one way a line of arguments runs.

use crate::command::{Command, CommandError, Output, QueryCommand};
use crate::commands::*;
use crate::session::Session;
use coroner_report::Format;

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

impl Registry {
    /// coroner's commands, in the order help lists them.
    pub fn builtin() -> Registry {
        Registry {
            commands: vec![
                &INFO, &DMESG, &SYM, &RD, &PS, &MOD, &SYS, &TRIAGE, &BT, &STRUCT,
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
            .ok_or_else(|| CommandError::Usage(format!("{name}: no such command")))?;
        let matches = self
            .parser(command, None)
            .no_binary_name(false)
            .try_get_matches_from(words)
            .map_err(|e| CommandError::Usage(e.render().to_string()))?;
        Ok((command.run(&matches, session)?, format(&matches)))
    }
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

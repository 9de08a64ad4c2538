//! `source *ADDR`: gdb's `list *ADDR` (coroner-report's `listing`). Named apart
//! from crash's `list`, which walks linked lists.

use crate::command::{Output, Query};
use crate::error::CommandError;
use crate::session::Session;
use coroner_report::listing::{self, ListError};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Source {
    /// `*ADDR` as gdb takes it, or an address, `function` or `function+offset`.
    target: String,
    /// A kernel source tree to show the lines from (the build's, e.g.
    /// /usr/src/linux-source-6.1).
    #[arg(long, value_name = "DIR")]
    source: Option<PathBuf>,
}

impl Query for Source {
    const NAME: &'static str = "source";
    const ABOUT: &'static str =
        "Where an address is in the source and the lines around it, like gdb's `list *ADDR` (needs --vmlinux).";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let program = session.program()?;
        match listing::list(program, &self.target, self.source.as_deref()) {
            Ok(report) => Ok(Output::found(report)),
            Err(ListError::Address(e)) => Err(CommandError::NotFound {
                command: "source",
                message: e.to_string(),
            }),
            Err(ListError::NoLine(at)) => Err(CommandError::NotFound {
                command: "source",
                message: format!("{at:#x}: no line number information"),
            }),
            Err(e) => Err(CommandError::Input(format!("source: {e}"))),
        }
    }
}

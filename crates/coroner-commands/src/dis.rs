//! `dis`: disassembly as crash prints it (coroner-report's `disassembly`).

use crate::command::{Output, Query};
use crate::error::CommandError;
use crate::session::Session;
use coroner_report::disassembly::{self, DisError, DisQuery};

#[derive(clap::Args)]
pub struct Dis {
    /// A function (shown whole), `function+offset`, or a hex address (one
    /// instruction unless COUNT says more).
    target: String,
    /// How many instructions to show.
    count: Option<u64>,
    /// The source file and line above each group of instructions (needs --vmlinux).
    #[arg(short = 'l', long = "lines")]
    lines: bool,
}

impl Query for Dis {
    const NAME: &'static str = "dis";
    const ABOUT: &'static str = "Disassemble code from the dump, like crash's `dis` (AT&T syntax; -l: source lines from --vmlinux).";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let query = DisQuery {
            target: self.target,
            count: self.count,
            lines: self.lines,
        };
        match disassembly::dis(session.program()?, &query) {
            Ok(report) => Ok(Output::found(report)),
            Err(DisError::Address(e)) => Err(CommandError::NotFound {
                command: "dis",
                message: e.to_string(),
            }),
            Err(e) => Err(CommandError::Input(format!("dis: {e}"))),
        }
    }
}

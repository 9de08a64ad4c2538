//! `list`: crash's linked-list walk.

use crate::command::{Output, Query};
use crate::error::CommandError;
use crate::session::Session;
use coroner_report::list::{self, ListQuery};
use coroner_report::structure::StructError;

/// `-h` is crash's "start is an entry", so clap's `-h` help is off (`--help` stays).
#[derive(clap::Args)]
#[command(disable_help_flag = true)]
pub struct List {
    /// `[struct.member | OFFSET] START`: the `next` pointer's place in an
    /// entry, then where the walk starts (hex, a symbol, `symbol+offset`).
    #[arg(required = true, num_args = 1..=2)]
    words: Vec<String>,
    /// The offset of the `next` pointer: a number or `struct.member`.
    #[arg(short = 'o', value_name = "OFFSET")]
    offset: Option<String>,
    /// START is a list head, not an entry: it is not printed.
    #[arg(short = 'H', conflicts_with = "entry")]
    head: bool,
    /// START is an entry (the default).
    #[arg(short = 'h')]
    entry: bool,
    /// Print each entry's struct, or some of its members: `task_struct.pid,comm`.
    #[arg(short = 's', value_name = "STRUCT[.MEMBER,...]")]
    show: Option<String>,
    /// Stop at this entry.
    #[arg(short = 'e', value_name = "END")]
    end: Option<String>,
    /// Numbers in hex.
    #[arg(short = 'x', conflicts_with = "decimal")]
    hex: bool,
    /// Numbers in decimal (the default).
    #[arg(short = 'd')]
    decimal: bool,
}

impl Query for List {
    const NAME: &'static str = "list";
    const ABOUT: &'static str =
        "Walk a linked list from a head (-H) or an entry, like crash's `list`; -s prints members.";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let mut words = self.words;
        let start = words.pop().expect("clap requires START");
        let offset = self.offset.or_else(|| words.pop());
        let query = ListQuery {
            start,
            head: self.head,
            offset,
            show: self.show,
            hex: self.hex && !self.decimal,
            end: self.end,
        };
        match list::list(session.program()?, &query) {
            Ok(report) => Ok(Output::found(report)),
            Err(StructError::Lookup(message)) => Err(CommandError::NotFound {
                command: "list",
                message,
            }),
            Err(StructError::Failed(message)) => Err(CommandError::Input(message)),
        }
    }
}

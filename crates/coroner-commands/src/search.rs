//! `search`: 64-bit values in kernel memory.

use crate::command::{Output, Query};
use crate::error::CommandError;
use crate::session::Session;
use coroner_report::search::{self, SearchQuery};
use coroner_report::symbols::resolve;

#[derive(clap::Args)]
pub struct Search {
    /// Values to find (hex, as crash takes them; `0x` optional).
    #[arg(required = true)]
    values: Vec<String>,
    /// Where to start (hex, a symbol, `symbol+offset`).
    #[arg(short = 's', value_name = "START")]
    start: Option<String>,
    /// Where to stop (exclusive).
    #[arg(short = 'e', value_name = "END", conflicts_with = "length")]
    end: Option<String>,
    /// How many bytes from START.
    #[arg(short = 'l', value_name = "LENGTH", requires = "start")]
    length: Option<String>,
    /// Bits to ignore in the comparison (crash's -m).
    #[arg(short = 'm', value_name = "MASK")]
    mask: Option<String>,
}

fn hex(text: &str) -> Result<u64, CommandError> {
    u64::from_str_radix(text.trim_start_matches("0x"), 16)
        .map_err(|_| CommandError::Input(format!("search: {text}: not a hex number")))
}

impl Query for Search {
    const NAME: &'static str = "search";
    const ABOUT: &'static str =
        "Find 64-bit values in kernel memory (-s START, -e END or -l LENGTH, -m MASK), like crash's `search`.";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let program = session.program()?;
        let address = |text: &str| {
            resolve(program, text).map_err(|e| CommandError::Input(format!("search: {e}")))
        };
        let start = self.start.as_deref().map(address).transpose()?;
        let end = match (&self.end, &self.length, start) {
            (Some(end), _, _) => Some(address(end)?),
            (None, Some(length), Some(start)) => {
                let length = match length.strip_prefix("0x") {
                    Some(h) => hex(h)?,
                    None => length.parse().map_err(|_| {
                        CommandError::Input(format!("search: {length}: not a length"))
                    })?,
                };
                Some(start.saturating_add(length))
            }
            _ => None,
        };
        let query = SearchQuery {
            start,
            end,
            // crash's -m: the bits of the mask are ignored.
            mask: self.mask.as_deref().map(hex).transpose()?.map(|m| !m),
            values: self
                .values
                .iter()
                .map(|v| hex(v))
                .collect::<Result<_, _>>()?,
        };
        let report = search::search(program, &query).map_err(CommandError::Input)?;
        Ok(Output::found(report))
    }
}

//! `timer`: pending kernel timers per CPU.

use crate::command::{Output, Query};
use crate::error::CommandError;
use crate::session::Session;
use coroner_report::timer;

#[derive(clap::Args)]
pub struct Timer {}

impl Query for Timer {
    const NAME: &'static str = "timer";
    const ABOUT: &'static str =
        "Pending timers of each CPU's timer wheel, sorted by expiry, like crash's `timer`.";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        Ok(Output::found(timer::timer(session.program()?)?))
    }
}

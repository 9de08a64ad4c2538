//! `runq`: each CPU's runqueue.

use crate::command::{Output, Query};
use crate::error::CommandError;
use crate::session::Session;
use coroner_report::runq;

#[derive(clap::Args)]
pub struct Runq {}

impl Query for Runq {
    const NAME: &'static str = "runq";
    const ABOUT: &'static str =
        "Each CPU's runqueue: current, RT and CFS tasks, like crash's `runq`.";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        Ok(Output::found(runq::runq(session.program()?)?))
    }
}

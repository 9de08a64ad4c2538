//! `mach`: the machine summary.

use crate::command::{Output, Query};
use crate::error::CommandError;
use crate::session::Session;
use coroner_report::mach;

#[derive(clap::Args)]
pub struct Mach {}

impl Query for Mach {
    const NAME: &'static str = "mach";
    const ABOUT: &'static str =
        "Machine summary: CPUs, memory, clock, kernel layout, IRQ and exception stacks, like crash's `mach`.";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        Ok(Output::found(mach::mach(session.program()?)?))
    }
}

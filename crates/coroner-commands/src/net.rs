//! `net`: network devices and their IPv4 addresses.

use crate::command::{Output, Query};
use crate::error::CommandError;
use crate::session::Session;
use coroner_report::net;

#[derive(clap::Args)]
pub struct Net {}

impl Query for Net {
    const NAME: &'static str = "net";
    const ABOUT: &'static str =
        "Network devices of the context task's namespace with their IPv4 addresses, like crash's `net`.";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let task = session
            .context_or_panic()
            .ok_or_else(|| CommandError::Input("net: no context task: set one".into()))?;
        Ok(Output::found(net::net(session.program()?, task)?))
    }
}

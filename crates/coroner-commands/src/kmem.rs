//! `kmem`: crash's memory views (`-i` summary, `-s` slab caches, `ADDR`).

use crate::command::{Output, Query};
use crate::error::CommandError;
use crate::session::Session;
use coroner_report::kmem;

#[derive(clap::Args)]
pub struct Kmem {
    /// The memory summary (crash's `kmem -i`).
    #[arg(short = 'i', conflicts_with = "slabs")]
    info: bool,
    /// Every slab cache: object size, allocated and total objects, slabs.
    #[arg(short = 's')]
    slabs: bool,
}

impl Query for Kmem {
    const NAME: &'static str = "kmem";
    const ABOUT: &'static str = "Kernel memory, like crash's `kmem`: -i summary, -s slab caches.";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let program = session.program()?;
        if self.info {
            return Ok(Output::found(kmem::kmem_info(program)?));
        }
        if self.slabs {
            return Ok(Output::found(kmem::kmem_slabs(program)?));
        }
        Err(CommandError::Usage("kmem: give -i or -s".into()))
    }
}

//! `kmem`: crash's memory views (`-i` summary, `-s` slab caches, `-p` pages).

use crate::command::{Output, Query};
use crate::error::CommandError;
use crate::session::Session;
use coroner_report::kmem;

#[derive(clap::Args)]
pub struct Kmem {
    /// The memory summary (crash's `kmem -i`).
    #[arg(short = 'i', conflicts_with_all = ["slabs", "pages"])]
    info: bool,
    /// Every slab cache: object size, allocated and total objects, slabs.
    #[arg(short = 's', conflicts_with = "pages")]
    slabs: bool,
    /// Each page's `struct page` line (all pages, or those of PHYSADDR...).
    #[arg(short = 'p')]
    pages: bool,
    /// With -p: physical addresses (hex).
    #[arg(requires = "pages", value_name = "PHYSADDR")]
    addresses: Vec<String>,
}

impl Query for Kmem {
    const NAME: &'static str = "kmem";
    const ABOUT: &'static str =
        "Kernel memory, like crash's `kmem`: -i summary, -s slab caches, -p pages.";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let program = session.program()?;
        if self.info {
            return Ok(Output::found(kmem::kmem_info(program)?));
        }
        if self.slabs {
            return Ok(Output::found(kmem::kmem_slabs(program)?));
        }
        if self.pages {
            let physical = self
                .addresses
                .iter()
                .map(|a| {
                    u64::from_str_radix(a.trim_start_matches("0x"), 16).map_err(|_| {
                        CommandError::Input(format!("kmem -p: {a}: not a hex physical address"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Output::found(kmem::kmem_pages(program, &physical)?));
        }
        Err(CommandError::Usage("kmem: give -i, -s or -p".into()))
    }
}

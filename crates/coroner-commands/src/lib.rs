//! crash's vocabulary over one open dump. A [`Session`] holds the input (a dump,
//! opened as a program on first need, or a kernel log) and the context a shell
//! keeps between lines; the [`Registry`] holds every command, each parsing its own
//! arguments (never the input's path) and returning a report. `coroner bt DUMP -a`
//! is "open DUMP, run `bt -a`"; the shell and the server run lines the same way.

mod command;
mod commands;
mod dis;
mod error;
mod files;
mod kmem;
mod list;
mod mach;
pub mod names;
mod net;
mod print;
mod registry;
mod runq;
mod search;
mod session;
mod source;
mod task;
mod timer;
mod vm;

pub use command::{Command, Output};
pub use error::CommandError;
pub use registry::{format, program_files, session_for, Registry};
pub use session::{Input, Session, VmlinuxFinder};

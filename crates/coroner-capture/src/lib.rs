//! Writing dumps. `capture` filters a running capture kernel's `/proc/vmcore` the way
//! makedumpfile does and writes it; `convert` rewrites any dump coroner reads (VMware
//! checkpoints included) as a standard vmcore. Both share the page filter and the
//! writers kept here.

pub mod bitmap;
pub mod compress;
pub mod convert;
pub mod elf;
pub mod filter;
#[doc(hidden)]
pub mod fuzzing;
pub mod kdump;
pub mod messages;
pub mod reassemble;
pub mod run;
pub mod sink;

pub use bitmap::Bitmap;
pub use filter::{filter, DumpLevel, Excluded, Filtered};

/// Why a capture cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The dump's VMCOREINFO lacks or garbles what the filter needs.
    #[error("{0}")]
    Vmcoreinfo(String),
    /// Options that do not fit together.
    #[error("{0}")]
    Usage(String),
    /// The input cannot be opened or read.
    #[error("{0}")]
    Input(String),
    /// The output cannot be created or written.
    #[error("{0}")]
    Output(String),
}

//! The commands that are not about a dump: each exposes `Args` (clap) and
//! `run(&Args) -> Result<(report, exit status), String>`. Dump commands come from
//! coroner-commands' registry.

pub mod capture;
pub mod convert;
pub mod debuginfo;
pub mod doctor;
pub mod nmi;
#[cfg(feature = "serve")]
pub mod serve;

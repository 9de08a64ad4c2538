//! Reports: what each command finds in a dump, as a complete value, and the
//! renderers that print it. A query function reads the dump (through a
//! [`coroner_program::Program`], or the [`coroner_dump::Dump`] alone where that is
//! enough) and returns a report with its warnings inside; rendering reads nothing
//! more, so a report can be stored and rendered again (the server), printed into a
//! pipe that closes early (the shell), or shown as text, JSON or Markdown.
//!
//! The JSON written here is the project's one schema: every document carries
//! `"schema": "coroner.<report>/<version>"`, addresses and other 64-bit values are
//! hex strings (`"0xffffffff81000000"`: a JavaScript reader would round a number),
//! and the kernel's identity is one [`KernelIdentity`] wherever it appears.

pub mod backtrace;
pub mod convert;
pub mod disassembly;
pub mod doctor;
pub mod files;
pub mod hang;
pub mod identity;
pub mod info;
pub mod kmem;
pub mod list;
pub mod listing;
pub mod log;
pub mod log_time;
pub mod mach;
pub mod memory;
pub mod modules;
pub mod net;
pub mod percpu_struct;
pub mod print;
mod render;
pub mod runq;
mod schema;
pub mod search;
mod source;
pub mod structure;
pub mod symbols;
pub mod system;
pub mod task;
pub mod tasks;
pub mod time;
pub mod timer;
pub mod triage;
pub mod vm;

pub use identity::KernelIdentity;
pub use render::{Format, Render};
pub use schema::{Addr, Stage, Warning};

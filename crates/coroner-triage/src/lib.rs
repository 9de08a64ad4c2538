//! Crash triage: kernel log text in, crash report out. Finds the first (primary)
//! crash report in any kernel log — `vmcore-dmesg.txt`, a serial console capture,
//! syslog or journal exports, `dmesg` with or without timestamps — and says what
//! it is (class), titles it in the syzbot / LKML convention, names the guilty
//! frame, hashes a signature for grouping, and looks it up in a knowledge base.
//!
//! Pure text processing: this crate knows nothing of dumps.
//!
//! ```
//! let log = b"[ 3.2] sysrq: Trigger a crash\n[ 3.2] Kernel panic - not syncing: sysrq triggered crash\n";
//! let report = coroner_triage::analyse(log);
//! assert_eq!(report.title.as_deref(), Some("kernel panic: sysrq triggered crash"));
//! assert_eq!(report.class, Some(coroner_triage::Class::Sysrq));
//! ```

mod catalog;
mod class;
mod describe;
mod extract;
mod facts;
pub mod kb;
mod log;
mod pattern;
mod render;
mod report;
mod sanitize;
mod scan;
mod signature;
mod stack;
mod symbol;
mod taint;
mod trace;

pub use class::Class;
pub use kb::{KbError, KnowledgeBase};
pub use render::{markdown, text};
pub use report::{analyse, triage, KbMatch, Other, Report};
pub use signature::compute as signature;
pub use signature::VERSION as SIGNATURE_VERSION;
pub use taint::Taint;
pub use trace::{Frame, Rip};

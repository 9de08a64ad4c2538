//! The kernel log, read from a dump without debuginfo. VMCOREINFO says which of the
//! three ring-buffer generations the kernel used and where its fields are:
//! - [`lockless`]: the lockless printk ringbuffer (`prb`, Linux 5.10 and later);
//! - [`structured`]: `struct printk_log` records in `log_buf` (3.5 to 5.9);
//! - [`plain`]: the plain character buffer before 3.5.
//!
//! [`text`] renders records exactly as `makedumpfile --dump-dmesg` does.

pub mod lockless;
mod log_buf;
pub mod panic;
pub mod plain;
mod recover;
pub mod structured;
pub mod text;

use crate::memory::Memory;
use crate::VmcoreInfo;

/// Reads the kernel log in whichever format VMCOREINFO describes.
pub fn read_log(mem: &dyn Memory, info: &VmcoreInfo) -> Result<LogRead, LogError> {
    if info.symbol("prb").is_some() {
        return lockless::read(mem, info);
    }
    if info.symbol("log_first_idx").is_some() {
        return structured::read(mem, info);
    }
    if info.symbol("log_end").is_some() {
        return plain::read(mem, info);
    }
    Err(LogError::NoLog)
}

/// One message of a structured log (the lockless and `printk_log` generations).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogRecord {
    pub seq: u64,
    pub ts_nsec: u64,
    /// Syslog level, 0 (emerg) to 7 (debug).
    pub level: u8,
    pub facility: u8,
    /// The caller id as the kernel prints it (`T123` for a task, `C2` for a CPU),
    /// when the kernel recorded one.
    pub caller: Option<String>,
    /// The message bytes as stored: not necessarily UTF-8, not escaped.
    pub text: Vec<u8>,
    /// Device info (`SUBSYSTEM=`, `DEVICE=`) or, before 5.10, the dictionary.
    pub subsystem: Option<String>,
    pub device: Option<String>,
}

/// A whole kernel log as read from a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Log {
    /// Records, oldest first.
    Records(Vec<LogRecord>),
    /// The pre-3.5 character buffer, oldest byte first.
    Plain(Vec<u8>),
}

/// The log, plus what could not be read (partial dumps, corrupt indices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRead {
    pub log: Log,
    pub warnings: Vec<String>,
}

/// Why no log could be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("VMCOREINFO lacks {0}, which this kernel log format needs")]
    MissingInfo(String),
    #[error("VMCOREINFO names no kernel log (no prb, log_buf or log_end)")]
    NoLog,
    #[error("{what}: {source}")]
    Read {
        what: String,
        #[source]
        source: crate::memory::MemError,
    },
    #[error("corrupt kernel log: {0}")]
    Corrupt(String),
}

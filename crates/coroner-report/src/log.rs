//! `dmesg`: the kernel log read out of the dump, as `makedumpfile --dump-dmesg`
//! writes it, or one JSON record per message.

use crate::render::Render;
use crate::schema::{write_document, Stage, Warning};
use coroner_kernel::dmesg::{self, text, Log, LogError, LogRecord};
use coroner_kernel::Kernel;
use serde::Serialize;
use std::io::{self, Write};

/// The log, and what of it could not be read.
#[derive(Debug, Clone)]
pub struct LogReport {
    pub log: Log,
    /// Prefix each line with the caller id (`[     T42] `), as makedumpfile 1.7.5
    /// and later do.
    pub callers: bool,
    pub warnings: Vec<Warning>,
}

/// Reads the kernel's log (any of the three formats kernels have used).
pub fn log(kernel: &Kernel, callers: bool) -> Result<LogReport, LogError> {
    let read = dmesg::read_log(kernel, kernel.vmcoreinfo())?;
    Ok(LogReport {
        log: read.log,
        callers,
        warnings: Warning::all(Stage::Log, &read.warnings),
    })
}

#[derive(Serialize)]
struct JsonRecord<'a> {
    seq: Option<u64>,
    ts_nsec: Option<u64>,
    level: Option<u8>,
    facility: Option<u8>,
    caller: Option<&'a str>,
    text: String,
    subsystem: Option<&'a str>,
    device: Option<&'a str>,
}

impl<'a> From<&'a LogRecord> for JsonRecord<'a> {
    fn from(r: &'a LogRecord) -> Self {
        JsonRecord {
            seq: Some(r.seq),
            ts_nsec: Some(r.ts_nsec),
            level: Some(r.level),
            facility: Some(r.facility),
            caller: r.caller.as_deref(),
            text: String::from_utf8_lossy(&r.text).into_owned(),
            subsystem: r.subsystem.as_deref(),
            device: r.device.as_deref(),
        }
    }
}

impl JsonRecord<'_> {
    /// A line of the pre-3.5 buffer, which has no record fields.
    fn plain(line: &[u8]) -> Self {
        JsonRecord {
            seq: None,
            ts_nsec: None,
            level: None,
            facility: None,
            caller: None,
            text: String::from_utf8_lossy(line).into_owned(),
            subsystem: None,
            device: None,
        }
    }
}

#[derive(Serialize)]
struct JsonLog<'a> {
    records: Vec<JsonRecord<'a>>,
    warnings: &'a [Warning],
}

impl Render for LogReport {
    fn schema(&self) -> &'static str {
        "coroner.dmesg/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let bytes = if self.callers {
            text::render_with_callers(&self.log)
        } else {
            text::render(&self.log)
        };
        out.write_all(&bytes)
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        let records = match &self.log {
            Log::Records(records) => records.iter().map(JsonRecord::from).collect(),
            // The pre-3.5 buffer has no record boundaries: one line is one message.
            Log::Plain(bytes) => bytes
                .split(|&b| b == b'\n')
                .filter(|line| !line.is_empty())
                .map(JsonRecord::plain)
                .collect(),
        };
        let body = JsonLog {
            records,
            warnings: &self.warnings,
        };
        write_document(out, self.schema(), &body)
    }

    fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

//! `log -T`: the kernel log with each record's time of day, as crash computes
//! it: the boot time is the dump's wall-clock time less the uptime in whole
//! seconds (crash's `kt->boot_date`), and a record's time is the boot time plus
//! its timestamp's whole seconds, printed as `ctime` in UTC. A record's
//! continuation lines are indented under its text, and bytes neither printable
//! nor space show as `.`, as crash writes them.

use crate::render::Render;
use crate::schema::{write_document, Stage, Warning};
use crate::time::utc_ctime;
use coroner_kernel::dmesg::{self, Log};
use coroner_program::Program;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Clone, Serialize)]
pub struct TimedRecord {
    /// Seconds since the epoch, UTC.
    pub time: i64,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimedLogReport {
    /// The boot time the records' times count from (seconds since the epoch).
    pub boot_time: i64,
    pub records: Vec<TimedRecord>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, thiserror::Error)]
pub enum TimedLogError {
    #[error("log -T: {0}")]
    Log(#[from] dmesg::LogError),
    #[error("log -T: the dump has no wall-clock time or uptime to date the records by")]
    NoClock,
    #[error("log -T: the kernel's log has no timestamps (a pre-3.5 character buffer)")]
    Plain,
}

pub fn timed_log(program: &Program) -> Result<TimedLogReport, TimedLogError> {
    let kernel = program.kernel();
    let read = dmesg::read_log(kernel, kernel.vmcoreinfo())?;
    let Log::Records(records) = &read.log else {
        return Err(TimedLogError::Plain);
    };
    let info = program.system_info(Some(&read.log));
    let (Some(now), Some(uptime)) = (info.time, info.uptime_seconds) else {
        return Err(TimedLogError::NoClock);
    };
    let boot_time = now - uptime as i64;
    Ok(TimedLogReport {
        boot_time,
        records: records
            .iter()
            .map(|r| TimedRecord {
                time: boot_time + (r.ts_nsec / 1_000_000_000) as i64,
                text: crash_text(&r.text),
            })
            .collect(),
        warnings: Warning::all(Stage::Log, &read.warnings),
    })
}

/// crash's bytes of a record: printable and space bytes as they are, others `.`.
fn crash_text(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x20..=0x7e | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => b as char,
            _ => '.',
        })
        .collect()
}

impl Render for TimedLogReport {
    fn schema(&self) -> &'static str {
        "coroner.log-t/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        for record in &self.records {
            let prefix = format!("[{}] ", utc_ctime(record.time));
            let indent = format!("\n{}", " ".repeat(prefix.len()));
            writeln!(out, "{prefix}{}", record.text.replace('\n', &indent))?;
        }
        Ok(())
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        write_document(out, self.schema(), self)
    }

    fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unprintable_bytes_are_dots() {
        assert_eq!(super::crash_text(b"a\x01b\xffc\td"), "a.b.c\td");
    }
}

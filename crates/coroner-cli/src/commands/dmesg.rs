//! `coroner dmesg DUMP [--json]`: the kernel log from the dump alone, as
//! `makedumpfile --dump-dmesg` writes it (or one JSON record per message).

use coroner_dump::Dump;
use coroner_kernel::dmesg::{self, text, Log, LogRead, LogRecord};
use coroner_kernel::Kernel;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The dump file (any format `coroner info` reads).
    dump: PathBuf,
    /// One JSON record per message instead of text.
    #[arg(long)]
    json: bool,
    /// Prefix each line with the caller id (`[     T42] `), as makedumpfile 1.7.5
    /// and later do when the kernel records it; 1.7.2's output has no prefix.
    #[arg(long)]
    caller: bool,
}

/// Opens a dump and reads its kernel log.
pub fn load(path: &Path) -> Result<LogRead, String> {
    let dump = Dump::open(path).map_err(|e| e.to_string())?;
    let kernel = Kernel::new(dump).map_err(|e| e.to_string())?;
    dmesg::read_log(&kernel, kernel.vmcoreinfo())
        .map_err(|e| format!("{}: cannot read the kernel log: {e}", path.display()))
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

#[derive(Serialize)]
struct JsonLog<'a> {
    records: Vec<JsonRecord<'a>>,
    warnings: &'a [String],
}

fn json(read: &LogRead) -> Result<Vec<u8>, String> {
    let records = match &read.log {
        Log::Records(records) => records.iter().map(JsonRecord::from).collect(),
        // The pre-3.5 buffer has no record boundaries: one line is one message.
        Log::Plain(bytes) => bytes
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| JsonRecord {
                seq: None,
                ts_nsec: None,
                level: None,
                facility: None,
                caller: None,
                text: String::from_utf8_lossy(line).into_owned(),
                subsystem: None,
                device: None,
            })
            .collect(),
    };
    let mut out = serde_json::to_vec_pretty(&JsonLog {
        records,
        warnings: &read.warnings,
    })
    .map_err(|e| e.to_string())?;
    out.push(b'\n');
    Ok(out)
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let read = load(&args.dump)?;
    let out = if args.json {
        json(&read)?
    } else if args.caller {
        text::render_with_callers(&read.log)
    } else {
        text::render(&read.log)
    };
    std::io::stdout()
        .lock()
        .write_all(&out)
        .map_err(|e| format!("writing the log: {e}"))?;
    for w in &read.warnings {
        eprintln!("coroner: warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

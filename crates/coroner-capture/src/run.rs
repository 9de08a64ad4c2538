//! One capture from start to end, as a collector runs it: open the input, save the
//! kernel log, filter, write; or reassemble a flattened stream; or only the log.
//! The caller (the CLI) parses options into a [`Request`] and prints the result.

use crate::compress::Compression;
use crate::filter::{filter, DumpLevel, Excluded};
use crate::kdump::{write, Outcome, WriteOptions};
use crate::sink::{FileSink, FlatSink, Sink};
use crate::CaptureError;
use coroner_dump::Dump;
use coroner_kernel::Kernel;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the dump goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// A kdump-compressed file.
    File(PathBuf),
    /// makedumpfile's flattened stream, to standard output (`-F`).
    FlatStdout,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub input: PathBuf,
    pub target: Target,
    pub level: DumpLevel,
    pub compression: Compression,
    pub threads: usize,
    /// Overwrite an existing output (`-f`); otherwise it must not exist.
    pub force: bool,
    /// Also write the kernel log as `vmcore-dmesg.txt` beside a file output,
    /// before the dump (kept if it exists).
    pub dmesg_beside: bool,
}

/// The stages a progress display shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Filtering,
    /// Writing pages: `(done, total)`.
    Writing,
}

/// What a capture did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub max_mapnr: u64,
    pub ram_pages: u64,
    pub excluded: Excluded,
    pub outcome: Outcome,
    pub warnings: Vec<String>,
    /// Where the kernel log was saved, if it was.
    pub dmesg: Option<PathBuf>,
}

pub fn open(input: &Path) -> Result<Kernel, CaptureError> {
    let dump = Dump::open(input).map_err(|e| CaptureError::Input(e.to_string()))?;
    Kernel::new(dump).map_err(|e| CaptureError::Input(e.to_string()))
}

/// Creates the output file: exclusive unless `force`, as makedumpfile does.
pub fn create(path: &Path, force: bool) -> Result<File, CaptureError> {
    let mut o = OpenOptions::new();
    o.write(true).read(true);
    if force {
        o.create(true).truncate(true);
    } else {
        o.create_new(true);
    }
    o.open(path)
        .map_err(|e| CaptureError::Output(format!("cannot create {}: {e}", path.display())))
}

/// The kernel log as `makedumpfile --dump-dmesg` writes it.
pub fn dmesg_text(kernel: &Kernel) -> Result<Vec<u8>, CaptureError> {
    let read = coroner_kernel::dmesg::read_log(kernel, kernel.vmcoreinfo())
        .map_err(|e| CaptureError::Input(format!("cannot read the kernel log: {e}")))?;
    Ok(coroner_kernel::dmesg::text::render(&read.log))
}

/// `--dump-dmesg VMCORE LOGFILE`.
pub fn dump_dmesg(input: &Path, out: &Path, force: bool) -> Result<(), CaptureError> {
    let kernel = open(input)?;
    let text = dmesg_text(&kernel)?;
    let mut f = create(out, force)?;
    f.write_all(&text)
        .and_then(|()| f.sync_all())
        .map_err(|e| CaptureError::Output(format!("{}: {e}", out.display())))
}

/// Filters and writes the dump.
pub fn capture(
    req: &Request,
    progress: &mut dyn FnMut(Stage, u64, u64),
) -> Result<Summary, CaptureError> {
    let kernel = open(&req.input)?;
    // The log first and apart: a capture that fails later still leaves it.
    let mut dmesg = None;
    let mut warnings = Vec::new();
    if let (true, Target::File(path)) = (req.dmesg_beside, &req.target) {
        let beside = path
            .parent()
            .unwrap_or(Path::new("."))
            .join("vmcore-dmesg.txt");
        if !beside.exists() {
            match dmesg_text(&kernel).and_then(|t| {
                std::fs::write(&beside, t)
                    .map_err(|e| CaptureError::Output(format!("{}: {e}", beside.display())))
            }) {
                Ok(()) => dmesg = Some(beside),
                Err(e) => warnings.push(format!("kernel log not saved: {e}")),
            }
        }
    }
    progress(Stage::Filtering, 0, 1);
    let filtered = filter(&kernel, req.level)?;
    warnings.extend(filtered.warnings.iter().cloned());
    let total = filtered.dumpable.count();
    let opts = WriteOptions {
        compression: req.compression,
        level: req.level,
        threads: req.threads,
        important_first: true,
    };
    let mut tick = |done| progress(Stage::Writing, done, total);
    let outcome = match &req.target {
        Target::File(path) => {
            let mut sink = FileSink::new(create(path, req.force)?);
            let outcome = write(&kernel, &filtered, &opts, &mut sink, &mut tick)?;
            if outcome.write_error.is_none() {
                if let Err(e) = sink.file().sync_all() {
                    return Err(CaptureError::Output(format!("{}: {e}", path.display())));
                }
            }
            outcome
        }
        Target::FlatStdout => {
            let stdout = std::io::stdout().lock();
            let mut sink = FlatSink::new(std::io::BufWriter::with_capacity(1 << 20, stdout));
            write(
                &kernel,
                &filtered,
                &opts,
                &mut sink as &mut dyn Sink,
                &mut tick,
            )?
        }
    };
    Ok(Summary {
        max_mapnr: filtered.max_mapnr,
        ram_pages: filtered.ram.count(),
        excluded: filtered.excluded,
        outcome,
        warnings,
        dmesg,
    })
}

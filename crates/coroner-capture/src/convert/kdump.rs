//! `--format kdump`: the input filtered by dump level and written by the
//! kdump-compressed writer that `coroner capture` runs, so both make the same file.

use super::{ConvertError, Options, Progress, Written};
use crate::filter::{filter, DumpLevel};
use crate::kdump::{write, WriteOptions};
use crate::sink::FileSink;
use coroner_dump::{Compression, Dump, PhysMemory};
use coroner_kernel::Kernel;
use std::path::Path;

/// Writes `dump` kdump-compressed to `part` (created, synced). A file the writer
/// could not finish is an error, so that the caller never renames it into place.
pub(super) fn write_kdump(
    dump: Dump,
    part: &Path,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Written, ConvertError> {
    let kernel = Kernel::new(dump).map_err(|e| {
        ConvertError::Unsupported(format!(
            "kdump-compressed output is filtered and laid out from the kernel's VMCOREINFO: {e}"
        ))
    })?;
    let capture = |e: crate::CaptureError| ConvertError::Unsupported(e.to_string());
    let filtered = filter(&kernel, DumpLevel(options.dump_level)).map_err(capture)?;
    let page_size = kernel.dump().page_size();
    progress.start(filtered.dumpable.count() * page_size);
    let opts = WriteOptions {
        compression: options.compression.unwrap_or(Compression::None),
        level: DumpLevel(options.dump_level),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        important_first: true,
    };
    let file = std::fs::File::create(part).map_err(|e| ConvertError::Create {
        path: part.to_path_buf(),
        source: e,
    })?;
    let mut sink = FileSink::new(file);
    let mut done = 0;
    let outcome = write(&kernel, &filtered, &opts, &mut sink, &mut |pages| {
        progress.advance((pages - done) * page_size);
        done = pages;
    })
    .map_err(capture)?;
    progress.finish();
    if let Some(e) = &outcome.write_error {
        return Err(ConvertError::Write(std::io::Error::other(e.clone())));
    }
    sink.file().sync_all().map_err(ConvertError::Write)?;
    let mut warnings = filtered.warnings.clone();
    if !outcome.unreadable.is_empty() {
        warnings.push(format!(
            "{} pages could not be read from the input; the output marks them missing",
            outcome.unreadable.len()
        ));
    }
    Ok(Written {
        bytes: outcome.bytes,
        loads: 0,
        kernel_text: false,
        pages: outcome.stored,
        zero_pages: outcome.zero,
        warnings,
    })
}

//! `convert`: any dump coroner reads (VMware checkpoints and memory files, QEMU
//! and kexec ELF, kdump-compressed, flattened) rewritten as a standard vmcore.
//! The input becomes an [`Image`] (notes, VMCOREINFO, the kernel image's place);
//! a [`DumpWriter`] streams it out in its format. Output goes to `OUTPUT.part`,
//! renamed once complete, so a failed conversion leaves no half-written vmcore.

mod image;
mod kdump;
pub mod kernel_text;
mod page_tables;
mod progress;

pub use image::Image;
pub use kernel_text::{FoundBy, KernelText};
pub use progress::{Progress, Silent};

use crate::elf;
pub use coroner_dump::Compression;
use coroner_dump::{Dump, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The vmcore formats `convert` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// ELF64 core, as `/proc/vmcore` and `makedumpfile -E`.
    Elf,
    /// kdump-compressed, as makedumpfile writes it.
    Kdump,
}

impl OutputFormat {
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Elf => "elf",
            OutputFormat::Kdump => "kdump-compressed",
        }
    }
}

/// What to write.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub format: OutputFormat,
    /// makedumpfile's dump level (`-d`): which pages to leave out; 0 keeps all.
    pub dump_level: u8,
    /// Page compression (`-c`, `-l`, `-z`): kdump-compressed only.
    pub compression: Option<Compression>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(transparent)]
    Open(#[from] coroner_dump::DumpError),
    #[error("{0}")]
    Options(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing the output failed: {0}")]
    Write(std::io::Error),
}

/// What a writer reports about the file it wrote.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub bytes: u64,
    /// PT_LOAD segments (ELF) or 0.
    pub loads: usize,
    /// Whether a PT_LOAD maps the kernel image at its virtual address.
    pub kernel_text: bool,
    /// Pages of memory written, and how many of them as zeros (not stored by
    /// the input, or unreadable).
    pub pages: u64,
    pub zero_pages: u64,
    pub warnings: Vec<String>,
}

/// What `convert` did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub input_format: &'static str,
    pub output: PathBuf,
    pub format: OutputFormat,
    pub cpus: usize,
    pub vmcoreinfo_source: Option<&'static str>,
    pub kernel_text: Option<KernelText>,
    pub kernel_found_by: Option<FoundBy>,
    pub written: Written,
    /// What opening the input said (a cut file, no CPU state, ...).
    pub input_warnings: Vec<String>,
    /// What the output lacks, and why.
    pub warnings: Vec<String>,
}

/// Whether `options` fit together.
fn check(options: &Options) -> Result<(), ConvertError> {
    if options.dump_level > 31 {
        return Err(ConvertError::Options(format!(
            "dump level {} is out of range (0-31, as makedumpfile's -d)",
            options.dump_level
        )));
    }
    if options.format == OutputFormat::Elf {
        if options.dump_level != 0 {
            return Err(ConvertError::Options(format!(
                "-d {} filters pages of kdump-compressed output: add --format kdump, or \
                 filter the ELF afterwards with `coroner capture -d {}`",
                options.dump_level, options.dump_level
            )));
        }
        if let Some(c) = options.compression {
            return Err(ConvertError::Options(format!(
                "ELF output is not compressed: -c/-l/-z ({}) go with --format kdump",
                c.name()
            )));
        }
    }
    Ok(())
}

/// Opens `input` (a VMware checkpoint's memory in `vmem` when it is not the
/// `.vmem` beside it) and writes it to `output`.
pub fn convert_file(
    input: &Path,
    vmem: Option<&Path>,
    output: &Path,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Summary, ConvertError> {
    let open = OpenOptions {
        vmware_memory_file: vmem.map(Path::to_path_buf),
    };
    let dump = Dump::open_with(input, &open)?;
    convert(dump, output, options, progress)
}

/// The fuzz target's entry: `bytes` opened as a dump and written as an ELF vmcore
/// to nowhere. Returns how many bytes were written.
#[doc(hidden)]
pub fn fuzz_convert(bytes: &[u8]) -> u64 {
    let Ok(dump) = Dump::from_bytes("fuzz-input", bytes.to_vec()) else {
        return 0;
    };
    let image = Image::of(&dump);
    elf::write(&image, &mut std::io::sink(), &Silent).map_or(0, |w| w.bytes)
}

/// Writes `dump` to `output` in `options`' format.
pub fn convert(
    dump: Dump,
    output: &Path,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Summary, ConvertError> {
    check(options)?;
    let same = |a: &Path, b: &Path| {
        a.canonicalize()
            .ok()
            .is_some_and(|a| b.canonicalize().ok() == Some(a))
    };
    if same(dump.path(), output) {
        return Err(ConvertError::Options(format!(
            "the output {} is the input",
            output.display()
        )));
    }
    let mut part = output.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let input_format = dump.info().format.name();
    let input_warnings = dump.info().warnings.clone();
    let image = Image::of(&dump);
    let facts = Facts {
        cpus: image.cpus,
        vmcoreinfo_source: image.vmcoreinfo_source,
        kernel_text: image.kernel_text,
        kernel_found_by: image.kernel_found_by.clone(),
        warnings: image.warnings.clone(),
    };
    let result = match options.format {
        OutputFormat::Elf => write_elf(&image, &part, progress),
        OutputFormat::Kdump => {
            drop(image);
            kdump::write_kdump(dump, &part, options, progress)
        }
    }
    .and_then(|w| {
        std::fs::rename(&part, output).map_err(|e| ConvertError::Create {
            path: output.to_path_buf(),
            source: e,
        })?;
        Ok(w)
    });
    let written = match result {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    let mut warnings = facts.warnings;
    warnings.extend(written.warnings.iter().cloned());
    Ok(Summary {
        input_format,
        output: output.to_path_buf(),
        format: options.format,
        cpus: facts.cpus,
        vmcoreinfo_source: facts.vmcoreinfo_source,
        kernel_text: facts.kernel_text.filter(|_| written.kernel_text),
        kernel_found_by: facts.kernel_found_by,
        written,
        input_warnings,
        warnings,
    })
}

/// What the summary says of the input, taken before a writer consumes it.
struct Facts {
    cpus: usize,
    vmcoreinfo_source: Option<&'static str>,
    kernel_text: Option<KernelText>,
    kernel_found_by: Option<FoundBy>,
    warnings: Vec<String>,
}

/// Streams `image` as an ELF vmcore into `part`.
fn write_elf(image: &Image, part: &Path, progress: &dyn Progress) -> Result<Written, ConvertError> {
    let file = std::fs::File::create(part).map_err(|e| ConvertError::Create {
        path: part.to_path_buf(),
        source: e,
    })?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let written = elf::write(image, &mut out, progress)?;
    out.flush().map_err(ConvertError::Write)?;
    Ok(written)
}

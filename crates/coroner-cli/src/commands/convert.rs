//! `coroner convert INPUT OUTPUT [--format elf|kdump] [-d LEVEL] [-c|-l|-z]`: any
//! dump coroner reads (VMware `.vmss`/`.vmsn`/`.vmem` included) rewritten as a
//! standard vmcore. The work is coroner-capture's; this parses, and draws the
//! progress bar on a terminal.

use coroner_capture::convert::{self, Compression, FoundBy, OutputFormat, Progress};
use coroner_report::convert::{ConvertReport, KernelImage};
use coroner_report::Addr;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The dump to convert: any format `coroner info` reads.
    input: PathBuf,
    /// The vmcore to write (replaced if it exists; written to OUTPUT.part first).
    output: PathBuf,
    /// elf (a kdump ELF core, as /proc/vmcore) or kdump (kdump-compressed).
    #[arg(long, value_enum, default_value = "elf")]
    format: FormatArg,
    /// makedumpfile's dump level: pages to leave out (1 zero, 2 cache, 4 private
    /// cache, 8 user data, 16 free; summed).
    #[arg(
        short = 'd',
        long = "dump-level",
        value_name = "LEVEL",
        default_value_t = 0
    )]
    dump_level: u8,
    /// Compress pages with zlib (kdump format).
    #[arg(short = 'c', group = "compression")]
    zlib: bool,
    /// Compress pages with LZO (kdump format).
    #[arg(short = 'l', group = "compression")]
    lzo: bool,
    /// Compress pages with zstd (kdump format).
    #[arg(short = 'z', group = "compression")]
    zstd: bool,
    /// The memory file of a VMware checkpoint, when it is not the `.vmem` beside it.
    #[arg(long, value_name = "FILE")]
    vmem: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Elf,
    Kdump,
}

pub fn run(args: &Args) -> Result<ConvertReport, String> {
    let options = convert::Options {
        format: match args.format {
            FormatArg::Elf => OutputFormat::Elf,
            FormatArg::Kdump => OutputFormat::Kdump,
        },
        dump_level: args.dump_level,
        compression: [
            (args.zlib, Compression::Zlib),
            (args.lzo, Compression::Lzo),
            (args.zstd, Compression::Zstd),
        ]
        .into_iter()
        .find_map(|(on, c)| on.then_some(c)),
    };
    let summary = convert::convert_file(
        &args.input,
        args.vmem.as_deref(),
        &args.output,
        &options,
        &Bar::new(),
    )
    .map_err(|e| e.to_string())?;
    let w = &summary.written;
    let mut report = ConvertReport {
        input: args.input.display().to_string(),
        input_format: summary.input_format,
        output: summary.output.display().to_string(),
        format: summary.format.name(),
        bytes: w.bytes,
        loads: w.loads,
        cpus: summary.cpus,
        vmcoreinfo: summary.vmcoreinfo_source,
        kernel_image: summary.kernel_text.map(|k| KernelImage {
            vaddr: Addr(k.vaddr),
            paddr: Addr(k.paddr),
            size: k.size,
            phys_base: Addr(k.phys_base()),
            kaslr_offset: Addr(k.kaslr_offset()),
            found_by: match summary.kernel_found_by {
                Some(FoundBy::Registers { .. }) => "page tables",
                _ => "vmcoreinfo",
            },
            release: match &summary.kernel_found_by {
                Some(FoundBy::Registers { release, .. }) => Some(release.clone()),
                _ => None,
            },
        }),
        pages: w.pages,
        zero_pages: w.zero_pages,
        warnings: Vec::new(),
    };
    report.warn(&summary.input_warnings, &summary.warnings);
    Ok(report)
}

/// indicatif's bar on stderr, which draws nothing when stderr is not a terminal.
struct Bar(indicatif::ProgressBar);

impl Bar {
    fn new() -> Bar {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "converting {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template"),
        );
        Bar(bar)
    }
}

impl Progress for Bar {
    fn start(&self, bytes: u64) {
        self.0.set_length(bytes);
    }
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

//! `coroner capture`: makedumpfile's command line (the options kdump set-ups pass),
//! parsed here and run by coroner-capture. The same parser serves the binary when
//! it is installed or linked as `makedumpfile`.

use clap::ArgAction;
use coroner_capture::compress::Compression;
use coroner_capture::run::{self, Request, Stage, Target};
use coroner_capture::{messages, DumpLevel};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// makedumpfile's options. Unknown knobs it has for tuning are accepted and
/// ignored; options coroner does not implement fail with a clear message.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Dump level 0-31: 1 zero pages, 2 cache, 4 private cache, 8 user data, 16 free
    /// pages (a comma list is makedumpfile's retry ladder: the first level is used).
    #[arg(short = 'd', value_name = "LEVEL", default_value = "0")]
    pub dump_level: String,
    /// Compress pages with zlib.
    #[arg(short = 'c', action = ArgAction::SetTrue, overrides_with_all = ["lzo", "snappy", "zstd"])]
    pub zlib: bool,
    /// Compress pages with LZO.
    #[arg(short = 'l', action = ArgAction::SetTrue, overrides_with_all = ["zlib", "snappy", "zstd"])]
    pub lzo: bool,
    /// Compress pages with snappy.
    #[arg(short = 'p', action = ArgAction::SetTrue, overrides_with_all = ["zlib", "lzo", "zstd"])]
    pub snappy: bool,
    /// Compress pages with zstd.
    #[arg(short = 'z', action = ArgAction::SetTrue, overrides_with_all = ["zlib", "lzo", "snappy"])]
    pub zstd: bool,
    /// Write the flattened format to standard output (for ssh or dd).
    #[arg(short = 'F')]
    pub flatten: bool,
    /// Reassemble a flattened stream read from standard input into DUMPFILE.
    #[arg(short = 'R')]
    pub reassemble: bool,
    /// ELF output.
    #[arg(short = 'E')]
    pub elf: bool,
    /// Overwrite an existing output file.
    #[arg(short = 'f')]
    pub force: bool,
    /// Write only the kernel log: `--dump-dmesg VMCORE LOGFILE`.
    #[arg(long = "dump-dmesg")]
    pub dump_dmesg: bool,
    /// Message level (makedumpfile's bits: 1 progress, 2 common, 4 error, 16 report).
    #[arg(long = "message-level", value_name = "N", default_value_t = 7,
          value_parser = clap::value_parser!(u8).range(0..=31))]
    pub message_level: u8,
    /// Threads compressing pages (default: the CPUs there are; the capture kernel
    /// usually has one).
    #[arg(long = "num-threads", value_name = "N", allow_negative_numbers = true)]
    pub num_threads: Option<i64>,
    /// Check the options and exit (what RHEL's mkdumprd runs).
    #[arg(long = "check-params")]
    pub check_params: bool,
    /// Debug messages (accepted).
    #[arg(short = 'D')]
    pub debug: bool,
    /// Print the version.
    #[arg(short = 'v')]
    pub version: bool,
    /// Tuning knobs of makedumpfile that coroner does not need (accepted, ignored).
    #[arg(long = "cyclic-buffer", value_name = "KIB", hide = true)]
    pub cyclic_buffer: Option<String>,
    #[arg(long = "work-dir", value_name = "DIR", hide = true)]
    pub work_dir: Option<String>,
    #[arg(long = "non-mmap", hide = true)]
    pub non_mmap: bool,
    #[arg(short = 'b', value_name = "ORDER", hide = true)]
    pub block_order: Option<String>,
    #[arg(long = "splitblock-size", value_name = "SIZE", hide = true)]
    pub splitblock_size: Option<String>,
    /// Not implemented: refused with a message.
    #[arg(long = "split", hide = true)]
    pub split: bool,
    #[arg(short = 'x', value_name = "VMLINUX", hide = true)]
    pub vmlinux: Option<String>,
    #[arg(short = 'i', value_name = "VMCOREINFO", hide = true)]
    pub vmcoreinfo: Option<String>,
    #[arg(short = 'L', value_name = "SIZE", hide = true)]
    pub size_limit: Option<String>,
    /// VMCORE [DUMPFILE]; `-F VMCORE`; `-R DUMPFILE`; `--dump-dmesg VMCORE LOGFILE`.
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
}

/// What was asked, checked.
enum Job {
    Capture(Request),
    Dmesg { input: PathBuf, out: PathBuf },
    Reassemble(PathBuf),
    Version,
}

fn level(text: &str) -> Result<DumpLevel, String> {
    let first = text.split(',').next().unwrap_or("");
    let n: u8 = first
        .trim()
        .parse()
        .map_err(|_| format!("dump level {text:?} is not a number from 0 to 31"))?;
    DumpLevel::new(n).map_err(|e| e.to_string())
}

fn job(a: &Args) -> Result<Job, String> {
    if a.version {
        return Ok(Job::Version);
    }
    let refuse = |what: &str| Err(format!("{what} is not supported by coroner capture"));
    if a.split {
        return refuse("--split");
    }
    if a.vmlinux.is_some() || a.vmcoreinfo.is_some() {
        return refuse("-x/-i (coroner filters from the dump's VMCOREINFO alone)");
    }
    if a.size_limit.is_some() {
        return refuse("-L");
    }
    let compression = if a.zlib {
        Compression::Zlib
    } else if a.lzo {
        Compression::Lzo
    } else if a.snappy {
        Compression::Snappy
    } else if a.zstd {
        Compression::Zstd
    } else {
        Compression::None
    };
    if a.elf {
        if compression != Compression::None {
            return Err("-E cannot be combined with -c, -l, -p or -z".into());
        }
        return refuse("-E (ELF output)");
    }
    let files = &a.files;
    if a.dump_dmesg {
        let [input, out] = files.as_slice() else {
            return Err("--dump-dmesg takes VMCORE LOGFILE".into());
        };
        return Ok(Job::Dmesg {
            input: input.clone(),
            out: out.clone(),
        });
    }
    if a.reassemble {
        let [out] = files.as_slice() else {
            return Err("-R takes DUMPFILE (the stream comes on standard input)".into());
        };
        return Ok(Job::Reassemble(out.clone()));
    }
    let (input, target) = match (a.flatten, files.as_slice()) {
        (true, [input]) => (input.clone(), Target::FlatStdout),
        (true, _) => return Err("-F takes VMCORE only: the dump goes to standard output".into()),
        (false, [input, out]) => (input.clone(), Target::File(out.clone())),
        (false, _) => return Err("expected VMCORE DUMPFILE".into()),
    };
    let threads = match a.num_threads {
        Some(n) => n.max(1) as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
    };
    Ok(Job::Capture(Request {
        input,
        target,
        level: level(&a.dump_level)?,
        compression,
        threads,
        force: a.force,
        dmesg_beside: true,
    }))
}

/// Runs the command; returns makedumpfile's exit status (0 done, 1 failed).
pub fn run(a: &Args, name: &str) -> u8 {
    // Under -F standard output is the dump: every message goes to stderr.
    let mut say: Box<dyn Write> = if a.flatten {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let level = a.message_level;
    let failed = |say: &mut dyn Write, why: &str| {
        let _ = writeln!(std::io::stderr(), "{name}: {why}");
        if level & 2 != 0 {
            let _ = writeln!(say, "\n{name} Failed.");
        }
        1
    };
    let job = match job(a) {
        Ok(j) => j,
        Err(e) => return failed(&mut say, &e),
    };
    if a.check_params {
        return 0;
    }
    match job {
        Job::Version => {
            let _ = writeln!(
                say,
                "{name}: coroner {} (makedumpfile-compatible)",
                env!("CARGO_PKG_VERSION")
            );
            0
        }
        Job::Dmesg { input, out } => match run::dump_dmesg(&input, &out, a.force) {
            Ok(()) => {
                if level & 2 != 0 {
                    let _ = writeln!(
                        say,
                        "\nThe dmesg log is saved to {}.\n\n{name} Completed.",
                        out.display()
                    );
                }
                0
            }
            Err(e) => failed(&mut say, &e.to_string()),
        },
        Job::Reassemble(out) => {
            let result = run::create(&out, a.force).and_then(|f| {
                coroner_capture::reassemble::reassemble(&mut std::io::stdin().lock(), &f)?;
                f.sync_all()
                    .map_err(|e| coroner_capture::CaptureError::Output(e.to_string()))
            });
            match result {
                Ok(()) => {
                    if level & 2 != 0 {
                        let _ = writeln!(
                            say,
                            "\nThe dumpfile is saved to {}.\n\n{name} Completed.",
                            out.display()
                        );
                    }
                    0
                }
                Err(e) => failed(&mut say, &e.to_string()),
            }
        }
        Job::Capture(req) => {
            let bar = progress_bar(level);
            let mut tick = |stage: Stage, done: u64, total: u64| {
                if let Some(bar) = &bar {
                    if stage == Stage::Writing {
                        bar.set_length(total);
                        bar.set_position(done);
                    }
                }
            };
            let result = run::capture(&req, &mut tick);
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            match result {
                Err(e) => failed(&mut say, &e.to_string()),
                Ok(summary) => {
                    for w in &summary.warnings {
                        let _ = writeln!(std::io::stderr(), "{name}: warning: {w}");
                    }
                    if level & 16 != 0 {
                        let _ = write!(say, "\n{}", messages::page_report(&summary));
                    }
                    if let Some(why) = messages::incomplete(&summary) {
                        return failed(&mut say, &why);
                    }
                    if level & 2 != 0 {
                        if let Target::File(out) = &req.target {
                            let _ = writeln!(say, "\nThe dumpfile is saved to {}.", out.display());
                        }
                        let _ = writeln!(say, "\n{name} Completed.");
                    }
                    0
                }
            }
        }
    }
}

/// A bar for pages written, on a terminal when progress messages are on.
fn progress_bar(level: u8) -> Option<indicatif::ProgressBar> {
    if level & 1 == 0 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "Writing pages {wide_bar} {pos}/{len} pages, {per_sec}, {eta} left",
        )
        .ok()?,
    );
    Some(bar)
}

//! `coroner triage INPUT [--json|--markdown] [--kb DIR]`: what crashed, where, and
//! whether it is a known issue, from a kernel log (any capture of one) or from the
//! log inside a dump.

use crate::time::utc_iso8601;
use coroner_dump::Dump;
use coroner_kernel::{dmesg, Kernel};
use coroner_triage::{KnowledgeBase, Report};
use serde::Serialize;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A kernel dump, a kernel log (vmcore-dmesg.txt, console capture, syslog,
    /// journal export, dmesg output), or `-` for standard input.
    input: PathBuf,
    /// Print JSON (field names are documented in the README).
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Print Markdown, for tickets.
    #[arg(long)]
    markdown: bool,
    /// A directory of knowledge-base rules (`*.toml`) to use beside the built-in
    /// ones; may be given several times.
    #[arg(long, value_name = "DIR")]
    kb: Vec<PathBuf>,
}

/// The kernel's identity as the dump itself records it.
#[derive(Serialize)]
struct DumpIdentity {
    format: &'static str,
    release: Option<String>,
    build_id: Option<String>,
    arch: Option<String>,
    crash_time: Option<String>,
    /// What could not be read of the kernel log.
    log_warnings: Vec<String>,
}

#[derive(Serialize)]
struct Output<'a> {
    input: String,
    #[serde(flatten)]
    report: &'a Report,
    /// Present when the input was a dump.
    dump: Option<DumpIdentity>,
}

/// Exit status: 0 a crash was found, 1 none was (as grep does).
pub fn run(args: &Args) -> Result<ExitCode, String> {
    let mut kb = KnowledgeBase::builtin().map_err(|e| e.to_string())?;
    for dir in &args.kb {
        kb.load_dir(dir).map_err(|e| e.to_string())?;
    }
    let (log, dump) = read_input(&args.input)?;
    let mut report = coroner_triage::triage(&log, &kb);
    if let Some(identity) = &dump {
        // The dump's own record of the release beats one parsed from the log.
        if identity.release.is_some() {
            report.release.clone_from(&identity.release);
        }
    }
    let output = Output {
        input: args.input.display().to_string(),
        report: &report,
        dump,
    };
    if args.json {
        let json = serde_json::to_string_pretty(&output).map_err(|e| e.to_string())?;
        println!("{json}");
    } else if args.markdown {
        print!("{}", coroner_triage::markdown(&report));
        if let Some(dump) = &output.dump {
            print!("{}", dump_lines(dump, "- "));
        }
    } else {
        if let Some(dump) = &output.dump {
            print!("{}", dump_lines(dump, ""));
        }
        print!("{}", coroner_triage::text(&report));
    }
    Ok(if report.crashed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The log text, and the dump's identity when the input is a dump.
fn read_input(path: &Path) -> Result<(Vec<u8>, Option<DumpIdentity>), String> {
    if path.as_os_str() == "-" {
        let mut text = Vec::new();
        std::io::stdin()
            .read_to_end(&mut text)
            .map_err(|e| format!("standard input: {e}"))?;
        return Ok((text, None));
    }
    match Dump::open(path) {
        Ok(dump) => {
            let (log, identity) = dump_log(dump, path)?;
            Ok((log, Some(identity)))
        }
        Err(err) if looks_like_dump(path) => Err(err.to_string()),
        Err(_) => std::fs::read(path)
            .map(|text| (text, None))
            .map_err(|e| format!("{}: {e}", path.display())),
    }
}

/// Dump magic numbers: such a file that does not open is a damaged dump, whose
/// error says more than triaging its bytes as text would.
fn looks_like_dump(path: &Path) -> bool {
    let mut head = [0u8; 12];
    let read = std::fs::File::open(path).and_then(|mut f| f.read(&mut head));
    let head = &head[..read.unwrap_or(0)];
    head.starts_with(b"\x7fELF")
        || head.starts_with(b"KDUMP   ")
        || head.starts_with(b"makedumpfile")
}

fn dump_log(dump: Dump, path: &Path) -> Result<(Vec<u8>, DumpIdentity), String> {
    let format = dump.info().format.name();
    let arch = dump.info().arch.clone();
    let kernel = Kernel::new(dump).map_err(|e| e.to_string())?;
    let info = kernel.vmcoreinfo();
    let read = dmesg::read_log(&kernel, info)
        .map_err(|e| format!("{}: cannot read the kernel log: {e}", path.display()))?;
    let identity = DumpIdentity {
        format,
        release: info
            .osrelease()
            .map(str::to_string)
            .or_else(|| kernel.dump().banner_release()),
        build_id: info.build_id().map(str::to_string),
        arch,
        crash_time: info.crash_time().map(utc_iso8601),
        log_warnings: read.warnings,
    };
    Ok((dmesg::text::render_with_callers(&read.log), identity))
}

fn dump_lines(dump: &DumpIdentity, bullet: &str) -> String {
    let mut out = String::new();
    let mut row = |key: &str, value: &str| out.push_str(&format!("{bullet}{key:<10} {value}\n"));
    row("dump", dump.format);
    if let Some(release) = &dump.release {
        row("release", release);
    }
    if let Some(build_id) = &dump.build_id {
        row("build-id", build_id);
    }
    if let Some(time) = &dump.crash_time {
        row("crashed", time);
    }
    for warning in &dump.log_warnings {
        row("log", warning);
    }
    out
}

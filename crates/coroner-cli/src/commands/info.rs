//! `coroner info DUMP [--json]`: what the dump is — container, kernel identity,
//! memory and page census — from headers and notes only (plus the page bitmaps).

use crate::time::utc_iso8601;
use coroner_dump::{Dump, PageCounts};
use coroner_kernel::VmcoreInfo;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The dump file (ELF, kdump-compressed or flattened; the format is detected).
    dump: PathBuf,
    /// Print JSON (field names are documented in the README).
    #[arg(long)]
    json: bool,
}

/// Dump-level bits as makedumpfile defines them (`-d`): what each one filters out.
const DUMP_LEVEL_BITS: [(u32, &str); 5] = [
    (1, "zero pages"),
    (2, "page cache (non-private)"),
    (4, "page cache (private)"),
    (8, "user process data"),
    (16, "free pages"),
];

#[derive(Serialize)]
struct Pages {
    present: u64,
    excluded: u64,
    zero: u64,
    missing: u64,
}

impl From<PageCounts> for Pages {
    fn from(c: PageCounts) -> Self {
        Pages {
            present: c.present,
            excluded: c.excluded,
            zero: c.zero,
            missing: c.missing,
        }
    }
}

#[derive(Serialize)]
struct Report {
    file: String,
    format: &'static str,
    format_version: Option<u32>,
    flattened: bool,
    compression: Vec<&'static str>,
    dump_level: Option<u32>,
    excluded_by_level: Vec<&'static str>,
    page_size: u64,
    arch: Option<String>,
    release: Option<String>,
    build_id: Option<String>,
    kaslr_offset: Option<String>,
    phys_base: Option<String>,
    crash_time: Option<String>,
    cpus: Option<u32>,
    cpu_register_notes: usize,
    vmcoreinfo: Option<&'static str>,
    memory_bytes: u64,
    pages: Pages,
    missing_ranges: Vec<[String; 2]>,
    warnings: Vec<String>,
}

fn report(dump: &Dump) -> Report {
    let info = dump.info();
    let vmci = VmcoreInfo::parse(dump.vmcoreinfo().unwrap_or_default());
    let census = dump.census();
    let prstatus = dump.notes().iter().filter(|n| n.is_prstatus()).count();
    let page_size = vmci.page_size().unwrap_or(info.page_size);
    let mut warnings = info.warnings.clone();
    if !census.missing_ranges.is_empty() {
        warnings.push(format!(
            "{} pages are missing (incomplete dump), in {} ranges",
            census.counts.missing,
            census.missing_ranges.len()
        ));
    }
    let release = vmci
        .osrelease()
        .map(str::to_string)
        .or_else(|| info.header_release.clone());
    Report {
        file: dump.path().display().to_string(),
        format: info.format.name(),
        format_version: info.format_version,
        flattened: info.flattened,
        compression: census.compressions.iter().map(|c| c.name()).collect(),
        dump_level: info.dump_level,
        excluded_by_level: DUMP_LEVEL_BITS
            .iter()
            .filter(|(bit, _)| info.dump_level.is_some_and(|l| l & bit != 0))
            .map(|(_, what)| *what)
            .collect(),
        page_size,
        arch: info.arch.clone(),
        release,
        build_id: vmci.build_id().map(str::to_string),
        kaslr_offset: vmci.kernel_offset().map(|o| format!("{o:#x}")),
        phys_base: vmci
            .number("phys_base")
            .map(|p| p as u64)
            .or(info.phys_base)
            .map(|p| format!("{p:#x}")),
        crash_time: vmci.crash_time().or(info.header_time).map(utc_iso8601),
        cpus: info
            .header_cpus
            .or((prstatus > 0).then_some(prstatus as u32)),
        cpu_register_notes: prstatus,
        vmcoreinfo: info.vmcoreinfo_source,
        memory_bytes: census.counts.total() * info.page_size,
        pages: census.counts.into(),
        missing_ranges: census
            .missing_ranges
            .iter()
            .map(|(s, e)| [format!("{s:#x}"), format!("{e:#x}")])
            .collect(),
        warnings,
    }
}

fn print_text(r: &Report) {
    let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    let mut format = r.format.to_string();
    if let Some(v) = r.format_version {
        format += &format!(" (header version {v})");
    }
    if r.flattened {
        format += ", read from makedumpfile's flattened stream";
    }
    println!("file:          {}", r.file);
    println!("format:        {format}");
    println!("compression:   {}", r.compression.join(", "));
    match r.dump_level {
        Some(l) if r.excluded_by_level.is_empty() => {
            println!("dump level:    {l} (nothing excluded)")
        }
        Some(l) => println!(
            "dump level:    {l} (excluded: {})",
            r.excluded_by_level.join(", ")
        ),
        None => println!("dump level:    none (unfiltered)"),
    }
    println!("arch:          {}", or_unknown(&r.arch));
    println!("release:       {}", or_unknown(&r.release));
    println!("build-id:      {}", or_unknown(&r.build_id));
    println!("KASLR offset:  {}", or_unknown(&r.kaslr_offset));
    println!("phys_base:     {}", or_unknown(&r.phys_base));
    println!(
        "crash time:    {}",
        r.crash_time
            .clone()
            .unwrap_or_else(|| "not recorded in the dump's headers".into())
    );
    let cpus = r.cpus.map_or("unknown".into(), |c| c.to_string());
    println!(
        "CPUs:          {cpus} ({} register notes)",
        r.cpu_register_notes
    );
    println!("VMCOREINFO:    {}", r.vmcoreinfo.unwrap_or("absent"));
    println!("page size:     {}", r.page_size);
    println!(
        "memory:        {} bytes ({:.1} MiB)",
        r.memory_bytes,
        r.memory_bytes as f64 / 1048576.0
    );
    let p = &r.pages;
    println!(
        "pages:         {} present, {} excluded, {} zero, {} missing",
        p.present, p.excluded, p.zero, p.missing
    );
    for [s, e] in r.missing_ranges.iter().take(8) {
        println!("missing:       {s}..{e}");
    }
    for w in &r.warnings {
        println!("warning:       {w}");
    }
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let dump = Dump::open(&args.dump).map_err(|e| e.to_string())?;
    let r = report(&dump);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?
        );
    } else {
        print_text(&r);
    }
    Ok(ExitCode::SUCCESS)
}

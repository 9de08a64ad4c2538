//! `info`: what the dump is (container, kernel identity, memory and page census),
//! from headers, notes and page bitmaps only.

use crate::identity::KernelIdentity;
use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use coroner_dump::{Dump, PageCounts};
use coroner_kernel::VmcoreInfo;
use serde::Serialize;
use std::io::{self, Write};

/// Dump-level bits as makedumpfile defines them (`-d`): what each one filters out.
const DUMP_LEVEL_BITS: [(u32, &str); 5] = [
    (1, "zero pages"),
    (2, "page cache (non-private)"),
    (4, "page cache (private)"),
    (8, "user process data"),
    (16, "free pages"),
];

#[derive(Debug, Clone, Serialize)]
pub struct Pages {
    pub present: u64,
    pub excluded: u64,
    pub zero: u64,
    pub missing: u64,
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

#[derive(Debug, Clone, Serialize)]
pub struct InfoReport {
    pub file: String,
    pub format: &'static str,
    pub format_version: Option<u32>,
    pub flattened: bool,
    pub compression: Vec<&'static str>,
    pub dump_level: Option<u32>,
    pub excluded_by_level: Vec<&'static str>,
    pub page_size: u64,
    #[serde(flatten)]
    pub identity: KernelIdentity,
    pub cpus: Option<u32>,
    pub cpu_register_notes: usize,
    pub vmcoreinfo: Option<&'static str>,
    pub memory_bytes: u64,
    pub pages: Pages,
    pub missing_ranges: Vec<[Addr; 2]>,
    pub warnings: Vec<Warning>,
}

pub fn info(dump: &Dump) -> InfoReport {
    let info = dump.info();
    let vmci = VmcoreInfo::parse(dump.vmcoreinfo().unwrap_or_default());
    let census = dump.census();
    let prstatus = dump.notes().iter().filter(|n| n.is_prstatus()).count();
    let mut warnings = Warning::all(Stage::Dump, &info.warnings);
    if !census.missing_ranges.is_empty() {
        warnings.push(Warning::new(
            Stage::Dump,
            format!(
                "{} pages are missing (incomplete dump), in {} ranges",
                census.counts.missing,
                census.missing_ranges.len()
            ),
        ));
    }
    InfoReport {
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
        page_size: vmci.page_size().unwrap_or(info.page_size),
        identity: KernelIdentity::read(dump),
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
            .map(|&(s, e)| [Addr(s), Addr(e)])
            .collect(),
        warnings,
    }
}

impl Render for InfoReport {
    fn schema(&self) -> &'static str {
        "coroner.info/1"
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        write_document(out, self.schema(), self)
    }

    fn warnings(&self) -> &[Warning] {
        // Printed in the text itself.
        &[]
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let or_unknown = |v: Option<&str>| v.unwrap_or("unknown").to_string();
        let hex = |v: Option<Addr>| v.map_or("unknown".into(), |a| format!("{:#x}", a.0));
        let id = &self.identity;
        let mut format = self.format.to_string();
        if let Some(v) = self.format_version {
            format += &format!(" (header version {v})");
        }
        if self.flattened {
            format += ", read from makedumpfile's flattened stream";
        }
        writeln!(out, "file:          {}", self.file)?;
        writeln!(out, "format:        {format}")?;
        writeln!(out, "compression:   {}", self.compression.join(", "))?;
        match self.dump_level {
            Some(l) if self.excluded_by_level.is_empty() => {
                writeln!(out, "dump level:    {l} (nothing excluded)")?
            }
            Some(l) => writeln!(
                out,
                "dump level:    {l} (excluded: {})",
                self.excluded_by_level.join(", ")
            )?,
            None => writeln!(out, "dump level:    none (unfiltered)")?,
        }
        writeln!(out, "arch:          {}", or_unknown(id.arch.as_deref()))?;
        writeln!(out, "release:       {}", or_unknown(id.release.as_deref()))?;
        writeln!(out, "build-id:      {}", or_unknown(id.build_id.as_deref()))?;
        writeln!(out, "KASLR offset:  {}", hex(id.kaslr_offset))?;
        writeln!(out, "phys_base:     {}", hex(id.phys_base))?;
        writeln!(
            out,
            "crash time:    {}",
            id.crash_time
                .as_deref()
                .unwrap_or("not recorded in the dump's headers")
        )?;
        let cpus = self.cpus.map_or("unknown".into(), |c| c.to_string());
        writeln!(
            out,
            "CPUs:          {cpus} ({} register notes)",
            self.cpu_register_notes
        )?;
        writeln!(
            out,
            "VMCOREINFO:    {}",
            self.vmcoreinfo.unwrap_or("absent")
        )?;
        writeln!(out, "page size:     {}", self.page_size)?;
        writeln!(
            out,
            "memory:        {} bytes ({:.1} MiB)",
            self.memory_bytes,
            self.memory_bytes as f64 / 1048576.0
        )?;
        let p = &self.pages;
        writeln!(
            out,
            "pages:         {} present, {} excluded, {} zero, {} missing",
            p.present, p.excluded, p.zero, p.missing
        )?;
        for [s, e] in self.missing_ranges.iter().take(8) {
            writeln!(out, "missing:       {:#x}..{:#x}", s.0, e.0)?;
        }
        for w in &self.warnings {
            writeln!(out, "warning:       {}", w.text)?;
        }
        Ok(())
    }
}

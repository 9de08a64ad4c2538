//! VMware suspend (`.vmss`) and snapshot (`.vmsn`) checkpoints and their memory
//! files (`.vmem`), read as a dump: guest memory through the `memory` group's
//! regions, vCPU registers from the `cpu` group as PRSTATUS notes.

mod cpu;
mod memory_group;
mod regions;
mod tags;

pub(crate) use regions::VmwareBody;
pub(crate) use tags::is_checkpoint;

use crate::error::{Context, DumpError};
use crate::memory::{Body, DumpInfo, Format};
use crate::notes::Note;
use crate::source::{Backing, Source};
use regions::PAGE_SIZE;
use std::path::Path;
use tags::Checkpoint;

/// True for a file named as a VMware memory file: it has no header to sniff.
pub(crate) fn is_memory_file_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("vmem"))
}

/// Opens a checkpoint; its memory is inline, or in `memory_file` (given), or in the
/// `.vmem` beside `path`.
pub(crate) fn open_checkpoint(
    source: Source,
    path: &Path,
    memory_file: Option<&Path>,
    ctx: &Context,
) -> Result<(Body, DumpInfo, Vec<Note>), DumpError> {
    let checkpoint = Checkpoint::read(&source, ctx)?;
    let mut warnings = Vec::new();
    let memory = memory_group::read(&checkpoint, &source, ctx)?;
    let (cpu_count, notes) = cpu::read(&checkpoint, &source, &mut warnings);
    let body = match memory.inline {
        Some((offset, len)) => {
            let regions = memory.regions(len, ctx, &mut warnings)?;
            VmwareBody::new(source, offset, len, regions)
        }
        None => {
            let vmem = memory_file.map_or_else(|| path.with_extension("vmem"), Path::to_path_buf);
            let blob = map(&vmem).map_err(|e| {
                ctx.format(
                    memory.group_at,
                    format!(
                        "the guest memory is not inside this checkpoint (no Memory block in group \"memory\") \
                         and its memory file {} cannot be opened ({e}): copy the .vmem beside it under that name",
                        vmem.display()
                    ),
                )
            })?;
            let len = blob.len() as u64;
            let regions = memory.regions(len, ctx, &mut warnings)?;
            VmwareBody::new(Source::File(blob), 0, len, regions)
        }
    };
    let format = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("vmsn"))
    {
        Format::VmwareVmsn
    } else {
        Format::VmwareVmss
    };
    finish(format, body, cpu_count, notes, warnings)
}

/// Opens a `.vmem` given on its own: with the checkpoint beside it (`<stem>.vmss`,
/// else `<stem>.vmsn`, as volatility looks) for regions and registers, else laid out
/// by [`regions::default_layout`] with no CPU state.
pub(crate) fn open_memory_file(
    blob: Backing,
    path: &Path,
    ctx: &Context,
) -> Result<(Body, DumpInfo, Vec<Note>), DumpError> {
    for ext in ["vmss", "vmsn"] {
        let meta = path.with_extension(ext);
        if let Ok(map) = map(&meta) {
            let meta_ctx = Context { path: meta.clone() };
            let (body, mut info, notes) =
                open_checkpoint(Source::File(map), &meta, Some(path), &meta_ctx)?;
            info.format = Format::VmwareVmem;
            return Ok((body, info, notes));
        }
    }
    let len = blob.len() as u64;
    if len == 0 {
        return Err(ctx.format(0, "empty VMware memory file"));
    }
    let mut warnings = vec![format!(
        "no {} or .vmsn beside this memory file: no CPU state (the CPUs' stacks cannot be \
         unwound; tasks' saved stacks can)",
        path.with_extension("vmss").display()
    )];
    if regions::default_layout_guesses(len) {
        warnings.push(
            "without the checkpoint's regions, memory past 3 GiB of the file is assumed to \
             sit at 4 GiB and up, above VMware's PCI hole"
                .into(),
        );
    }
    let body = VmwareBody::new(Source::File(blob), 0, len, regions::default_layout(len));
    finish(Format::VmwareVmem, body, None, Vec::new(), warnings)
}

fn finish(
    format: Format,
    body: VmwareBody,
    cpus: Option<u32>,
    notes: Vec<Note>,
    mut warnings: Vec<String>,
) -> Result<(Body, DumpInfo, Vec<Note>), DumpError> {
    if let Some((start, end)) = body.missing_ranges().first() {
        warnings.push(format!(
            "the memory ends before the data of guest physical {start:#x}..{end:#x} (and maybe more): \
             the memory file is cut short"
        ));
    }
    let info = DumpInfo {
        format,
        format_version: None,
        flattened: false,
        page_size: PAGE_SIZE,
        // Checkpoints of x86-64 guests are the only ones whose registers are read.
        arch: Some("x86_64".into()),
        dump_level: None,
        header_release: None,
        header_time: None,
        header_cpus: cpus,
        phys_base: None,
        max_pfn: body.max_pfn(),
        vmcoreinfo_source: None,
        warnings,
    };
    Ok((Body::Vmware(body), info, notes))
}

fn map(path: &Path) -> std::io::Result<Backing> {
    let file = std::fs::File::open(path)?;
    // SAFETY: read-only map; changing bytes can only give wrong data, which every
    // reader already treats as untrusted.
    Ok(Backing::Map(unsafe { memmap2::Mmap::map(&file) }?))
}

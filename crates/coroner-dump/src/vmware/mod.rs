//! VMware suspend (`.vmss`) and snapshot (`.vmsn`) checkpoints and their memory
//! files (`.vmem`), read as a dump: guest memory through the `memory` group's
//! regions, vCPU registers from the `cpu` group as PRSTATUS notes.

mod cpu;
mod regions;
mod tags;

pub(crate) use regions::VmwareBody;
pub(crate) use tags::is_checkpoint;

use crate::error::{Context, DumpError};
use crate::memory::{Body, DumpInfo, Format};
use crate::notes::Note;
use crate::source::{Backing, Source};
use regions::{Region, PAGE_SIZE};
use std::path::Path;
use tags::{Checkpoint, Tag, Value};

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
    let memory = read_memory_group(&checkpoint, &source, ctx)?;
    let (cpu_count, notes) = read_cpu_group(&checkpoint, &source, &mut warnings);
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

/// What the `memory` group says.
#[derive(Default)]
struct MemoryGroup {
    group_at: u64,
    /// File offset and size of the `Memory` block, when memory is inline.
    inline: Option<(u64, u64)>,
    count: Option<u64>,
    /// (ppn, page_num, size) by region index, as the tags give them.
    regions: std::collections::BTreeMap<u32, [Option<u64>; 3]>,
}

impl MemoryGroup {
    /// Regions from the tags, checked, or the default layout when the file has none
    /// (crash then reads memory flat; volatility refuses).
    fn regions(
        &self,
        blob_len: u64,
        ctx: &Context,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Region>, DumpError> {
        let listed: Vec<Region> = self
            .regions
            .values()
            .filter_map(|[ppn, page_num, pages]| {
                Some(Region {
                    ppn: (*ppn)?,
                    // "may be omitted if there is only one region" (Rekall)
                    page_num: page_num.unwrap_or(0),
                    pages: (*pages)?,
                })
            })
            .collect();
        if listed.len() != self.regions.len() {
            return Err(ctx.format(
                self.group_at,
                "a region lacks its regionPPN or regionSize tag",
            ));
        }
        if let Some(count) = self.count.filter(|&c| c > 0 && c != listed.len() as u64) {
            return Err(ctx.format(
                self.group_at,
                format!(
                    "regionsCount is {count} but {} regions are described",
                    listed.len()
                ),
            ));
        }
        if listed.is_empty() {
            warnings.push("the checkpoint lists no memory regions: memory is read flat".into());
            if regions::default_layout_guesses(blob_len) {
                warnings.push(
                    "memory past 3 GiB of the file is assumed to sit at 4 GiB and up, above \
                     VMware's PCI hole"
                        .into(),
                );
            }
            return Ok(regions::default_layout(blob_len));
        }
        regions::validate(listed).map_err(|why| ctx.format(self.group_at, why))
    }
}

fn read_memory_group(
    checkpoint: &Checkpoint,
    source: &Source,
    ctx: &Context,
) -> Result<MemoryGroup, DumpError> {
    let group = checkpoint
        .group("memory")
        .ok_or_else(|| ctx.format(12, "the checkpoint has no \"memory\" group"))?;
    let mut memory = MemoryGroup {
        group_at: group.offset,
        ..MemoryGroup::default()
    };
    let mut walk = checkpoint.tags(source, group);
    for tag in walk.by_ref() {
        let tag = tag.map_err(|(at, why)| ctx.format(at, why))?;
        take_memory_tag(&mut memory, &tag, source, ctx)?;
    }
    // A cut inline Memory block is partly readable; any other cut tag is damage.
    if walk.cut_short() && memory.inline.is_none() {
        return Err(ctx.format(
            walk.position(),
            "the \"memory\" group's last tag runs past the end of the file",
        ));
    }
    Ok(memory)
}

fn take_memory_tag(
    memory: &mut MemoryGroup,
    tag: &Tag,
    source: &Source,
    ctx: &Context,
) -> Result<(), DumpError> {
    let slot = match tag.name.as_str() {
        "Memory" => {
            let Value::Block {
                offset,
                in_memory,
                compressed,
                stored,
            } = tag.value
            else {
                return Err(ctx.format(tag.at, "tag Memory is not a block"));
            };
            if compressed {
                return Err(ctx.format(
                    tag.at,
                    "compressed guest memory (tag Memory is a compressed block) is not supported: \
                     no reader documents its compression",
                ));
            }
            if stored != in_memory {
                return Err(ctx.format(
                    tag.at,
                    format!("tag Memory stores {stored} bytes but says it holds {in_memory}"),
                ));
            }
            memory.inline = Some((offset, in_memory));
            return Ok(());
        }
        "regionsCount" => {
            memory.count = tag.number(source);
            return Ok(());
        }
        "regionPPN" => 0,
        "regionPageNum" => 1,
        "regionSize" => 2,
        _ => return Ok(()),
    };
    let (Some(i), Some(value)) = (tag.index(0), tag.number(source)) else {
        return Err(ctx.format(
            tag.at,
            format!("region tag {} has no index or no number", tag.label()),
        ));
    };
    // A file cannot hold more regions than it has tags: the map grows with the input.
    let entry = memory.regions.entry(i).or_default();
    if entry[slot].replace(value).is_some() {
        return Err(ctx.format(tag.at, format!("region tag {} appears twice", tag.label())));
    }
    Ok(())
}

fn read_cpu_group(
    checkpoint: &Checkpoint,
    source: &Source,
    warnings: &mut Vec<String>,
) -> (Option<u32>, Vec<Note>) {
    let Some(group) = checkpoint.group("cpu") else {
        warnings.push("the checkpoint has no \"cpu\" group: no vCPU registers".into());
        return (None, Vec::new());
    };
    let mut cpus = cpu::Cpus::default();
    let mut walk = checkpoint.tags(source, group);
    for tag in walk.by_ref() {
        match tag {
            Ok(tag) => cpus.take(&tag, source),
            Err((at, why)) => {
                warnings.push(format!("cpu group at offset {at:#x}: {why}"));
                break;
            }
        }
    }
    if walk.cut_short() {
        warnings.push(format!(
            "cpu group: the last tag runs past the end of the file (to offset {:#x})",
            walk.position()
        ));
    }
    let notes = cpus.notes();
    warnings.append(&mut cpus.warnings);
    (cpus.count, notes)
}

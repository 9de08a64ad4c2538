//! The `memory` group: where guest memory is (an inline `Memory` block, else the
//! `.vmem`) and the regions that map guest pages to its pages.

use super::regions::{self, Region};
use super::tags::{Checkpoint, Tag, Value};
use crate::error::{Context, DumpError};
use crate::source::Source;
use std::collections::BTreeMap;

/// What the `memory` group says.
#[derive(Default)]
pub(super) struct MemoryGroup {
    pub group_at: u64,
    /// File offset and size of the `Memory` block, when memory is inline.
    pub inline: Option<(u64, u64)>,
    count: Option<u64>,
    /// (ppn, page_num, size) by region index, as the tags give them.
    regions: BTreeMap<u32, [Option<u64>; 3]>,
}

impl MemoryGroup {
    /// Regions from the tags, checked, or the default layout when the file has none
    /// (crash then reads memory flat; volatility refuses).
    pub(super) fn regions(
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

pub(super) fn read(
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

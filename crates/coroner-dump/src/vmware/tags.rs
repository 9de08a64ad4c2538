//! The checkpoint container shared by `.vmss` (suspend) and `.vmsn` (snapshot): a
//! 12-byte header (magic, version, group count), a table of 80-byte group
//! descriptors (name, offset, size), and per group a stream of tags ended by a zero
//! `u16`. The format is undocumented; this follows what crash's `vmware_vmss.c` and
//! volatility's VMware layers read (see `../shared/research/vmware.md`, §1).

use crate::error::{Context, DumpError};
use crate::source::Source;

/// 64-bit checkpoints, as every reader accepts them.
const MAGICS_64: [u32; 4] = [0xbed2_bed2, 0xbed3_bed3, 0xbad1_bad1, 0xbad2_bad2];
/// Version-0 layout: block sizes are `u32` (volatility reads it; crash refuses it).
const MAGIC_V0: u32 = 0xbed2_bed0;
/// What 32-bit hosts wrote; no open reader documents its tag layout.
const MAGIC_32BIT: u32 = 0xbed0_bed0;

const HEADER_LEN: u64 = 12;
const GROUP_LEN: u64 = 80;
const GROUP_NAME_LEN: usize = 64;
/// Value sizes 62 (compressed) and 63 mark blocks; 0..=61 are inline values.
const BLOCK_COMPRESSED: u8 = 62;

/// True when `head` starts with a checkpoint magic (including the refused 32-bit one,
/// so that it is reported as a VMware file rather than "not a dump").
pub(crate) fn is_checkpoint(head: &[u8]) -> bool {
    head.get(..4)
        .map(|m| u32::from_le_bytes(m.try_into().expect("4 bytes")))
        .is_some_and(|m| MAGICS_64.contains(&m) || m == MAGIC_V0 || m == MAGIC_32BIT)
}

#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub name: String,
    /// File offset of the group's first tag.
    pub offset: u64,
}

/// The header and group table.
pub(crate) struct Checkpoint {
    pub magic: u32,
    pub groups: Vec<Group>,
}

impl Checkpoint {
    pub fn read(source: &Source, ctx: &Context) -> Result<Checkpoint, DumpError> {
        let header = source.bytes(0, HEADER_LEN as usize).ok_or_else(|| {
            ctx.format(
                source.len(),
                "file ends inside the 12-byte VMware checkpoint header",
            )
        })?;
        let word = |o: usize| u32::from_le_bytes(header[o..o + 4].try_into().expect("4 bytes"));
        let (magic, count) = (word(0), word(8));
        if magic == MAGIC_32BIT {
            return Err(ctx.format(
                0,
                "VMware checkpoint of a 32-bit host (magic 0xbed0bed0) is not supported: only 64-bit checkpoints are read",
            ));
        }
        let table_len = u64::from(count) * GROUP_LEN;
        if HEADER_LEN + table_len > source.len() {
            return Err(ctx.format(
                8,
                format!(
                    "{count} groups need a {table_len}-byte group table, past the end of the {}-byte file",
                    source.len()
                ),
            ));
        }
        let table = source
            .bytes(HEADER_LEN, table_len as usize)
            .ok_or_else(|| ctx.format(HEADER_LEN, "group table cannot be read"))?;
        let groups = table
            .chunks_exact(GROUP_LEN as usize)
            .map(|g| {
                let name = &g[..GROUP_NAME_LEN];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                Group {
                    name: String::from_utf8_lossy(name).into_owned(),
                    offset: u64::from_le_bytes(g[64..72].try_into().expect("8 bytes")),
                }
            })
            .collect();
        Ok(Checkpoint { magic, groups })
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Walks a group's tags from its first to its end marker.
    pub fn tags<'s>(&self, source: &'s Source, group: &Group) -> Tags<'s> {
        Tags {
            source,
            group: group.name.clone(),
            pos: group.offset,
            sizes_u32: self.magic == MAGIC_V0,
            done: false,
        }
    }
}

/// Where a tag's value lies in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value {
    /// 0..=61 bytes stored right after the tag's indices.
    Inline { offset: u64, len: u8 },
    /// `stored` bytes at `offset`; `in_memory` bytes once decompressed.
    Block {
        offset: u64,
        stored: u64,
        in_memory: u64,
        compressed: bool,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Tag {
    pub name: String,
    pub indices: Vec<u32>,
    /// File offset of the tag's header, for messages.
    pub at: u64,
    pub value: Value,
}

impl Tag {
    /// An inline value as a little-endian number (values longer than 8 bytes are
    /// not numbers: `None`).
    pub fn number(&self, source: &Source) -> Option<u64> {
        let Value::Inline { offset, len } = self.value else {
            return None;
        };
        let bytes = source.bytes(offset, usize::from(len).min(9))?;
        (bytes.len() <= 8).then(|| {
            let mut word = [0u8; 8];
            word[..bytes.len()].copy_from_slice(&bytes);
            u64::from_le_bytes(word)
        })
    }

    pub fn index(&self, i: usize) -> Option<u32> {
        self.indices.get(i).copied()
    }

    /// `name[i][j]` as tools print it.
    pub fn label(&self) -> String {
        let idx: String = self.indices.iter().map(|i| format!("[{i}]")).collect();
        format!("{}{idx}", self.name)
    }
}

/// The tags of one group. Each step consumes at least two bytes of the file and a
/// step past the end of the file is an error, so the walk is bounded by its size.
pub(crate) struct Tags<'s> {
    source: &'s Source,
    group: String,
    pos: u64,
    sizes_u32: bool,
    done: bool,
}

impl Tags<'_> {
    fn read(&self, at: u64, len: usize, what: &str) -> Result<Vec<u8>, (u64, String)> {
        self.source
            .bytes(at, len)
            .map(|b| b.into_owned())
            .ok_or_else(|| {
                (
                    at,
                    format!(
                        "file ends inside {what} of group \"{}\" (no end-of-group marker before)",
                        self.group
                    ),
                )
            })
    }

    fn next_tag(&mut self) -> Result<Option<Tag>, (u64, String)> {
        let at = self.pos;
        let head = self.read(at, 2, "a tag header")?;
        let (flags, name_len) = (head[0], head[1]);
        if flags == 0 && name_len == 0 {
            return Ok(None);
        }
        let nindx = usize::from(flags >> 6);
        let valsize = flags & 0x3f;
        let mut pos = at + 2;
        let name = self.read(pos, name_len.into(), "a tag name")?;
        pos += u64::from(name_len);
        let name = String::from_utf8_lossy(&name).into_owned();
        let raw = self.read(pos, 4 * nindx, "a tag's indices")?;
        pos += 4 * nindx as u64;
        let indices = raw
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        let value = if valsize >= BLOCK_COMPRESSED {
            let word = if self.sizes_u32 { 4 } else { 8 };
            let sizes = self.read(pos, 2 * word + 2, "a block header")?;
            let size = |o: usize| {
                let mut w = [0u8; 8];
                w[..word].copy_from_slice(&sizes[o..o + word]);
                u64::from_le_bytes(w)
            };
            let (stored, in_memory) = (size(0), size(word));
            let pad = u16::from_le_bytes([sizes[2 * word], sizes[2 * word + 1]]);
            let offset = pos + 2 * word as u64 + 2 + u64::from(pad);
            pos = offset
                .checked_add(stored)
                .ok_or_else(|| (at, format!("tag {name}: block of {stored} bytes overflows")))?;
            Value::Block {
                offset,
                stored,
                in_memory,
                compressed: valsize == BLOCK_COMPRESSED,
            }
        } else {
            let value = Value::Inline {
                offset: pos,
                len: valsize,
            };
            pos += u64::from(valsize);
            value
        };
        // A value running past the end of the file ends the walk, but the tag is
        // still returned: a cut inline memory block is partly readable. Callers ask
        // `cut_short` for it.
        self.done = pos > self.source.len();
        self.pos = pos;
        Ok(Some(Tag {
            name,
            indices,
            at,
            value,
        }))
    }

    /// The position after the last tag read: where the walk stopped.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// True when the last tag's value runs past the end of the file.
    pub fn cut_short(&self) -> bool {
        self.done && self.pos > self.source.len()
    }
}

impl Iterator for Tags<'_> {
    /// A tag, or where and why the stream is broken (the walk then stops).
    type Item = Result<Tag, (u64, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_tag() {
            Ok(Some(tag)) => Some(Ok(tag)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Backing;
    use std::path::PathBuf;

    /// One group named "g" whose tags are `tags`, behind `magic`.
    fn file(magic: u32, tags: &[u8]) -> Source {
        let mut v = magic.to_le_bytes().to_vec();
        v.extend(0u32.to_le_bytes());
        v.extend(1u32.to_le_bytes());
        let mut name = [0u8; 64];
        name[0] = b'g';
        v.extend(name);
        v.extend((12u64 + 80).to_le_bytes());
        v.extend((tags.len() as u64).to_le_bytes());
        v.extend(tags);
        Source::File(Backing::Owned(v))
    }

    fn walk(source: &Source) -> Vec<Result<Tag, (u64, String)>> {
        let ctx = Context {
            path: PathBuf::from("t.vmss"),
        };
        let checkpoint = Checkpoint::read(source, &ctx).unwrap();
        let group = checkpoint.group("g").unwrap().clone();
        checkpoint.tags(source, &group).collect()
    }

    #[test]
    fn version_0_blocks_have_32_bit_sizes_and_pads_are_skipped() {
        // block "B"[5], sizes u32 3/3, pad 2; then scalar "s" = 0x0102; end.
        let mut tags = vec![0x40 | 63, 1, b'B', 5, 0, 0, 0];
        tags.extend([3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0xee, 0xee, 7, 8, 9]);
        tags.extend([2, 1, b's', 2, 1, 0, 0]);
        let source = file(MAGIC_V0, &tags);
        let got = walk(&source);
        assert_eq!(got.len(), 2);
        let block = got[0].as_ref().unwrap();
        assert_eq!((block.label().as_str(), block.at), ("B[5]", 92));
        let data_at = 92 + 7 + 10 + 2;
        assert_eq!(
            block.value,
            Value::Block {
                offset: data_at,
                stored: 3,
                in_memory: 3,
                compressed: false
            }
        );
        assert_eq!(source.bytes(data_at, 3).unwrap().as_ref(), [7, 8, 9]);
        assert_eq!(got[1].as_ref().unwrap().number(&source), Some(0x0102));
    }

    #[test]
    fn a_stream_without_its_end_marker_is_an_error_where_it_stops() {
        let source = file(0xbed2_bed2, &[2, 1, b's', 2, 1]);
        let got = walk(&source);
        assert_eq!(got.len(), 2, "the tag, then the error");
        let (at, why) = got[1].as_ref().unwrap_err();
        assert_eq!(*at, 92 + 5);
        assert!(why.contains("no end-of-group marker"), "{why}");
        let ctx = Context {
            path: PathBuf::from("t.vmss"),
        };
        let err = Checkpoint::read(&file(0xbed0_bed0, &[]), &ctx)
            .err()
            .unwrap();
        assert!(err.to_string().contains("32-bit"), "{err}");
    }
}

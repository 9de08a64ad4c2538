//! The fixed structures of a kdump-compressed file, at their offsets for 64-bit
//! writers (makedumpfile's `disk_dump_header`, `kdump_sub_header`, `page_desc_t`).

use crate::compress::Compression;
use crate::error::{Context, DumpError};
use crate::source::Source;

pub(crate) const SIGNATURE: &[u8] = b"KDUMP   ";
pub const DESC_SIZE: u64 = 24;
pub const STATUS_INCOMPLETE: u32 = 0x8;

const OFF_VERSION: usize = 8;
const OFF_UTSNAME: usize = 12;
const UTS_FIELD: usize = 65;
const OFF_TIMESTAMP: usize = 408;
const OFF_STATUS: usize = 424;
const OFF_BLOCK_SIZE: usize = 428;
const OFF_SUB_HDR_SIZE: usize = 432;
pub const OFF_BITMAP_BLOCKS: usize = 436;
const OFF_MAX_MAPNR: usize = 440;
const OFF_NR_CPUS: usize = 460;
const HEADER_LEN: usize = 464;
const SUB_HEADER_LEN: usize = 104;

const FLAG_ZLIB: u32 = 0x1;
const FLAG_LZO: u32 = 0x2;
const FLAG_SNAPPY: u32 = 0x4;
const FLAG_ZSTD: u32 = 0x20;

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

fn c_string(b: &[u8]) -> String {
    String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or(&[])).into_owned()
}

pub struct Header {
    pub version: u32,
    pub release: String,
    pub machine: String,
    pub timestamp: i64,
    pub status: u32,
    pub block_size: u32,
    pub sub_hdr_size: u32,
    pub bitmap_blocks: u32,
    pub max_mapnr: u32,
    pub nr_cpus: i32,
}

impl Header {
    pub fn parse(source: &Source, ctx: &Context) -> Result<Header, DumpError> {
        let b = source.bytes(0, HEADER_LEN).ok_or_else(|| {
            ctx.format(
                source.len(),
                format!("file ends inside the {HEADER_LEN}-byte kdump header"),
            )
        })?;
        let uts =
            |i: usize| c_string(&b[OFF_UTSNAME + i * UTS_FIELD..OFF_UTSNAME + (i + 1) * UTS_FIELD]);
        let h = Header {
            version: u32_at(&b, OFF_VERSION),
            release: uts(2),
            machine: uts(4),
            timestamp: u64_at(&b, OFF_TIMESTAMP) as i64,
            status: u32_at(&b, OFF_STATUS),
            block_size: u32_at(&b, OFF_BLOCK_SIZE),
            sub_hdr_size: u32_at(&b, OFF_SUB_HDR_SIZE),
            bitmap_blocks: u32_at(&b, OFF_BITMAP_BLOCKS),
            max_mapnr: u32_at(&b, OFF_MAX_MAPNR),
            nr_cpus: u32_at(&b, OFF_NR_CPUS) as i32,
        };
        if !(1..=6).contains(&h.version) {
            return Err(ctx.format(
                OFF_VERSION as u64,
                format!("kdump header version {} (expected 1 to 6)", h.version),
            ));
        }
        if !h.block_size.is_power_of_two() || !(512..=65536).contains(&h.block_size) {
            return Err(ctx.format(
                OFF_BLOCK_SIZE as u64,
                format!(
                    "block size {} (expected a power of two from 512 to 65536)",
                    h.block_size
                ),
            ));
        }
        if h.sub_hdr_size > 1 << 16 {
            return Err(ctx.format(
                OFF_SUB_HDR_SIZE as u64,
                format!("sub-header of {} blocks is implausible", h.sub_hdr_size),
            ));
        }
        if h.bitmap_blocks == 0 || !h.bitmap_blocks.is_multiple_of(2) {
            return Err(ctx.format(
                OFF_BITMAP_BLOCKS as u64,
                format!(
                    "{} bitmap blocks (expected a non-zero even count: two bitmaps)",
                    h.bitmap_blocks
                ),
            ));
        }
        Ok(h)
    }
}

pub struct SubHeader {
    pub phys_base: u64,
    pub dump_level: u32,
    /// `(start_pfn, end_pfn)` when this file is one part of a split dump.
    pub split: Option<(u64, u64)>,
    pub vmcoreinfo: Option<(u64, u64)>,
    pub notes: Option<(u64, u64)>,
    pub max_mapnr_64: Option<u64>,
}

impl SubHeader {
    pub fn parse(source: &Source, h: &Header, ctx: &Context) -> Result<SubHeader, DumpError> {
        let at = u64::from(h.block_size);
        let b = source.bytes(at, SUB_HEADER_LEN).ok_or_else(|| {
            ctx.format(
                at,
                format!("file ends inside the {SUB_HEADER_LEN}-byte kdump sub-header"),
            )
        })?;
        let v = h.version;
        let area = |o: usize| {
            Some((u64_at(&b, o), u64_at(&b, o + 8))).filter(|&(off, size)| off > 0 && size > 0)
        };
        let split = u32_at(&b, 12) != 0 && v >= 2;
        let (start, end) = if v >= 6 {
            (u64_at(&b, 80), u64_at(&b, 88))
        } else {
            (u64_at(&b, 16), u64_at(&b, 24))
        };
        let max_mapnr_64 = (v >= 6).then(|| u64_at(&b, 96));
        if max_mapnr_64.is_some_and(|m| m > 1 << 40) {
            return Err(ctx.format(
                at + 96,
                format!(
                    "max_mapnr_64 {:#x} is beyond any machine",
                    max_mapnr_64.unwrap_or(0)
                ),
            ));
        }
        Ok(SubHeader {
            phys_base: u64_at(&b, 0),
            dump_level: u32_at(&b, 8),
            split: split.then_some((start, end)),
            vmcoreinfo: if v >= 3 { area(32) } else { None },
            notes: if v >= 4 { area(48) } else { None },
            max_mapnr_64,
        })
    }
}

/// One stored page: where its data is, how long, and how it is compressed.
pub struct Descriptor {
    pub offset: u64,
    pub size: u32,
    pub flags: u32,
}

impl Descriptor {
    pub fn parse(raw: &[u8]) -> Descriptor {
        Descriptor {
            offset: u64_at(raw, 0),
            size: u32_at(raw, 8),
            flags: u32_at(raw, 12),
        }
    }

    pub fn compression(&self) -> Result<Compression, String> {
        match self.flags & (FLAG_ZLIB | FLAG_LZO | FLAG_SNAPPY | FLAG_ZSTD) {
            0 => Ok(Compression::None),
            FLAG_ZLIB => Ok(Compression::Zlib),
            FLAG_LZO => Ok(Compression::Lzo),
            FLAG_SNAPPY => Ok(Compression::Snappy),
            FLAG_ZSTD => Ok(Compression::Zstd),
            other => Err(format!(
                "page descriptor names several compressions (flags {other:#x})"
            )),
        }
    }
}

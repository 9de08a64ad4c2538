//! The fixed parts of a kdump-compressed file (header version 6), laid out as
//! makedumpfile's `disk_dump_header` and `kdump_sub_header` on 64-bit machines, and
//! the geometry that follows from them.

use coroner_dump::{Compression, Note};

pub const SIGNATURE: &[u8; 8] = b"KDUMP   ";
pub const HEADER_VERSION: u32 = 6;
pub const HEADER_SIZE: usize = 464;
pub const SUB_HEADER_SIZE: u64 = 104;
pub const DESC_SIZE: u64 = 24;
pub const OFF_STATUS: u64 = 424;
pub const STATUS_INCOMPLETE: u32 = 0x8;
const UTS_FIELD: usize = 65;

/// Descriptor flags naming the codec (`DUMP_DH_COMPRESSED_*`).
pub fn codec_flag(kind: Compression) -> u32 {
    match kind {
        Compression::None => 0,
        Compression::Zlib => 0x1,
        Compression::Lzo => 0x2,
        Compression::Snappy => 0x4,
        Compression::Zstd => 0x20,
    }
}

/// What goes into the headers.
pub struct HeaderInfo {
    /// `struct new_utsname`: sysname, nodename, release, version, machine, domainname.
    pub utsname: [String; 6],
    pub timestamp: i64,
    pub compression: Compression,
    pub page_size: u64,
    pub max_mapnr: u64,
    pub nr_cpus: u32,
    pub phys_base: u64,
    pub dump_level: u8,
    /// The ELF notes, as a PT_NOTE segment holds them.
    pub notes: Vec<u8>,
    /// Offset and size of VMCOREINFO's text within `notes`.
    pub vmcoreinfo: Option<(u64, u64)>,
}

/// Where everything is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub block_size: u64,
    pub sub_hdr_blocks: u64,
    pub bitmap_offset: u64,
    /// Bytes of one bitmap (block-aligned).
    pub bitmap_half: u64,
    pub desc_offset: u64,
    pub data_offset: u64,
}

impl Geometry {
    pub fn new(page_size: u64, notes_len: u64, max_mapnr: u64, dumpable: u64) -> Geometry {
        let bs = page_size;
        let sub_hdr_blocks = (SUB_HEADER_SIZE + notes_len).div_ceil(bs);
        let bitmap_offset = bs * (1 + sub_hdr_blocks);
        let bitmap_half = max_mapnr.div_ceil(8).div_ceil(bs).max(1) * bs;
        let desc_offset = bitmap_offset + 2 * bitmap_half;
        Geometry {
            block_size: bs,
            sub_hdr_blocks,
            bitmap_offset,
            bitmap_half,
            desc_offset,
            data_offset: desc_offset + DESC_SIZE * dumpable,
        }
    }

    pub fn note_offset(&self) -> u64 {
        self.block_size + SUB_HEADER_SIZE
    }
}

/// Serialises notes as an ELF PT_NOTE segment does (4-byte aligned name and desc).
pub fn note_blob(notes: &[Note]) -> (Vec<u8>, Option<(u64, u64)>) {
    let mut out = Vec::new();
    let mut vmcoreinfo = None;
    let pad = |v: &mut Vec<u8>| v.resize(v.len().div_ceil(4) * 4, 0);
    for n in notes {
        let name_len = n.name.len() + 1;
        out.extend_from_slice(&(name_len as u32).to_le_bytes());
        out.extend_from_slice(&(n.desc.len() as u32).to_le_bytes());
        out.extend_from_slice(&n.kind.to_le_bytes());
        out.extend_from_slice(n.name.as_bytes());
        out.push(0);
        pad(&mut out);
        if n.is_vmcoreinfo() {
            vmcoreinfo = Some((out.len() as u64, n.desc.len() as u64));
        }
        out.extend_from_slice(&n.desc);
        pad(&mut out);
    }
    (out, vmcoreinfo)
}

/// Block 0: the main header.
pub fn main_header(h: &HeaderInfo, g: &Geometry, status: u32) -> Vec<u8> {
    let mut b = vec![0u8; g.block_size as usize];
    b[..8].copy_from_slice(SIGNATURE);
    b[8..12].copy_from_slice(&HEADER_VERSION.to_le_bytes());
    for (i, field) in h.utsname.iter().enumerate() {
        let at = 12 + i * UTS_FIELD;
        let bytes = field.as_bytes();
        let n = bytes.len().min(UTS_FIELD - 1);
        b[at..at + n].copy_from_slice(&bytes[..n]);
    }
    b[408..416].copy_from_slice(&h.timestamp.to_le_bytes());
    b[424..428].copy_from_slice(&(status | codec_flag(h.compression)).to_le_bytes());
    b[428..432].copy_from_slice(&(g.block_size as u32).to_le_bytes());
    b[432..436].copy_from_slice(&(g.sub_hdr_blocks as u32).to_le_bytes());
    let bitmap_blocks = 2 * g.bitmap_half / g.block_size;
    b[436..440].copy_from_slice(&(bitmap_blocks as u32).to_le_bytes());
    b[440..444].copy_from_slice(&(h.max_mapnr.min(u64::from(u32::MAX)) as u32).to_le_bytes());
    b[460..464].copy_from_slice(&h.nr_cpus.to_le_bytes());
    b
}

/// Block 1 on: the sub-header, then the notes.
pub fn sub_header(h: &HeaderInfo, g: &Geometry) -> Vec<u8> {
    let mut b = vec![0u8; (g.sub_hdr_blocks * g.block_size) as usize];
    let put = |b: &mut Vec<u8>, at: usize, v: u64| b[at..at + 8].copy_from_slice(&v.to_le_bytes());
    put(&mut b, 0, h.phys_base);
    b[8..12].copy_from_slice(&u32::from(h.dump_level).to_le_bytes());
    let note_at = g.note_offset();
    if let Some((off, size)) = h.vmcoreinfo {
        put(&mut b, 32, note_at + off);
        put(&mut b, 40, size);
    }
    put(&mut b, 48, note_at);
    put(&mut b, 56, h.notes.len() as u64);
    put(&mut b, 96, h.max_mapnr);
    let n = SUB_HEADER_SIZE as usize;
    b[n..n + h.notes.len()].copy_from_slice(&h.notes);
    b
}

/// One page descriptor.
pub fn descriptor(offset: u64, size: u32, flags: u32) -> [u8; DESC_SIZE as usize] {
    let mut d = [0u8; DESC_SIZE as usize];
    d[..8].copy_from_slice(&offset.to_le_bytes());
    d[8..12].copy_from_slice(&size.to_le_bytes());
    d[12..16].copy_from_slice(&flags.to_le_bytes());
    d
}

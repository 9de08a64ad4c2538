//! An LZO1X encoder for single pages. No Rust crate has a fast permissively licensed
//! one: `lzokay-native` clears a ~300 KiB dictionary per call (slower than the page
//! it compresses) and `lzo1x` is GPL. This is a greedy single-probe hash matcher
//! like `lzo1x_1_compress`, writing the stream format of the kernel's
//! Documentation/staging/lzo.rst (the one coroner-dump's decoder reads):
//!
//! - first literal run of 1..=238 bytes: one byte `17 + n`;
//! - later literal runs of 4+ bytes: `0000LLLL` (+ zero-extended length);
//! - up to 3 literals after a match go in that match's two low `S` bits;
//! - matches: M2 (3..=8 bytes, distance ≤ 2048), M3 (distance ≤ 16384), M4 (farther);
//! - end: M4 with distance 16384 (`0x11 0x00 0x00`).

/// Shortest match worth coding (the hash covers 4 bytes).
const MIN_MATCH: usize = 4;
const M2_MAX_LEN: usize = 8;
const M2_MAX_DIST: usize = 2048;
const M3_MAX_DIST: usize = 16384;
const M4_MAX_DIST: usize = 49151;
const HASH_BITS: u32 = 12;

/// Reusable state: the hash table holds `epoch << 16 | position`, so a new page
/// needs no clearing until the epoch wraps.
pub struct Lzo1x1 {
    table: Vec<u32>,
    epoch: u32,
}

fn read32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"))
}

/// Length of the common prefix of `a` and `b`, eight bytes at a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().expect("8 bytes"))
            ^ u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if x != 0 {
            return i + (x.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

fn hash(v: u32) -> usize {
    (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

/// Writes to a bounded buffer; `None` once it is full (the page then goes raw).
struct Out<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Out<'_> {
    fn byte(&mut self, b: u8) -> Option<()> {
        *self.buf.get_mut(self.pos)? = b;
        self.pos += 1;
        Some(())
    }

    fn bytes(&mut self, b: &[u8]) -> Option<()> {
        self.buf
            .get_mut(self.pos..self.pos + b.len())?
            .copy_from_slice(b);
        self.pos += b.len();
        Some(())
    }

    /// `excess` (≥ 1) as zero bytes worth 255 each and a final non-zero byte.
    fn extended(&mut self, excess: usize) -> Option<()> {
        let zeros = (excess - 1) / 255;
        for _ in 0..zeros {
            self.byte(0)?;
        }
        self.byte((excess - zeros * 255) as u8)
    }
}

impl Lzo1x1 {
    pub fn new() -> Lzo1x1 {
        Lzo1x1 {
            table: vec![0; 1 << HASH_BITS],
            epoch: 0,
        }
    }

    /// Compresses `src` (at most 64 KiB) into `dst`; `None` if it does not fit.
    pub fn compress(&mut self, src: &[u8], dst: &mut [u8]) -> Option<usize> {
        if src.len() > 1 << 16 {
            return None;
        }
        self.epoch = (self.epoch + 1) & 0xffff;
        if self.epoch == 0 {
            self.table.fill(0);
            self.epoch = 1;
        }
        let tag = self.epoch << 16;
        let mut out = Out { buf: dst, pos: 0 };
        // Start of the literals not yet written; where the last match's S bits are.
        let mut lit = 0usize;
        let mut last_match_s: Option<usize> = None;
        let mut ip = 0usize;
        while ip + MIN_MATCH <= src.len() {
            let v = read32(src, ip);
            let h = hash(v);
            let entry = self.table[h];
            self.table[h] = tag | ip as u32;
            let cand = (entry & 0xffff) as usize;
            let hit = entry & 0xffff_0000 == tag
                && cand < ip
                && ip - cand <= M4_MAX_DIST
                && read32(src, cand) == v;
            if !hit {
                // Skip faster through data that does not compress, as lzo1x_1 does.
                ip += 1 + ((ip - lit) >> 5);
                continue;
            }
            let len = MIN_MATCH + common_prefix(&src[cand + MIN_MATCH..], &src[ip + MIN_MATCH..]);
            Self::literals(&mut out, &src[lit..ip], last_match_s, lit == 0)?;
            last_match_s = Some(Self::emit_match(&mut out, ip - cand, len)?);
            ip += len;
            lit = ip;
        }
        Self::literals(&mut out, &src[lit..], last_match_s, lit == 0)?;
        out.bytes(&[0x11, 0, 0])?;
        Some(out.pos)
    }

    /// Writes a literal run; up to 3 literals after a match go in its S bits.
    fn literals(
        out: &mut Out,
        lits: &[u8],
        last_match_s: Option<usize>,
        at_start: bool,
    ) -> Option<()> {
        let n = lits.len();
        if n == 0 {
            return Some(());
        }
        match last_match_s {
            Some(s) if n <= 3 => out.buf[s] |= n as u8,
            None if at_start && n <= 238 => out.byte(17 + n as u8)?,
            _ if n <= 18 => out.byte((n - 3) as u8)?,
            _ => {
                out.byte(0)?;
                out.extended(n - 3 - 15)?;
            }
        }
        out.bytes(lits)
    }

    /// Writes a match; returns where its S bits are.
    fn emit_match(out: &mut Out, dist: usize, len: usize) -> Option<usize> {
        if len <= M2_MAX_LEN && dist <= M2_MAX_DIST {
            let d = dist - 1;
            let inst = if len <= 4 {
                64 | ((len - 3) << 5)
            } else {
                128 | ((len - 5) << 5)
            } | ((d & 7) << 2);
            let at = out.pos;
            out.byte(inst as u8)?;
            out.byte((d >> 3) as u8)?;
            return Some(at);
        }
        let (inst, base, d) = if dist <= M3_MAX_DIST {
            (32usize, 31usize, (dist - 1) << 2)
        } else {
            let far = dist - 16384;
            (16 | ((far >> 11) & 8), 7, (far & 0x3fff) << 2)
        };
        if len - 2 <= base {
            out.byte((inst | (len - 2)) as u8)?;
        } else {
            out.byte(inst as u8)?;
            out.extended(len - 2 - base)?;
        }
        let at = out.pos;
        out.byte(d as u8)?;
        out.byte((d >> 8) as u8)?;
        Some(at)
    }
}

impl Default for Lzo1x1 {
    fn default() -> Self {
        Lzo1x1::new()
    }
}

//! makedumpfile's flattened format (`makedumpfile -F`): a 4 KiB header, then records
//! of (offset, size, data) that say where each chunk goes in the file they encode.
//! Instead of reassembling (`makedumpfile -R`), we index the records once on open and
//! read the encoded file through the index. All header integers are big-endian.

use crate::error::{Context, DumpError};
use std::collections::BTreeMap;

pub(crate) const SIGNATURE: &[u8] = b"makedumpfile\0";
const HEADER_SIZE: u64 = 4096;
const RECORD_HEADER_SIZE: u64 = 16;

/// Maps ranges of the encoded (logical) file to where their bytes sit in the stream.
/// Later records override earlier ones, as they would when reassembled.
#[derive(Debug, Default)]
pub(crate) struct FlatIndex {
    /// logical start -> (logical end, stream offset of the start)
    extents: BTreeMap<u64, (u64, u64)>,
    logical_len: u64,
    /// Set when the stream ends before its end marker (a capture cut short).
    pub truncated_at: Option<u64>,
}

impl FlatIndex {
    pub fn build(data: &[u8], ctx: &Context) -> Result<FlatIndex, DumpError> {
        let be64 = |off: u64| -> Option<i64> {
            let o = usize::try_from(off).ok()?;
            Some(i64::from_be_bytes(
                data.get(o..o.checked_add(8)?)?.try_into().ok()?,
            ))
        };
        if !data.starts_with(SIGNATURE) {
            return Err(ctx.format(0, "expected the flattened signature \"makedumpfile\""));
        }
        let (kind, version) = (be64(16), be64(24));
        if kind != Some(1) {
            return Err(ctx.format(16, format!("flattened header type {kind:?}, expected 1")));
        }
        if version != Some(1) {
            return Err(ctx.format(
                24,
                format!("flattened header version {version:?}, expected 1"),
            ));
        }
        let mut index = FlatIndex::default();
        let stream_len = data.len() as u64;
        let mut pos = HEADER_SIZE;
        loop {
            let (Some(offset), Some(size)) = (be64(pos), be64(pos + 8)) else {
                index.truncated_at = Some(pos);
                break;
            };
            if offset == -1 && size == -1 {
                break;
            }
            let (Ok(offset), Ok(size)) = (u64::try_from(offset), u64::try_from(size)) else {
                return Err(ctx.format(
                    pos,
                    format!("record with negative offset {offset} or size {size}"),
                ));
            };
            let start = pos + RECORD_HEADER_SIZE;
            let available = stream_len.saturating_sub(start).min(size);
            if available > 0 {
                let end = offset.checked_add(available).ok_or_else(|| {
                    ctx.format(
                        pos,
                        format!("record offset {offset:#x} + size {size:#x} overflows"),
                    )
                })?;
                index.insert(offset, end, start);
            }
            if available < size {
                index.truncated_at = Some(pos);
                break;
            }
            pos = start + size;
        }
        Ok(index)
    }

    fn insert(&mut self, start: u64, end: u64, stream: u64) {
        // Trim or split whatever the new extent overlaps.
        let overlapping: Vec<(u64, (u64, u64))> = self
            .extents
            .range(..end)
            .rev()
            .take_while(|(_, (e, _))| *e > start)
            .map(|(s, v)| (*s, *v))
            .collect();
        for (s, (e, st)) in overlapping {
            self.extents.remove(&s);
            if s < start {
                self.extents.insert(s, (start, st));
            }
            if e > end {
                self.extents.insert(end, (e, st + (end - s)));
            }
        }
        self.extents.insert(start, (end, stream));
        self.logical_len = self.logical_len.max(end);
    }

    pub fn logical_len(&self) -> u64 {
        self.logical_len
    }

    /// The stream offset of logical `[off, off+len)` when one record holds all of it.
    pub fn contiguous(&self, off: u64, len: u64) -> Option<u64> {
        let (s, (e, st)) = self.extents.range(..=off).next_back()?;
        (off.checked_add(len)? <= *e).then(|| st + (off - s))
    }

    /// Copies logical bytes from `off`; stops at the first gap (bytes no record wrote).
    pub fn read_at(&self, stream: &[u8], mut off: u64, buf: &mut [u8]) -> usize {
        let mut done = 0;
        while done < buf.len() {
            let Some((s, (e, st))) = self.extents.range(..=off).next_back() else {
                break;
            };
            if off >= *e {
                break;
            }
            let n = ((e - off) as usize).min(buf.len() - done);
            let from = (st + (off - s)) as usize;
            buf[done..done + n].copy_from_slice(&stream[from..from + n]);
            done += n;
            off += n as u64;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(records: &[(i64, &[u8])]) -> Vec<u8> {
        let mut v = SIGNATURE.to_vec();
        v.resize(16, 0);
        v.extend(1i64.to_be_bytes());
        v.extend(1i64.to_be_bytes());
        v.resize(HEADER_SIZE as usize, 0);
        for (off, data) in records {
            v.extend(off.to_be_bytes());
            v.extend((data.len() as i64).to_be_bytes());
            v.extend(*data);
        }
        v.extend((-1i64).to_be_bytes());
        v.extend((-1i64).to_be_bytes());
        v
    }

    fn ctx() -> Context {
        Context { path: "t".into() }
    }

    #[test]
    fn later_records_override_earlier_ones() {
        let s = stream(&[(0, b"aaaaaaaa"), (2, b"bb"), (6, b"cccc")]);
        let idx = FlatIndex::build(&s, &ctx()).unwrap();
        let mut buf = [0u8; 10];
        assert_eq!(idx.read_at(&s, 0, &mut buf), 10);
        assert_eq!(&buf, b"aabbaacccc");
        assert_eq!(idx.logical_len(), 10);
        assert!(idx.truncated_at.is_none());
    }

    #[test]
    fn gaps_stop_reads_and_truncation_is_reported() {
        let mut s = stream(&[(0, b"ab"), (4, b"cd")]);
        let mut buf = [0u8; 6];
        let idx = FlatIndex::build(&s, &ctx()).unwrap();
        assert_eq!(idx.read_at(&s, 0, &mut buf), 2);
        s.truncate(s.len() - 20);
        let idx = FlatIndex::build(&s, &ctx()).unwrap();
        assert!(idx.truncated_at.is_some());
    }

    #[test]
    fn negative_sizes_are_an_error_not_a_panic() {
        let s = stream(&[(0, b"ab")]);
        let mut bad = s.clone();
        bad[4096 + 8..4096 + 16].copy_from_slice(&(-5i64).to_be_bytes());
        assert!(FlatIndex::build(&bad, &ctx()).is_err());
    }
}

//! `log_buf` of the two pre-5.10 formats, read page by page: a page the dump lacks
//! costs only its own bytes, and a garbage `log_buf_len` costs only the pages that
//! exist (memory grows with what is read, never with what the length claims).

use crate::memory::{KernelMemory, VirtError};

/// The kernel never allows more (LOG_BUF_LEN_MAX); a larger length is corruption.
pub(super) const MAX_LOG_BUF_LEN: u64 = 1 << 31;
const PAGE: u64 = 4096;
/// After this many unreadable pages in a row (16 MiB) the buffer is not where the
/// pointer says, or not in the dump: the rest is counted missing without trying.
const MAX_MISSING_RUN: u64 = 4096;

/// The buffer's readable bytes (holes zero-filled) and its unreadable ranges.
pub(super) struct LogBuf {
    len: u64,
    /// Covers offsets `0..bytes.len()`; everything past it is missing.
    bytes: Vec<u8>,
    /// Unreadable `[start, end)` offsets below `bytes.len()`, in order.
    holes: Vec<(u64, u64)>,
    first_error: Option<VirtError>,
}

impl LogBuf {
    /// Reads `len` bytes at `vaddr`; `len` must not exceed [`MAX_LOG_BUF_LEN`].
    pub(super) fn read(mem: &dyn KernelMemory, vaddr: u64, len: u64) -> LogBuf {
        let mut buf = LogBuf {
            len,
            bytes: Vec::new(),
            holes: Vec::new(),
            first_error: None,
        };
        let mut page = [0u8; PAGE as usize];
        let mut off = 0;
        let mut missing_run = 0;
        while off < len && missing_run < MAX_MISSING_RUN {
            let at = vaddr.wrapping_add(off);
            let n = (PAGE - at % PAGE).min(len - off);
            let chunk = &mut page[..n as usize];
            match mem.read_virt(at, chunk) {
                Ok(()) => {
                    missing_run = 0;
                    buf.bytes.resize(off as usize, 0);
                    buf.bytes.extend_from_slice(chunk);
                }
                Err(e) => {
                    missing_run += 1;
                    buf.first_error.get_or_insert(e);
                    match buf.holes.last_mut() {
                        Some(last) if last.1 == off => last.1 += n,
                        _ => buf.holes.push((off, off + n)),
                    }
                }
            }
            off += n;
        }
        // A trailing hole is already implied by `bytes` ending early.
        let read = buf.bytes.len() as u64;
        buf.holes.retain(|&(start, _)| start < read);
        buf
    }

    /// The bytes at `at..at + n`, if all lie in the buffer and were read.
    pub(super) fn get(&self, at: u64, n: u64) -> Result<&[u8], Gap> {
        let end = at
            .checked_add(n)
            .filter(|&e| e <= self.len)
            .ok_or(Gap::Outside)?;
        if end > self.bytes.len() as u64 || self.holes.iter().any(|&(s, e)| s < end && at < e) {
            return Err(Gap::Missing);
        }
        Ok(&self.bytes[at as usize..end as usize])
    }

    /// The readable pieces of `start..end`, in order.
    pub(super) fn present(&self, start: u64, end: u64) -> Vec<&[u8]> {
        let end = end.min(self.bytes.len() as u64);
        let mut pieces = Vec::new();
        let mut at = start;
        for &(s, e) in self.holes.iter().filter(|&&(s, e)| e > start && s < end) {
            if s > at {
                pieces.push(&self.bytes[at as usize..s as usize]);
            }
            at = at.max(e);
        }
        if at < end {
            pieces.push(&self.bytes[at as usize..end as usize]);
        }
        pieces
    }

    /// How much of the buffer the dump lacks, if any.
    pub(super) fn warning(&self) -> Option<String> {
        let lost: u64 = self.holes.iter().map(|(s, e)| e - s).sum::<u64>()
            + (self.len - self.bytes.len() as u64);
        let error = self.first_error.as_ref()?;
        Some(format!(
            "{lost} of the {} log_buf bytes read are not in the dump ({error})",
            self.len
        ))
    }
}

/// Why [`LogBuf::get`] gave nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gap {
    /// Past the end of the buffer: the indices or lengths are corrupt.
    Outside,
    /// In a page the dump does not hold.
    Missing,
}

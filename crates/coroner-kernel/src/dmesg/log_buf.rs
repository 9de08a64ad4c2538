//! `log_buf` of the two pre-5.10 formats, read page by page: a page the dump lacks
//! costs only its own bytes, and a garbage `log_buf_len` costs only the pages that
//! exist (memory holds what was read, never what the length claims).

use crate::memory::{MemError, Memory};

/// The kernel never allows more (LOG_BUF_LEN_MAX); a larger length is corruption.
pub(super) const MAX_LOG_BUF_LEN: u64 = 1 << 31;
const PAGE: u64 = 4096;
/// After this many unreadable pages in a row (16 MiB) the buffer is not where the
/// pointer says, or not in the dump: the rest is counted missing without trying.
const MAX_MISSING_RUN: u64 = 4096;

/// The buffer's readable bytes, as runs of contiguous pages.
pub(super) struct LogBuf {
    len: u64,
    /// `(offset, bytes)` of each run of readable pages, in order, none adjacent.
    runs: Vec<(u64, Vec<u8>)>,
    first_error: Option<MemError>,
}

impl LogBuf {
    /// Reads `len` bytes at `vaddr`; `len` must not exceed [`MAX_LOG_BUF_LEN`].
    pub(super) fn read(mem: &dyn Memory, vaddr: u64, len: u64) -> LogBuf {
        let mut buf = LogBuf {
            len,
            runs: Vec::new(),
            first_error: None,
        };
        let mut page = [0u8; PAGE as usize];
        let mut off = 0;
        let mut missing_run = 0;
        while off < len && missing_run < MAX_MISSING_RUN {
            let at = vaddr.wrapping_add(off);
            let n = (PAGE - at % PAGE).min(len - off);
            let chunk = &mut page[..n as usize];
            match mem.read(at, chunk) {
                Ok(()) => {
                    missing_run = 0;
                    match buf.runs.last_mut() {
                        Some((start, bytes)) if *start + bytes.len() as u64 == off => {
                            bytes.extend_from_slice(chunk)
                        }
                        _ => buf.runs.push((off, chunk.to_vec())),
                    }
                }
                Err(e) => {
                    missing_run += 1;
                    buf.first_error.get_or_insert(e);
                }
            }
            off += n;
        }
        buf
    }

    /// The bytes at `at..at + n`, if all lie in the buffer and were read.
    pub(super) fn get(&self, at: u64, n: u64) -> Result<&[u8], Gap> {
        let end = at
            .checked_add(n)
            .filter(|&e| e <= self.len)
            .ok_or(Gap::Outside)?;
        let i = self.runs.partition_point(|(start, _)| *start <= at);
        let (start, bytes) = i
            .checked_sub(1)
            .map(|i| &self.runs[i])
            .ok_or(Gap::Missing)?;
        bytes
            .get((at - start) as usize..(end - start) as usize)
            .ok_or(Gap::Missing)
    }

    /// The readable pieces of `start..end`, in order.
    pub(super) fn present(&self, start: u64, end: u64) -> Vec<&[u8]> {
        self.runs
            .iter()
            .filter_map(|(at, bytes)| {
                let from = start.max(*at);
                let to = end.min(at + bytes.len() as u64);
                (from < to).then(|| &bytes[(from - at) as usize..(to - at) as usize])
            })
            .collect()
    }

    /// How much of the buffer the dump lacks, if any.
    pub(super) fn warning(&self) -> Option<String> {
        let error = self.first_error.as_ref()?;
        let read: u64 = self.runs.iter().map(|(_, b)| b.len() as u64).sum();
        Some(format!(
            "{} of the {} log_buf bytes read are not in the dump ({error})",
            self.len - read,
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

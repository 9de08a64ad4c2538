//! Byte sources a container parser reads from: the file itself (memory-mapped), or a
//! flattened stream seen through its index as the file it encodes.

use crate::flat::FlatIndex;
use memmap2::Mmap;
use std::ops::Deref;

/// The container's bytes: a mapped file, or a buffer (tests, fuzzing, pipes).
pub(crate) enum Backing {
    Map(Mmap),
    Owned(Vec<u8>),
}

impl Deref for Backing {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Backing::Map(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

/// Random access to the bytes of a (possibly virtual) container file.
pub(crate) enum Source {
    File(Backing),
    Flat { map: Backing, index: FlatIndex },
}

impl Source {
    /// Logical length: the file's, or the end of the furthest flattened record.
    pub fn len(&self) -> u64 {
        match self {
            Source::File(map) => map.len() as u64,
            Source::Flat { index, .. } => index.logical_len(),
        }
    }

    /// Fills `buf` from logical offset `off`; returns how many bytes were available
    /// (less than `buf.len()` at the end of the data or at a gap in a flattened stream).
    pub fn read_at(&self, off: u64, buf: &mut [u8]) -> usize {
        match self {
            Source::File(map) => {
                let Some(avail) = usize::try_from(off).ok().and_then(|o| map.get(o..)) else {
                    return 0;
                };
                let n = avail.len().min(buf.len());
                buf[..n].copy_from_slice(&avail[..n]);
                n
            }
            Source::Flat { map, index } => index.read_at(map, off, buf),
        }
    }

    /// A borrowed view of `len` bytes at `off` when they are contiguous in the file
    /// (always for plain files; within one record for flattened streams).
    pub fn slice(&self, off: u64, len: usize) -> Option<&[u8]> {
        let (map, file_off) = match self {
            Source::File(map) => (map, off),
            Source::Flat { map, index } => (map, index.contiguous(off, len as u64)?),
        };
        let start = usize::try_from(file_off).ok()?;
        map.get(start..start.checked_add(len)?)
    }

    /// Reads exactly `len` bytes at `off`, borrowing when possible.
    pub fn bytes(&self, off: u64, len: usize) -> Option<std::borrow::Cow<'_, [u8]>> {
        if let Some(s) = self.slice(off, len) {
            return Some(std::borrow::Cow::Borrowed(s));
        }
        // Never allocate for bytes the source cannot hold: `len` may come from a hostile
        // header, and a flattened stream's logical length is only as honest as its records.
        let stored = match self {
            Source::File(map) | Source::Flat { map, .. } => map.len(),
        };
        if off.checked_add(len as u64)? > self.len() || len > stored {
            return None;
        }
        let mut v = vec![0; len];
        (self.read_at(off, &mut v) == len).then_some(std::borrow::Cow::Owned(v))
    }
}

//! Where a dump's bytes go: a file written at offsets, or makedumpfile's flattened
//! stream (`-F`) of `{offset, size, data}` records for a pipe. Writes at
//! consecutive offsets are gathered into large writes; a write elsewhere first
//! sends what was gathered, so bytes reach the output in the order they were given
//! (page data before the descriptors that point at it).

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

/// Gather up to this much before writing: few system calls, little memory.
const GATHER: usize = 1 << 20;

pub trait Sink {
    /// Writes `data` at `offset` of the dump file being made.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Sends everything gathered so far.
    fn flush(&mut self) -> io::Result<()>;
    /// Makes the file at least `len` bytes long (holes read as zeros), where the
    /// output can: crash maps the bitmaps and must not find them past the end.
    fn reserve(&mut self, len: u64) -> io::Result<()>;
    /// Ends the output (the flattened end marker); no writes after it.
    fn finish(&mut self) -> io::Result<()>;
    /// Bytes of dump file written so far (highest offset reached).
    fn written(&self) -> u64;
}

/// Consecutive writes, gathered.
struct Gathered {
    at: u64,
    buf: Vec<u8>,
}

impl Gathered {
    fn new() -> Gathered {
        Gathered {
            at: 0,
            buf: Vec::with_capacity(GATHER),
        }
    }

    /// Appends if `offset` continues the gathered run; otherwise says so.
    fn append(&mut self, offset: u64, data: &[u8]) -> bool {
        if self.buf.is_empty() {
            self.at = offset;
        } else if self.at + self.buf.len() as u64 != offset {
            return false;
        }
        self.buf.extend_from_slice(data);
        true
    }
}

/// A regular file, written with `pwrite`.
pub struct FileSink {
    file: File,
    pending: Gathered,
    end: u64,
}

impl FileSink {
    pub fn new(file: File) -> FileSink {
        FileSink {
            file,
            pending: Gathered::new(),
            end: 0,
        }
    }

    pub fn file(&self) -> &File {
        &self.file
    }
}

impl Sink for FileSink {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.end = self.end.max(offset + data.len() as u64);
        if !self.pending.append(offset, data) {
            self.flush()?;
            self.pending.append(offset, data);
        }
        if self.pending.buf.len() >= GATHER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.buf.is_empty() {
            let result = self.file.write_all_at(&self.pending.buf, self.pending.at);
            self.pending.buf.clear();
            result?;
        }
        Ok(())
    }

    fn reserve(&mut self, len: u64) -> io::Result<()> {
        self.flush()?;
        if self.file.metadata()?.len() < len {
            self.file.set_len(len)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.flush()
    }

    fn written(&self) -> u64 {
        self.end
    }
}

/// makedumpfile's flattened format: a 4096-byte header, then big-endian
/// `{i64 offset, i64 size}` + data records, then `{-1, -1}`.
pub struct FlatSink<W: Write> {
    out: W,
    pending: Gathered,
    end: u64,
    started: bool,
}

pub const FLAT_SIGNATURE: &[u8] = b"makedumpfile";
pub const FLAT_HEADER_SIZE: usize = 4096;
const FLAT_TYPE: i64 = 1;
const FLAT_VERSION: i64 = 1;

impl<W: Write> FlatSink<W> {
    pub fn new(out: W) -> FlatSink<W> {
        FlatSink {
            out,
            pending: Gathered::new(),
            end: 0,
            started: false,
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if !self.started {
            let mut header = vec![0u8; FLAT_HEADER_SIZE];
            header[..FLAT_SIGNATURE.len()].copy_from_slice(FLAT_SIGNATURE);
            header[16..24].copy_from_slice(&FLAT_TYPE.to_be_bytes());
            header[24..32].copy_from_slice(&FLAT_VERSION.to_be_bytes());
            self.out.write_all(&header)?;
            self.started = true;
        }
        Ok(())
    }
}

impl<W: Write> Sink for FlatSink<W> {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.end = self.end.max(offset + data.len() as u64);
        if !self.pending.append(offset, data) {
            self.flush()?;
            self.pending.append(offset, data);
        }
        if self.pending.buf.len() >= GATHER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.start()?;
        // Never a zero-sized record: it would end `makedumpfile -R` early.
        if !self.pending.buf.is_empty() {
            let mut head = [0u8; 16];
            head[..8].copy_from_slice(&(self.pending.at as i64).to_be_bytes());
            head[8..].copy_from_slice(&(self.pending.buf.len() as i64).to_be_bytes());
            let result = self
                .out
                .write_all(&head)
                .and_then(|()| self.out.write_all(&self.pending.buf));
            self.pending.buf.clear();
            result?;
        }
        self.out.flush()
    }

    fn reserve(&mut self, _len: u64) -> io::Result<()> {
        // A stream has no length; readers treat what no record covers as zeros.
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.flush()?;
        self.out.write_all(&[0xff; 16])?;
        self.out.flush()
    }

    fn written(&self) -> u64 {
        self.end
    }
}

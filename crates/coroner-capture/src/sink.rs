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

/// Consecutive writes, gathered; each run goes out through the sink's own
/// `send` (a `pwrite`, or a flattened record).
struct Gathered {
    at: u64,
    buf: Vec<u8>,
    /// The highest offset reached.
    end: u64,
}

impl Gathered {
    fn new() -> Gathered {
        Gathered {
            at: 0,
            buf: Vec::with_capacity(GATHER),
            end: 0,
        }
    }

    /// Adds `data` at `offset`. What is gathered is sent first when `data` does
    /// not continue it, and once it reaches `GATHER`.
    fn add(
        &mut self,
        offset: u64,
        data: &[u8],
        mut send: impl FnMut(u64, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        self.end = self.end.max(offset + data.len() as u64);
        if !self.buf.is_empty() && self.at + self.buf.len() as u64 != offset {
            self.send(&mut send)?;
        }
        if self.buf.is_empty() {
            self.at = offset;
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= GATHER {
            self.send(&mut send)?;
        }
        Ok(())
    }

    /// Sends the gathered run, if there is one (never an empty run).
    fn send(&mut self, send: &mut impl FnMut(u64, &[u8]) -> io::Result<()>) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let result = send(self.at, &self.buf);
        self.buf.clear();
        result
    }
}

/// A regular file, written with `pwrite`.
pub struct FileSink {
    file: File,
    pending: Gathered,
}

impl FileSink {
    pub fn new(file: File) -> FileSink {
        FileSink {
            file,
            pending: Gathered::new(),
        }
    }

    pub fn file(&self) -> &File {
        &self.file
    }
}

impl Sink for FileSink {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let file = &self.file;
        self.pending
            .add(offset, data, |at, bytes| file.write_all_at(bytes, at))
    }

    fn flush(&mut self) -> io::Result<()> {
        let file = &self.file;
        self.pending
            .send(&mut |at, bytes| file.write_all_at(bytes, at))
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
        self.pending.end
    }
}

/// makedumpfile's flattened format: a 4096-byte header, then big-endian
/// `{i64 offset, i64 size}` + data records, then `{-1, -1}`.
pub struct FlatSink<W: Write> {
    out: Records<W>,
    pending: Gathered,
}

/// The flattened stream itself: its header goes before the first record.
struct Records<W: Write> {
    out: W,
    started: bool,
}

pub const FLAT_SIGNATURE: &[u8] = b"makedumpfile";
pub const FLAT_HEADER_SIZE: usize = 4096;
const FLAT_TYPE: i64 = 1;
const FLAT_VERSION: i64 = 1;

impl<W: Write> FlatSink<W> {
    pub fn new(out: W) -> FlatSink<W> {
        FlatSink {
            out: Records {
                out,
                started: false,
            },
            pending: Gathered::new(),
        }
    }
}

impl<W: Write> Records<W> {
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

    /// One `{offset, size}` record and its data. `Gathered` sends no empty run:
    /// a zero-sized record would end `makedumpfile -R` early.
    fn record(&mut self, at: u64, bytes: &[u8]) -> io::Result<()> {
        self.start()?;
        let mut head = [0u8; 16];
        head[..8].copy_from_slice(&(at as i64).to_be_bytes());
        head[8..].copy_from_slice(&(bytes.len() as i64).to_be_bytes());
        self.out.write_all(&head)?;
        self.out.write_all(bytes)
    }
}

impl<W: Write> Sink for FlatSink<W> {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let out = &mut self.out;
        self.pending
            .add(offset, data, |at, bytes| out.record(at, bytes))
    }

    fn flush(&mut self) -> io::Result<()> {
        let out = &mut self.out;
        self.pending.send(&mut |at, bytes| out.record(at, bytes))?;
        out.start()?;
        out.out.flush()
    }

    fn reserve(&mut self, _len: u64) -> io::Result<()> {
        // A stream has no length; readers treat what no record covers as zeros.
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.flush()?;
        self.out.out.write_all(&[0xff; 16])?;
        self.out.out.flush()
    }

    fn written(&self) -> u64 {
        self.pending.end
    }
}

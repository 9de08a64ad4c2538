//! `-R`: a flattened stream (from a pipe, ssh or a raw partition) back into the dump
//! file it encodes. Records are copied in stream order, a later record overwriting
//! an earlier one, as `makedumpfile -R` does; bytes after the end marker are
//! ignored (a raw partition holds more than the stream).

use crate::sink::{FLAT_HEADER_SIZE, FLAT_SIGNATURE};
use crate::CaptureError;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;

/// Copy unit: memory stays bounded whatever a record's size claims.
const CHUNK: usize = 1 << 20;
/// No dump file is larger than this (4 PiB); a larger offset is garbage.
const MAX_END: u64 = 1 << 52;

fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> Result<usize, CaptureError> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(CaptureError::Input(format!("reading the stream: {e}"))),
        }
    }
    Ok(got)
}

/// Reassembles `input` into `out`; returns the dump file's length.
pub fn reassemble(input: &mut dyn Read, out: &File) -> Result<u64, CaptureError> {
    let bad = |at: u64, what: String| {
        CaptureError::Input(format!("flattened stream, offset {at:#x}: {what}"))
    };
    let mut header = vec![0u8; FLAT_HEADER_SIZE];
    if read_full(input, &mut header)? < FLAT_HEADER_SIZE {
        return Err(bad(0, "ends inside the 4096-byte header".into()));
    }
    let sig_end = header[..16].iter().position(|&b| b == 0).unwrap_or(16);
    if &header[..sig_end] != FLAT_SIGNATURE {
        return Err(bad(
            0,
            "no \"makedumpfile\" signature: not a flattened dump".into(),
        ));
    }
    let kind = i64::from_be_bytes(header[16..24].try_into().expect("8 bytes"));
    if kind != 1 {
        return Err(bad(16, format!("type {kind} (expected 1, a kdump stream)")));
    }
    let mut pos = FLAT_HEADER_SIZE as u64;
    let mut end = 0u64;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut head = [0u8; 16];
        if read_full(input, &mut head)? < 16 {
            return Err(bad(
                pos,
                "the stream ends without its end marker: it was cut short".into(),
            ));
        }
        let offset = i64::from_be_bytes(head[..8].try_into().expect("8 bytes"));
        let size = i64::from_be_bytes(head[8..].try_into().expect("8 bytes"));
        if offset == -1 && size == -1 {
            return Ok(end);
        }
        if offset < 0 || size <= 0 || (offset as u64).saturating_add(size as u64) > MAX_END {
            return Err(bad(
                pos,
                format!("record of {size} bytes at {offset} is invalid"),
            ));
        }
        pos += 16;
        let (mut at, mut left) = (offset as u64, size as u64);
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            if read_full(input, &mut buf[..n])? < n {
                return Err(bad(
                    pos,
                    "the stream ends inside a record: it was cut short".into(),
                ));
            }
            out.write_all_at(&buf[..n], at)
                .map_err(|e| CaptureError::Output(format!("writing at {at:#x}: {e}")))?;
            at += n as u64;
            left -= n as u64;
            pos += n as u64;
        }
        end = end.max(at);
    }
}

//! `rd`: memory as crash's `rd` shows it — hex words, then the same bytes as ASCII.

use crate::render::Render;
use crate::schema::{write_document, Addr, Warning};
use coroner_dump::PhysMemory;
use coroner_program::Program;
use serde::Serialize;
use std::io::{self, Write};

/// More than any screen needs; keeps a typo in COUNT from reading gigabytes.
pub const MAX_BYTES: u64 = 1 << 24;

/// What `rd` was asked for.
#[derive(Debug, Clone, Copy)]
pub struct RdQuery {
    pub address: u64,
    pub count: u64,
    /// 1, 2, 4 or 8.
    pub word_bytes: u32,
    pub physical: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RdError {
    #[error("COUNT {0} is more than rd shows at once")]
    TooMuch(u64),
    #[error("rd: {0}")]
    Unreadable(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct RdReport {
    pub address: Addr,
    pub physical: bool,
    pub word_bytes: u32,
    /// Each word, little-endian, as a hex string.
    pub words: Vec<Addr>,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

pub fn rd(program: &Program, q: RdQuery) -> Result<RdReport, RdError> {
    let word = u64::from(q.word_bytes);
    let len = q
        .count
        .checked_mul(word)
        .filter(|&n| n <= MAX_BYTES)
        .ok_or(RdError::TooMuch(q.count))?;
    let mut bytes = vec![0u8; len as usize];
    let read = if q.physical {
        program
            .kernel()
            .dump()
            .read_phys(q.address, &mut bytes)
            .map_err(|e| e.to_string())
    } else {
        program
            .read(q.address, &mut bytes)
            .map_err(|e| e.to_string())
    };
    read.map_err(RdError::Unreadable)?;
    let words = bytes
        .chunks_exact(word as usize)
        .map(|c| Addr(little_endian(c)))
        .collect();
    Ok(RdReport {
        address: Addr(q.address),
        physical: q.physical,
        word_bytes: q.word_bytes,
        words,
        bytes,
    })
}

fn little_endian(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(b)
}

impl Render for RdReport {
    fn schema(&self) -> &'static str {
        "coroner.rd/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(lines(self.address.0, &self.bytes, self.word_bytes as usize).as_bytes())
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        write_document(out, self.schema(), self)
    }

    fn warnings(&self) -> &[Warning] {
        &[]
    }
}

/// crash's layout: 16 bytes a line, words in hex, the line's bytes as ASCII.
fn lines(address: u64, bytes: &[u8], word: usize) -> String {
    let per_line = 16 / word;
    let width = word * 2;
    let mut out = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        out.push_str(&format!("{:016x}:  ", address + 16 * i as u64));
        let mut hex: Vec<String> = line
            .chunks(word)
            .map(|c| format!("{:0width$x}", little_endian(c)))
            .collect();
        // A short last line keeps the ASCII column aligned.
        hex.resize(per_line, " ".repeat(width));
        out.push_str(&hex.join(" "));
        out.push_str("   ");
        out.extend(line.iter().map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        }));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_as_crash_prints_them() {
        let text = super::lines(0xffffffff81e00100, b"Linux version 3.18", 8);
        assert_eq!(
            text,
            "ffffffff81e00100:  65762078756e694c 2e33206e6f697372   Linux version 3.\n\
             ffffffff81e00110:  0000000000003831                    18\n"
        );
        let text = super::lines(0x1000, &[0xff, 0, 0x41, 0x42], 2);
        assert_eq!(
            text,
            format!("{:016x}:  00ff 4241{}   ..AB\n", 0x1000, "     ".repeat(6))
        );
    }
}

//! LZO1X decoder (the format of `lzo1x_1_compress`, as makedumpfile `-l` writes pages),
//! written from the kernel's Documentation/staging/lzo.rst. Every input read and every
//! output write is bounds-checked: corrupt input is an error, never a panic.

struct Cursor<'a> {
    input: &'a [u8],
    ip: usize,
    out: &'a mut [u8],
    op: usize,
}

const EARLY_END: &str = "lzo: input ends inside an instruction";

impl Cursor<'_> {
    fn byte(&mut self) -> Result<usize, String> {
        let b = *self.input.get(self.ip).ok_or(EARLY_END)?;
        self.ip += 1;
        Ok(b as usize)
    }

    fn le16(&mut self) -> Result<usize, String> {
        Ok(self.byte()? | (self.byte()? << 8))
    }

    /// `base + 255 * (number of zero bytes) + the first non-zero byte`.
    fn extended_length(&mut self, base: usize) -> Result<usize, String> {
        let mut len = base;
        loop {
            match self.byte()? {
                0 => {
                    len += 255;
                    if len > self.out.len() {
                        return Err("lzo: run length longer than the page".into());
                    }
                }
                b => return Ok(len + b),
            }
        }
    }

    fn literals(&mut self, n: usize) -> Result<(), String> {
        let src = self
            .input
            .get(self.ip..self.ip + n)
            .ok_or("lzo: literal run past the end of the input")?;
        let dst = self
            .out
            .get_mut(self.op..self.op + n)
            .ok_or("lzo: literal run past the end of the page")?;
        dst.copy_from_slice(src);
        self.ip += n;
        self.op += n;
        Ok(())
    }

    fn copy_match(&mut self, distance: usize, len: usize) -> Result<(), String> {
        if distance > self.op {
            return Err(format!(
                "lzo: match distance {distance} before the start of the page"
            ));
        }
        if self.op + len > self.out.len() {
            return Err("lzo: match past the end of the page".into());
        }
        // A match may overlap its own output (run-length style): it repeats the
        // `distance` bytes before it, so it is copied a period at a time. Every
        // encoding of a distance adds at least 1 to it, so the loop advances.
        debug_assert!(distance > 0);
        let end = self.op + len;
        while self.op < end {
            let n = distance.min(end - self.op);
            let from = self.op - distance;
            self.out.copy_within(from..from + n, self.op);
            self.op += n;
        }
        Ok(())
    }
}

/// Decodes one LZO1X stream into `out`; returns the number of bytes written.
pub fn decompress(input: &[u8], out: &mut [u8]) -> Result<usize, String> {
    let mut c = Cursor {
        input,
        ip: 0,
        out,
        op: 0,
    };
    // How many literals the last instruction copied (0..3, or 4 for "4 or more"):
    // it decides what opcodes 0..15 mean next.
    let mut state = 0;
    if let Some(&first) = input.first() {
        if first > 17 {
            c.ip = 1;
            let n = first as usize - 17;
            c.literals(n)?;
            state = n.min(4);
        }
    }
    loop {
        let inst = c.byte()?;
        let (distance, len) = match inst {
            128.. => (
                1 + ((inst >> 2) & 7) + (c.byte()? << 3),
                5 + ((inst >> 5) & 3),
            ),
            64..=127 => (
                1 + ((inst >> 2) & 7) + (c.byte()? << 3),
                3 + ((inst >> 5) & 1),
            ),
            32..=63 => {
                let len = match inst & 31 {
                    0 => c.extended_length(31)?,
                    l => l,
                } + 2;
                let d = c.le16()?;
                c.copy_match(1 + (d >> 2), len)?;
                state = d & 3;
                c.literals(state)?;
                continue;
            }
            16..=31 => {
                let len = match inst & 7 {
                    0 => c.extended_length(7)?,
                    l => l,
                } + 2;
                let d = c.le16()?;
                let far = ((inst & 8) << 11) + (d >> 2);
                if far == 0 {
                    return Ok(c.op); // end-of-stream marker
                }
                c.copy_match(0x4000 + far, len)?;
                state = d & 3;
                c.literals(state)?;
                continue;
            }
            _ if state == 0 => {
                let len = match inst {
                    0 => c.extended_length(15)?,
                    l => l,
                } + 3;
                c.literals(len)?;
                state = 4;
                continue;
            }
            _ if state < 4 => (1 + (inst >> 2) + (c.byte()? << 2), 2),
            _ => (2049 + (inst >> 2) + (c.byte()? << 2), 3),
        };
        c.copy_match(distance, len)?;
        state = inst & 3;
        c.literals(state)?;
    }
}

#[cfg(test)]
mod tests {
    use super::decompress;

    #[test]
    fn literal_run_then_overlapping_match_then_end() {
        // 4 literals "abcd" (first byte 17+4), an M2 match of 8 bytes at distance 4
        // (1 L L D D D S S with L=3, D=3, S=0 -> 0xec; H=0), then the end marker.
        let stream = [21, b'a', b'b', b'c', b'd', 0xec, 0x00, 0x11, 0x00, 0x00];
        let mut out = [0u8; 12];
        assert_eq!(decompress(&stream, &mut out), Ok(12));
        assert_eq!(&out, b"abcdabcdabcd");
    }

    #[test]
    fn corrupt_streams_are_errors() {
        let mut out = [0u8; 16];
        // Match reaching before the start of the output.
        assert!(decompress(
            &[21, b'a', b'b', b'c', b'd', 0xec, 0xff, 0x11, 0, 0],
            &mut out
        )
        .is_err());
        // Output longer than the page.
        let mut small = [0u8; 6];
        assert!(decompress(
            &[21, b'a', b'b', b'c', b'd', 0xec, 0x00, 0x11, 0, 0],
            &mut small
        )
        .is_err());
        // Input ends without the end marker.
        assert!(decompress(&[21, b'a', b'b', b'c', b'd'], &mut out).is_err());
        assert!(decompress(&[], &mut out).is_err());
        // A long run of zero length bytes stops at the page size.
        let mut zeros = vec![0u8; 1000];
        zeros[0] = 0;
        assert!(decompress(&zeros, &mut out).is_err());
    }
}

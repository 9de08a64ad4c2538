//! One bit per page frame, LSB first within each byte: the layout of both bitmaps in
//! a kdump-compressed file, so a bitmap is written out as its bytes.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    words: Vec<u64>,
    len: u64,
}

impl Bitmap {
    /// `len` bits, all clear.
    pub fn new(len: u64) -> Bitmap {
        Bitmap {
            words: vec![0; len.div_ceil(64) as usize],
            len,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, bit: u64) -> bool {
        bit < self.len && self.words[(bit / 64) as usize] & (1 << (bit % 64)) != 0
    }

    pub fn set(&mut self, bit: u64) {
        if bit < self.len {
            self.words[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }

    pub fn clear(&mut self, bit: u64) {
        if bit < self.len {
            self.words[(bit / 64) as usize] &= !(1 << (bit % 64));
        }
    }

    /// Sets bits `[start, end)` (clipped to the bitmap).
    pub fn set_range(&mut self, start: u64, end: u64) {
        self.fill_range(start, end, true);
    }

    /// Clears bits `[start, end)` (clipped to the bitmap); returns how many were set.
    pub fn clear_range(&mut self, start: u64, end: u64) -> u64 {
        let before = self.count_range(start, end);
        self.fill_range(start, end, false);
        before
    }

    fn fill_range(&mut self, start: u64, end: u64, value: bool) {
        let end = end.min(self.len);
        let mut bit = start;
        while bit < end {
            let word = (bit / 64) as usize;
            let lo = bit % 64;
            let hi = (end - (bit - lo)).min(64);
            let mask = if hi - lo == 64 {
                u64::MAX
            } else {
                ((1u64 << (hi - lo)) - 1) << lo
            };
            if value {
                self.words[word] |= mask;
            } else {
                self.words[word] &= !mask;
            }
            bit = bit - lo + hi;
        }
    }

    /// Keeps only the bits also set in `other`.
    pub fn and_with(&mut self, other: &Bitmap) {
        for (i, w) in self.words.iter_mut().enumerate() {
            *w &= other.words.get(i).copied().unwrap_or(0);
        }
    }

    /// Set bits in `[start, end)`.
    pub fn count_range(&self, start: u64, end: u64) -> u64 {
        let end = end.min(self.len);
        let mut bit = start;
        let mut n = 0u64;
        while bit < end {
            let lo = bit % 64;
            let hi = (end - (bit - lo)).min(64);
            let word = self.words[(bit / 64) as usize] >> lo;
            let width = hi - lo;
            let masked = if width == 64 {
                word
            } else {
                word & ((1u64 << width) - 1)
            };
            n += u64::from(masked.count_ones());
            bit = bit - lo + hi;
        }
        n
    }

    pub fn count(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// The bitmap's bytes as a kdump file stores them (`ceil(len / 8)` bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self.words.iter().flat_map(|w| w.to_le_bytes()).collect();
        out.truncate(self.len.div_ceil(8) as usize);
        out
    }

    /// Set bits in increasing order.
    pub fn ones(&self) -> impl Iterator<Item = u64> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros() as u64;
                w &= w - 1;
                Some(i as u64 * 64 + b)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_count_and_bytes_agree_with_single_bits() {
        let mut b = Bitmap::new(200);
        b.set_range(3, 131);
        assert_eq!(b.count(), 128);
        assert_eq!(b.clear_range(60, 70), 10);
        assert!(!b.get(65) && b.get(59) && b.get(70));
        assert_eq!(b.count_range(0, 200), 118);
        b.set(199);
        b.set(500);
        let bytes = b.to_bytes();
        assert_eq!(bytes.len(), 25);
        assert_eq!(bytes[0], 0b1111_1000);
        assert_eq!(bytes[24], 0x80);
        assert_eq!(b.ones().count() as u64, b.count());
        assert_eq!(b.ones().next(), Some(3));
    }
}

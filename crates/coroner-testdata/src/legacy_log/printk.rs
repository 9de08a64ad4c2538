//! The two pre-5.10 logs as the kernel itself fills them: `log_store` of
//! kernel/printk/printk.c (3.5 to 5.9) for `struct printk_log` records, and
//! `emit_log_char` (before 3.5) for the character buffer.

/// One message as `log_store` receives it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub ts_nsec: u64,
    pub facility: u8,
    /// Syslog level, 0 to 7.
    pub level: u8,
    /// `enum log_flags` (LOG_NEWLINE 2, LOG_PREFIX 4, LOG_CONT 8).
    pub flags: u8,
    /// Task id, or CPU number with the top bit set (CONFIG_PRINTK_CALLER kernels).
    pub caller_id: u32,
    pub text: Vec<u8>,
    /// `KEY=value` pairs separated by NULs, as `dev_printk` builds them.
    pub dict: Vec<u8>,
}

pub const LOG_NEWLINE: u8 = 2;
pub const LOG_CONT: u8 = 8;

/// `struct printk_log`'s shape in one kernel.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    /// 16 bytes; 20 with the u32 caller_id of CONFIG_PRINTK_CALLER.
    pub header: usize,
    pub caller_id: bool,
}

/// LOG_ALIGN on x86: 4 (efficient unaligned access; `__packed __aligned(4)` later).
const LOG_ALIGN: usize = 4;

/// A `log_buf` after a sequence of `log_store` calls.
pub(super) struct Ring {
    pub buf: Vec<u8>,
    pub first_idx: usize,
    pub next_idx: usize,
    first_seq: usize,
    next_seq: usize,
    shape: Shape,
}

impl Ring {
    pub fn new(len: usize, shape: Shape) -> Ring {
        Ring {
            buf: vec![0; len],
            first_idx: 0,
            next_idx: 0,
            first_seq: 0,
            next_seq: 0,
            shape,
        }
    }

    /// Stores every record, dropping the oldest as the kernel does.
    pub fn store_all(&mut self, records: &[Record]) {
        for r in records {
            self.store(r);
        }
    }

    /// The sequence numbers still in the buffer, oldest first.
    pub fn live(&self) -> std::ops::Range<usize> {
        self.first_seq..self.next_seq
    }

    fn store(&mut self, r: &Record) {
        let h = self.shape.header;
        let unpadded = h + r.text.len() + r.dict.len();
        let size = unpadded.next_multiple_of(LOG_ALIGN);
        assert!(
            size + h <= self.buf.len(),
            "record of {size} bytes: the generator does not truncate as the kernel would"
        );
        // log_make_free_space: drop old records until there is contiguous room.
        while self.first_seq < self.next_seq && !self.has_space(size) {
            self.first_idx = self.log_next(self.first_idx);
            self.first_seq += 1;
        }
        if self.next_idx + size + h > self.buf.len() {
            // The record plus an empty header does not fit at the end: the empty
            // header (len 0) marks the wrap.
            self.buf[self.next_idx..self.next_idx + h].fill(0);
            self.next_idx = 0;
        }
        let at = self.next_idx;
        let rec = &mut self.buf[at..at + size];
        rec.fill(0);
        rec[0..8].copy_from_slice(&r.ts_nsec.to_le_bytes());
        rec[8..10].copy_from_slice(&(size as u16).to_le_bytes());
        rec[10..12].copy_from_slice(&(r.text.len() as u16).to_le_bytes());
        rec[12..14].copy_from_slice(&(r.dict.len() as u16).to_le_bytes());
        rec[14] = r.facility;
        rec[15] = (r.flags & 0x1f) | (r.level << 5);
        if self.shape.caller_id {
            rec[16..20].copy_from_slice(&r.caller_id.to_le_bytes());
        }
        rec[h..h + r.text.len()].copy_from_slice(&r.text);
        rec[h + r.text.len()..unpadded].copy_from_slice(&r.dict);
        self.next_idx += size;
        self.next_seq += 1;
    }

    /// logbuf_has_space: room for the record and a wrap marker after it.
    fn has_space(&self, size: usize) -> bool {
        let free = if self.next_idx > self.first_idx {
            (self.buf.len() - self.next_idx).max(self.first_idx)
        } else {
            self.first_idx - self.next_idx
        };
        free >= size + self.shape.header
    }

    /// log_next: the record after `idx`, following a wrap marker.
    fn log_next(&self, idx: usize) -> usize {
        let len_at = |i: usize| u16::from_le_bytes([self.buf[i + 8], self.buf[i + 9]]) as usize;
        match len_at(idx) {
            0 => len_at(0),
            n => idx + n,
        }
    }

    /// Whether `log_first_idx` sits on a wrap marker (it does when the records
    /// dropped last were those just before the marker).
    pub fn first_is_marker(&self) -> bool {
        self.first_idx != self.next_idx
            && u16::from_le_bytes([self.buf[self.first_idx + 8], self.buf[self.first_idx + 9]]) == 0
    }
}

/// The pre-3.5 buffer after `earlier` characters of older log, then `text`, went
/// through `emit_log_char` (`LOG_BUF(log_end++) = c`). Returns the buffer and
/// `log_end`.
pub(super) fn plain_buffer(len: usize, earlier: u64, text: &[u8]) -> (Vec<u8>, u64) {
    let older = b"<6>an older line, long since overwritten\n";
    let end = earlier + text.len() as u64;
    let mut buf = vec![0u8; len];
    for pos in end.saturating_sub(len as u64)..end {
        buf[(pos % len as u64) as usize] = match pos.checked_sub(earlier) {
            Some(i) => text[i as usize],
            None => older[(pos % older.len() as u64) as usize],
        };
    }
    (buf, end)
}

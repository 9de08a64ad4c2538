//! Records of the lockless ring found by their shape, for dumps whose ring
//! bookkeeping is unreadable: the `prb` struct (its page lost, so the rings'
//! addresses, sizes, head and tail are unknown) or descriptors (their pages lost,
//! so where each record's text lies is unknown).
//!
//! Each block of the text data ring is the id of the descriptor that owns it (an
//! `unsigned long`), then the text, padded to 8 bytes; consecutive records have
//! consecutive ids. A block is taken when the block of the next id starts within
//! a record's reach after it: its text is what lies between (less NUL padding). The
//! `printk_info` array, when found, gives each record its exact length, sequence
//! number, time stamp, level and caller.

use super::lockless::ID_MASK;
use super::LogRecord;
use crate::memory::Memory;

const PAGE: u64 = 4096;
/// The longest text a record holds (PRINTKRB_RECORD_MAX).
const MAX_RECORD: u64 = 1024;
/// Words from a block's id to the next block's at most.
const MAX_BLOCK_WORDS: usize = (8 + MAX_RECORD as usize + 8) / 8;
/// At most this much memory is searched (a data ring is 128 KiB to a few MiB).
pub(super) const MAX_REGION: u64 = 32 << 20;

/// Memory read page by page; unreadable pages are zeros and marked.
pub(super) struct Region {
    pub start: u64,
    pub bytes: Vec<u8>,
    readable: Vec<bool>,
}

impl Region {
    /// `start` is rounded down to a page, the length capped at [`MAX_REGION`].
    pub fn read(mem: &dyn Memory, start: u64, len: u64) -> Region {
        let start = start & !(PAGE - 1);
        let len = len.min(MAX_REGION).next_multiple_of(PAGE) as usize;
        let mut bytes = vec![0u8; len];
        let mut readable = vec![false; len / PAGE as usize];
        for (i, page) in bytes.chunks_mut(PAGE as usize).enumerate() {
            let at = start.wrapping_add(i as u64 * PAGE);
            if mem.read(at, page).is_ok() {
                readable[i] = true;
            } else {
                page.fill(0);
            }
        }
        Region {
            start,
            bytes,
            readable,
        }
    }

    fn word(&self, i: usize) -> u64 {
        u64::from_le_bytes(self.bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"))
    }

    fn word_readable(&self, i: usize) -> bool {
        self.readable[i * 8 / PAGE as usize]
    }

    /// Whether every byte of `range` (offsets) was read.
    fn all_readable(&self, range: std::ops::Range<usize>) -> bool {
        let first = range.start / PAGE as usize;
        let last = range.end.saturating_sub(1).max(range.start) / PAGE as usize;
        (first..=last).all(|p| self.readable.get(p).copied().unwrap_or(false))
    }

    /// The u64 at a virtual address, if it was read.
    pub fn u64_at(&self, vaddr: u64) -> Option<u64> {
        let o = usize::try_from(vaddr.checked_sub(self.start)?).ok()?;
        let bytes = self.bytes.get(o..o.checked_add(8)?)?;
        self.all_readable(o..o + 8)
            .then(|| u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }
}

/// A text block: its descriptor id and its text (NUL padding cut; a block whose
/// end is known only from the next block may carry up to 7 stale bytes).
#[derive(Debug, Clone)]
pub(super) struct Block {
    pub id: u64,
    pub text: Vec<u8>,
}

/// The text blocks in `region`; with `wanted`, only blocks of those ids.
pub(super) fn find_blocks(region: &Region, wanted: Option<&dyn Fn(u64) -> bool>) -> Vec<Block> {
    let words = region.bytes.len() / 8;
    // Every readable word that could be an id, sorted by value then place.
    let mut candidates: Vec<(u64, u32)> = (0..words)
        .filter(|&i| region.word_readable(i))
        .map(|i| (region.word(i), i as u32))
        .filter(|&(v, _)| v != 0 && v & !ID_MASK == 0)
        .collect();
    candidates.sort_unstable();
    let next_of = |v: u64, i: usize| -> Option<usize> {
        let want = (v + 1) & ID_MASK;
        let k = candidates.partition_point(|&c| c < (want, i as u32 + 1));
        let &(value, j) = candidates.get(k)?;
        (value == want && (j as usize) <= i + MAX_BLOCK_WORDS).then_some(j as usize)
    };
    let mut blocks = Vec::new();
    let mut successors = Vec::new();
    let mut taken = std::collections::HashSet::new();
    for &(v, i) in &candidates {
        let i = i as usize;
        let Some(j) = next_of(v, i) else { continue };
        let text = (i + 1) * 8..j * 8;
        if !region.all_readable(text.clone()) || !wanted.is_none_or(|w| w(v)) {
            continue;
        }
        let Some(text) = clean(&region.bytes[text]) else {
            continue;
        };
        if taken.insert(v) {
            blocks.push(Block { id: v, text });
            successors.push((((v + 1) & ID_MASK), j));
        }
    }
    // The newest block has no next one: its text ends at its first NUL.
    for (v, j) in successors {
        if taken.contains(&v) || !wanted.is_none_or(|w| w(v)) {
            continue;
        }
        let start = (j + 1) * 8;
        let end = (start + MAX_RECORD as usize).min(region.bytes.len());
        let bytes = &region.bytes[start.min(end)..end];
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        if len > 0 && region.all_readable(start..start + len) {
            taken.insert(v);
            blocks.push(Block {
                id: v,
                text: bytes[..len].to_vec(),
            });
        }
    }
    blocks.sort_by_key(|b| b.id);
    blocks
}

/// A block's text without its NUL padding; `None` when it is empty, or a NUL or
/// many control bytes lie inside (not a record's text).
fn clean(bytes: &[u8]) -> Option<Vec<u8>> {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    let text = &bytes[..end];
    let control = text
        .iter()
        .filter(|&&b| b < 0x20 && b != b'\t' && b != b'\n')
        .count();
    // An empty message has no block (the kernel stores it data-less).
    let plausible = !text.is_empty() && !text.contains(&0) && control * 4 <= text.len();
    plausible.then(|| text.to_vec())
}

/// Cuts what is most likely stale from the end of a block's text. A block is
/// sized for the message as formatted, with its level prefix (`\x01` and a
/// character) and last newline, which the kernel then cuts: the message moves
/// two bytes left over its prefix, leaving its last two bytes twice, and
/// continuation prefixes or a newline stay after it. So: a last newline goes
/// (never stored), a trailing `\x01` and one byte go, and then a last pair of
/// bytes that repeats the pair before it. A message really ending in a repeated
/// pair loses it: this is a guess, and says so in the warning.
fn stale_tail(text: &mut Vec<u8>) {
    if text.last() == Some(&b'\n') {
        text.pop();
    }
    if text.len() >= 2 && text[text.len() - 2] == 1 {
        text.truncate(text.len() - 2);
    }
    let n = text.len();
    if n >= 4 && text[n - 2..] == text[n - 4..n - 2] {
        text.truncate(n - 2);
    }
}

/// The blocks of the one densest run of ids (stray runs of small integers in
/// memory look like blocks too): ids at most `MAX_GAP` apart, the largest run.
pub(super) fn densest_run(blocks: Vec<Block>) -> Vec<Block> {
    const MAX_GAP: u64 = 1 << 12;
    let mut best = 0..0;
    let mut start = 0;
    for i in 0..blocks.len() {
        if i > 0 && blocks[i].id - blocks[i - 1].id > MAX_GAP {
            start = i;
        }
        if i + 1 - start > best.len() {
            best = start..i + 1;
        }
    }
    blocks[best].to_vec()
}

/// How a ring numbers its records: the array of `count` `printk_info`s at
/// `array`, and the id of the record whose seq is 0.
#[derive(Debug, Clone, Copy)]
pub(super) struct Infos {
    pub array: u64,
    pub count: u64,
    pub first_id: u64,
}

impl Infos {
    pub fn seq(&self, id: u64) -> u64 {
        id.wrapping_sub(self.first_id) & ID_MASK
    }
}

/// Where the `printk_info` array is, found by the sequence numbers a ring gives
/// its records: the first record (seq 0) has id `-count` as a 32-bit unsigned
/// number (`DESC0_ID` + 1, computed in `unsigned int`; 2^62 - count if it were
/// computed in `long`), and ids and seqs rise together. `blocks` are records whose
/// ids are known; the array must agree with most of those whose entry is readable.
pub(super) fn find_infos(
    region: &Region,
    seq_offset: u64,
    info_size: u64,
    blocks: &[Block],
) -> Option<Infos> {
    if info_size == 0 || blocks.is_empty() {
        return None;
    }
    let mut values: Vec<(u64, u64)> = (0..region.bytes.len() / 8)
        .filter(|&i| region.word_readable(i))
        .map(|i| (region.word(i), region.start + i as u64 * 8))
        .filter(|&(v, _)| v & !ID_MASK == 0)
        .collect();
    values.sort_unstable();
    let samples: Vec<&Block> = (0..8)
        .map(|k| &blocks[(blocks.len() - 1) * k / 7])
        .collect();
    for bits in 5..=22u32 {
        let count = 1u64 << bits;
        for first_id in [(1u64 << 32) - count, (1u64 << 62) - count] {
            let candidate = |array| Infos {
                array,
                count,
                first_id,
            };
            for sample in &samples {
                let want = candidate(0).seq(sample.id);
                let k = values.partition_point(|&(v, _)| v < want);
                for &(_, at) in values[k..].iter().take_while(|&&(v, _)| v == want) {
                    let Some(array) = at
                        .checked_sub(seq_offset)
                        .and_then(|a| a.checked_sub((sample.id % count) * info_size))
                    else {
                        continue;
                    };
                    let infos = candidate(array);
                    let (mut agree, mut disagree) = (0, 0);
                    for b in blocks.iter().step_by((blocks.len() / 64).max(1)) {
                        let slot = array + (b.id % count) * info_size + seq_offset;
                        match region.u64_at(slot) {
                            Some(s) if s == infos.seq(b.id) => agree += 1,
                            Some(_) => disagree += 1,
                            None => {}
                        }
                    }
                    if agree >= 3.min(blocks.len()) && agree > 4 * disagree {
                        return Some(infos);
                    }
                }
            }
        }
    }
    None
}

/// A record from a block alone: no time stamp, level or caller; its sequence
/// number is the block's id. Its text may end in stale bytes: see [`stale_tail`].
pub(super) fn bare_record(block: Block) -> LogRecord {
    let mut text = block.text;
    stale_tail(&mut text);
    LogRecord {
        seq: block.id,
        level: 6,
        text,
        ..LogRecord::default()
    }
}

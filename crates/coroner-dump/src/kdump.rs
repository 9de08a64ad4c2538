//! kdump-compressed dumps ("diskdump" layout, as makedumpfile and QEMU write it):
//!
//! ```text
//! block 0            disk_dump_header   signature "KDUMP   ", version, utsname, sizes
//! block 1..          kdump_sub_header   phys_base, dump level, split range, note and
//!                                       VMCOREINFO offsets (fields gated by version)
//! 1+sub_hdr_size..   bitmaps            1st half: page is RAM; 2nd half: page is stored
//! then               page descriptors   24 bytes per stored page, in PFN order
//! then               page data          compressed (zlib/lzo/snappy/zstd) or raw; every
//!                                       all-zero page shares the first data block
//! ```
//! All integers are little-endian (x86-64 and arm64 writers).

mod layout;

use crate::compress::{self, Compression};
use crate::error::{Context, DumpError, ReadError};
use crate::memory::{Body, DumpInfo, Format, PageCensus, PageState};
use crate::notes::{self, Note};
use crate::source::Source;
use layout::{Descriptor, Header, SubHeader, DESC_SIZE};
use std::collections::VecDeque;
use std::sync::Mutex;

pub(crate) use layout::SIGNATURE;

/// Bits per entry of the rank index over the 2nd bitmap: 64 bytes of bitmap, so a
/// lookup pops at most 8 words; the index is 1/64 the size of the bitmap.
const RANK_BLOCK_BITS: u64 = 512;
const CACHE_PAGES: usize = 16;
/// VMCOREINFO is one page in the kernel; allow generous slack, never unbounded.
const MAX_VMCOREINFO: u64 = 1 << 20;
const MAX_NOTES: u64 = 64 << 20;

pub(crate) struct KdumpBody {
    source: Source,
    page_size: u64,
    /// PFN range whose pages this file stores (a split dump holds only part).
    pfn_start: u64,
    pfn_end: u64,
    ram_bitmap: Vec<u8>,
    stored_bitmap: Vec<u8>,
    /// Stored pages before each RANK_BLOCK_BITS-aligned PFN, from `pfn_start`'s.
    rank: Vec<u64>,
    desc_start: u64,
    /// Where the shared all-zero page is: the first byte after the descriptors.
    zero_page_offset: u64,
    vmcoreinfo: Option<Vec<u8>>,
    cache: Mutex<VecDeque<(u64, Box<[u8]>)>>,
}

fn bit(bitmap: &[u8], pfn: u64) -> bool {
    usize::try_from(pfn / 8)
        .ok()
        .and_then(|i| bitmap.get(i))
        .is_some_and(|b| b & (1 << (pfn % 8)) != 0)
}

fn ones_before(bitmap: &[u8], from: u64, to: u64) -> u64 {
    (from..to).filter(|&p| bit(bitmap, p)).count() as u64
}

pub(crate) fn open(
    source: Source,
    ctx: &Context,
) -> Result<(Body, DumpInfo, Vec<Note>), DumpError> {
    let header = Header::parse(&source, ctx)?;
    let sub = SubHeader::parse(&source, &header, ctx)?;
    let mut warnings = Vec::new();
    if header.status & layout::STATUS_INCOMPLETE != 0 {
        warnings.push("the writer marked this dump incomplete (it ran out of space): pages at the end are missing".into());
    }
    let max_pfn = sub.max_mapnr_64.unwrap_or(u64::from(header.max_mapnr));
    let bs = u64::from(header.block_size);
    let bitmap_off = bs * (1 + u64::from(header.sub_hdr_size));
    let bitmap_len = bs * u64::from(header.bitmap_blocks);
    let half = bitmap_len / 2;
    if half * 8 < max_pfn {
        return Err(ctx.format(
            layout::OFF_BITMAP_BLOCKS as u64,
            format!(
                "{} bitmap blocks cover {} pages, fewer than max_mapnr {max_pfn}",
                header.bitmap_blocks,
                half * 8
            ),
        ));
    }
    let bitmaps = source
        .bytes(bitmap_off, bitmap_len as usize)
        .ok_or_else(|| {
            ctx.format(
                bitmap_off,
                format!("the {bitmap_len}-byte bitmaps run past the end of the file"),
            )
        })?;
    let used = max_pfn.div_ceil(8) as usize;
    let ram_bitmap = bitmaps[..used].to_vec();
    let stored_bitmap = bitmaps[half as usize..half as usize + used].to_vec();
    drop(bitmaps);

    let (pfn_start, pfn_end) = match sub.split {
        Some((s, e)) if s < e && e <= max_pfn => {
            warnings.push(format!(
                "split dump: this file stores PFNs {s:#x}..{e:#x} only; the rest is in the other split files"
            ));
            (s, e)
        }
        Some((s, e)) => {
            return Err(ctx.format(
                bs,
                format!("split PFN range {s:#x}..{e:#x} is not within 0..{max_pfn:#x}"),
            ))
        }
        None => (0, max_pfn),
    };
    let mut rank = Vec::with_capacity((max_pfn / RANK_BLOCK_BITS + 1) as usize);
    let mut count = 0u64;
    let mut pfn = pfn_start - pfn_start % RANK_BLOCK_BITS;
    while pfn < pfn_end + RANK_BLOCK_BITS {
        rank.push(count);
        let block_end = (pfn + RANK_BLOCK_BITS).min(pfn_end);
        count += popcount_range(&stored_bitmap, pfn.max(pfn_start), block_end);
        pfn += RANK_BLOCK_BITS;
    }
    let desc_start = bitmap_off + bitmap_len;
    let stored_pages = count;
    let zero_page_offset = desc_start + stored_pages * DESC_SIZE;

    let mut notes = Vec::new();
    if let Some((off, size)) = sub.notes {
        if size > MAX_NOTES {
            return Err(ctx.format(
                bs + 48,
                format!("note area of {size} bytes is implausibly large"),
            ));
        }
        match source.bytes(off, size as usize) {
            Some(data) => {
                let (found, err) = notes::parse(&data);
                notes = found;
                if let Some((pos, what)) = err {
                    warnings.push(format!("notes at offset {:#x}: {what}", off + pos as u64));
                }
            }
            None => warnings.push(format!(
                "note area at {off:#x} ({size} bytes) runs past the end of the file"
            )),
        }
    }
    let vmcoreinfo = match sub.vmcoreinfo {
        Some((_, size)) if size > MAX_VMCOREINFO => {
            warnings.push(format!(
                "VMCOREINFO of {size} bytes is implausibly large; ignored"
            ));
            None
        }
        Some((off, size)) => {
            let text = source.bytes(off, size as usize).map(|b| b.into_owned());
            if text.is_none() {
                warnings.push(format!(
                    "VMCOREINFO at {off:#x} ({size} bytes) runs past the end of the file"
                ));
            }
            text
        }
        None => None,
    };

    let info = DumpInfo {
        format: Format::Kdump,
        format_version: Some(header.version),
        flattened: false,
        page_size: bs,
        arch: Some(header.machine.clone()).filter(|m| !m.is_empty()),
        dump_level: Some(sub.dump_level),
        header_release: Some(header.release.clone()).filter(|r| !r.is_empty()),
        header_time: Some(header.timestamp).filter(|&t| t > 0),
        header_cpus: u32::try_from(header.nr_cpus).ok().filter(|&n| n > 0),
        phys_base: Some(sub.phys_base),
        max_pfn,
        vmcoreinfo_source: None,
        warnings,
    };
    let body = KdumpBody {
        source,
        page_size: bs,
        pfn_start,
        pfn_end,
        ram_bitmap,
        stored_bitmap,
        rank,
        desc_start,
        zero_page_offset,
        vmcoreinfo,
        cache: Mutex::new(VecDeque::with_capacity(CACHE_PAGES)),
    };
    Ok((Body::Kdump(body), info, notes))
}

/// Set bits of `bitmap` in PFNs `[from, to)`: whole bytes by popcount, the ragged
/// ends bit by bit.
fn popcount_range(bitmap: &[u8], from: u64, to: u64) -> u64 {
    if from >= to {
        return 0;
    }
    let (first_full, last_full) = (from.div_ceil(8), to / 8);
    if first_full >= last_full {
        return ones_before(bitmap, from, to);
    }
    let bytes = bitmap
        .get(first_full as usize..(last_full as usize).min(bitmap.len()))
        .unwrap_or(&[]);
    let (words, tail) = bytes.split_at(bytes.len() / 8 * 8);
    let whole: u64 = words
        .chunks_exact(8)
        .map(|w| u64::from(u64::from_le_bytes(w.try_into().expect("8 bytes")).count_ones()))
        .chain(tail.iter().map(|b| u64::from(b.count_ones())))
        .sum();
    ones_before(bitmap, from, first_full * 8) + whole + ones_before(bitmap, last_full * 8, to)
}

enum Lookup {
    Stored(Descriptor),
    State(PageState),
}

impl KdumpBody {
    pub fn vmcoreinfo(&self) -> Option<Vec<u8>> {
        self.vmcoreinfo.clone()
    }

    fn descriptor_index(&self, pfn: u64) -> u64 {
        let block = (pfn - (self.pfn_start - self.pfn_start % RANK_BLOCK_BITS)) / RANK_BLOCK_BITS;
        let block_start = pfn - pfn % RANK_BLOCK_BITS;
        self.rank[block as usize]
            + popcount_range(&self.stored_bitmap, block_start.max(self.pfn_start), pfn)
    }

    fn lookup(&self, pfn: u64) -> Lookup {
        if !bit(&self.ram_bitmap, pfn) && !bit(&self.stored_bitmap, pfn) {
            return Lookup::State(PageState::NotInDump);
        }
        if !bit(&self.stored_bitmap, pfn) {
            return Lookup::State(PageState::Excluded);
        }
        if pfn < self.pfn_start || pfn >= self.pfn_end {
            return Lookup::State(PageState::Missing);
        }
        let at = self.desc_start + self.descriptor_index(pfn) * DESC_SIZE;
        match self.source.bytes(at, DESC_SIZE as usize) {
            Some(raw) => Lookup::Stored(Descriptor::parse(&raw)),
            None => Lookup::State(PageState::Missing),
        }
    }

    fn classify(&self, d: &Descriptor) -> PageState {
        let fits = d
            .offset
            .checked_add(u64::from(d.size))
            .is_some_and(|end| end <= self.source.len());
        if d.size == 0 || !fits {
            PageState::Missing
        } else if d.offset == self.zero_page_offset
            && d.flags == 0
            && u64::from(d.size) == self.page_size
        {
            PageState::Zero
        } else {
            PageState::Present
        }
    }

    pub fn page_state(&self, pfn: u64) -> PageState {
        match self.lookup(pfn) {
            Lookup::State(s) => s,
            Lookup::Stored(d) => self.classify(&d),
        }
    }

    fn load_page(&self, pfn: u64, out: &mut [u8]) -> Result<(), ReadError> {
        let paddr = pfn * self.page_size;
        let d = match self.lookup(pfn) {
            Lookup::Stored(d) => d,
            Lookup::State(PageState::Excluded) => return Err(ReadError::Excluded { paddr }),
            Lookup::State(PageState::Missing) => return Err(ReadError::Missing { paddr }),
            Lookup::State(_) => return Err(ReadError::NotInDump { paddr }),
        };
        if self.classify(&d) == PageState::Missing {
            return Err(ReadError::Missing { paddr });
        }
        let kind = d
            .compression()
            .map_err(|why| ReadError::Corrupt { paddr, why })?;
        // Writers store a page raw when compression would not shrink it.
        if u64::from(d.size) > self.page_size {
            let why = format!(
                "stored size {} exceeds the page size {}",
                d.size, self.page_size
            );
            return Err(ReadError::Corrupt { paddr, why });
        }
        let data = self
            .source
            .bytes(d.offset, d.size as usize)
            .ok_or(ReadError::Missing { paddr })?;
        compress::decompress(kind, &data, out).map_err(|why| ReadError::Corrupt { paddr, why })
    }

    pub fn read_phys(&self, mut paddr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let mut done = 0;
        while done < buf.len() {
            let pfn = paddr / self.page_size;
            if pfn >= self.pfn_end.max(self.ram_bitmap.len() as u64 * 8) {
                return Err(ReadError::NotInDump { paddr });
            }
            let in_page = (paddr % self.page_size) as usize;
            let n = (self.page_size as usize - in_page).min(buf.len() - done);
            let out = &mut buf[done..done + n];
            // A whole page is decoded straight into the caller's buffer: long reads
            // (BTF, kallsyms, the log) would only push the hot pages out of the cache.
            if !self.copy_raw(pfn, in_page, out) {
                if n == self.page_size as usize {
                    self.load_page(pfn, out)?;
                } else {
                    self.copy_cached(pfn, in_page, out)?;
                }
            }
            done += n;
            paddr += n as u64;
        }
        Ok(())
    }

    /// Copies straight from the file when the page is stored uncompressed: no decode,
    /// no cache. Returns false when the page needs the general path.
    fn copy_raw(&self, pfn: u64, in_page: usize, out: &mut [u8]) -> bool {
        let Lookup::Stored(d) = self.lookup(pfn) else {
            return false;
        };
        if d.flags != 0 || u64::from(d.size) != self.page_size {
            return false;
        }
        self.source.read_at(d.offset + in_page as u64, out) == out.len()
    }

    /// Copies part of a page through the cache, which keeps the most recently used
    /// pages: page-table pages, touched by every translation, stay in it. The lock
    /// is not held while a page decompresses, so threads decode in parallel.
    fn copy_cached(&self, pfn: u64, in_page: usize, out: &mut [u8]) -> Result<(), ReadError> {
        let range = in_page..in_page + out.len();
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = cache.iter().position(|(p, _)| *p == pfn) {
                let entry = cache.remove(i).expect("position is in range");
                out.copy_from_slice(&entry.1[range]);
                cache.push_back(entry);
                return Ok(());
            }
        }
        let mut page = vec![0u8; self.page_size as usize].into_boxed_slice();
        self.load_page(pfn, &mut page)?;
        out.copy_from_slice(&page[range]);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if !cache.iter().any(|(p, _)| *p == pfn) {
            if cache.len() == CACHE_PAGES {
                cache.pop_front();
            }
            cache.push_back((pfn, page));
        }
        Ok(())
    }

    /// RAM ranges per the bitmaps; only the stored pages when `stored_only`.
    pub fn ram_ranges(&self, stored_only: bool) -> Vec<(u64, u64)> {
        let mut ranges = Vec::new();
        let mut start = None;
        let max = self.ram_bitmap.len() as u64 * 8;
        for pfn in 0..=max {
            let ram = pfn < max
                && (bit(&self.stored_bitmap, pfn) || (!stored_only && bit(&self.ram_bitmap, pfn)));
            match (ram, start) {
                (true, None) => start = Some(pfn),
                (false, Some(s)) => {
                    ranges.push((s * self.page_size, pfn * self.page_size));
                    start = None;
                }
                _ => {}
            }
        }
        ranges
    }

    /// Counts page states: word-wise popcounts over the bitmaps, then one pass over
    /// the descriptor table in chunks. Time is O(bitmap words + stored pages) with a
    /// tight inner loop; memory is bounded. PFNs are walked one by one only when some
    /// pages are missing, to name their ranges.
    pub fn census(&self) -> PageCensus {
        let mut census = PageCensus::default();
        census.counts.excluded = self
            .ram_bitmap
            .chunks(8)
            .zip(self.stored_bitmap.chunks(8))
            .map(|(r, s)| u64::from((word(r) & !word(s)).count_ones()))
            .sum();
        let in_file = popcount_range(&self.stored_bitmap, self.pfn_start, self.pfn_end);
        let outside_split =
            popcount_range(&self.stored_bitmap, 0, self.ram_bitmap.len() as u64 * 8) - in_file;
        census.counts.missing = outside_split;
        let mut kinds = [false; 5];
        let mut missing_descriptors = false;
        let mut descriptors = DescriptorStream::new(self);
        for _ in 0..in_file {
            let state = match descriptors.next() {
                Some(d) => {
                    if let Ok(kind) = d.compression() {
                        kinds[kind as usize] = true;
                    }
                    self.classify(&d)
                }
                None => PageState::Missing,
            };
            match state {
                PageState::Zero => census.counts.zero += 1,
                PageState::Missing => {
                    census.counts.missing += 1;
                    missing_descriptors = true;
                }
                _ => census.counts.present += 1,
            }
        }
        census.compressions = Compression::ALL
            .into_iter()
            .filter(|&k| kinds[k as usize])
            .collect();
        // The shared zero page is stored raw even in a compressed dump.
        if census.compressions.len() > 1 {
            census.compressions.remove(&Compression::None);
        }
        if missing_descriptors || outside_split > 0 {
            census.missing_ranges = self.missing_ranges();
        }
        census
    }

    /// Physical ranges of stored pages that cannot be read (slow: page by page).
    fn missing_ranges(&self) -> Vec<(u64, u64)> {
        let mut missing: Vec<(u64, u64)> = Vec::new();
        for (start, end) in self.ram_ranges(true) {
            for pfn in start / self.page_size..end / self.page_size {
                if self.page_state(pfn) != PageState::Missing {
                    continue;
                }
                match missing.last_mut() {
                    Some(last) if last.1 == pfn => last.1 += 1,
                    _ => missing.push((pfn, pfn + 1)),
                }
            }
        }
        missing
            .into_iter()
            .map(|(s, e)| (s * self.page_size, e * self.page_size))
            .collect()
    }
}

/// Up to 8 bitmap bytes as one little-endian word (the last chunk may be short).
fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(w)
}

/// Reads page descriptors in order: borrowed from the mapped file a chunk at a time
/// when it holds them contiguously, copied otherwise (flattened streams).
struct DescriptorStream<'a> {
    body: &'a KdumpBody,
    chunk: std::borrow::Cow<'a, [u8]>,
    at: usize,
    next_index: u64,
}

impl<'a> DescriptorStream<'a> {
    const CHUNK: u64 = 16384;

    fn new(body: &'a KdumpBody) -> Self {
        DescriptorStream {
            body,
            chunk: std::borrow::Cow::Borrowed(&[]),
            at: 0,
            next_index: 0,
        }
    }

    fn refill(&mut self) {
        let from = self.body.desc_start + self.next_index * DESC_SIZE;
        let want = Self::CHUNK * DESC_SIZE;
        let len = want.min(self.body.source.len().saturating_sub(from)) as usize;
        let len = len - len % DESC_SIZE as usize;
        self.chunk = match self.body.source.slice(from, len) {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => {
                let mut v = vec![0u8; len];
                let got = self.body.source.read_at(from, &mut v);
                v.truncate(got - got % DESC_SIZE as usize);
                std::borrow::Cow::Owned(v)
            }
        };
        self.at = 0;
    }

    fn next(&mut self) -> Option<Descriptor> {
        if self.at + DESC_SIZE as usize > self.chunk.len() {
            self.refill();
        }
        let raw = self.chunk.get(self.at..self.at + DESC_SIZE as usize)?;
        let d = Descriptor::parse(raw);
        self.at += DESC_SIZE as usize;
        self.next_index += 1;
        Some(d)
    }
}

//! Writing the pages: batches of frames are read, checked for zeros and compressed
//! (in worker threads when asked), then placed in order by one thread.

use super::header::{self, Geometry, HeaderInfo, DESC_SIZE, STATUS_INCOMPLETE};
use super::priority::important_frames;
use crate::compress::{Compression, Encoder};
use crate::filter::{DumpLevel, Filtered};
use crate::sink::Sink;
use crate::CaptureError;
use coroner_dump::PhysMemory;
use coroner_kernel::{Kernel, Memory};
use std::collections::{BTreeMap, HashMap};
use std::sync::{mpsc, Mutex};

/// Frames per batch: large enough to keep threads busy, small enough that the
/// batches in flight stay a few MiB.
const BATCH: usize = 64;
/// Descriptors gathered before they are written (after their pages' data).
const DESC_CHUNK: usize = 2048;
/// The same for the frames written first, whose descriptors are scattered.
const EARLY_DESCS: usize = 1024;

#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    pub compression: Compression,
    pub level: DumpLevel,
    /// Worker threads compressing pages (0 or 1: the writing thread does it).
    pub threads: usize,
    /// Write the important frames first (on by default; off only to compare).
    pub important_first: bool,
}

/// What the writer did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Pages whose data is in the file (zero pages included).
    pub stored: u64,
    /// Of those, all-zero pages sharing the one stored zero page.
    pub zero: u64,
    /// Frames written before the bulk.
    pub important: u64,
    /// Frames the input could not give (their descriptors stay empty).
    pub unreadable: Vec<u64>,
    /// Why the file is incomplete (a write failed), if it is.
    pub write_error: Option<String>,
    /// Length of the dump file.
    pub bytes: u64,
}

impl Outcome {
    pub fn complete(&self) -> bool {
        self.write_error.is_none() && self.unreadable.is_empty()
    }
}

/// One page's result within a batch.
#[derive(Clone, Copy)]
enum Encoded {
    Zero,
    Unreadable,
    /// `len` bytes of the batch's data, with these descriptor flags.
    Data {
        len: u32,
        flags: u32,
    },
}

#[derive(Default)]
struct Batch {
    data: Vec<u8>,
    pages: Vec<Encoded>,
}

fn is_zero(page: &[u8]) -> bool {
    page.chunks_exact(8)
        .all(|w| u64::from_ne_bytes(w.try_into().expect("8 bytes")) == 0)
}

fn encode(
    mem: &dyn PhysMemory,
    pfns: &[u64],
    enc: &mut Encoder,
    zero_pages: bool,
    page: &mut [u8],
) -> Batch {
    let ps = page.len() as u64;
    let mut b = Batch {
        data: Vec::with_capacity(pfns.len() * page.len() / 2),
        pages: Vec::with_capacity(pfns.len()),
    };
    let flag = header::codec_flag(enc.kind());
    for &pfn in pfns {
        if mem.read_phys(pfn * ps, page).is_err() {
            b.pages.push(Encoded::Unreadable);
            continue;
        }
        if zero_pages && is_zero(page) {
            b.pages.push(Encoded::Zero);
            continue;
        }
        let (bytes, flags) = match enc.compress(page) {
            Some(c) => (c, flag),
            None => (&page[..], 0),
        };
        b.data.extend_from_slice(bytes);
        b.pages.push(Encoded::Data {
            len: bytes.len() as u32,
            flags,
        });
    }
    b
}

/// The identity fields the header copies from the dumped kernel.
fn header_info(kernel: &Kernel, filtered: &Filtered, opts: &WriteOptions) -> HeaderInfo {
    let dump = kernel.dump();
    let info = kernel.vmcoreinfo();
    let mut utsname: [String; 6] = Default::default();
    let uts_at = info
        .symbol("init_uts_ns")
        .map(|s| s + info.offset("uts_namespace", "name").unwrap_or(0));
    let mut raw = [0u8; 6 * 65];
    if uts_at.is_some_and(|at| kernel.read(at, &mut raw).is_ok()) {
        for (i, field) in utsname.iter_mut().enumerate() {
            let f = &raw[i * 65..(i + 1) * 65];
            let end = f.iter().position(|&c| c == 0).unwrap_or(65);
            *field = String::from_utf8_lossy(&f[..end]).into_owned();
        }
    } else {
        utsname[0] = "Linux".into();
        utsname[2] = info.osrelease().unwrap_or_default().to_string();
        utsname[4] = dump.info().arch.clone().unwrap_or_default();
    }
    // An input whose VMCOREINFO came from a memory scan (a VMware checkpoint) has
    // no note for it; the output gets one, as kexec would have handed over.
    let mut notes = dump.notes().to_vec();
    if !notes.iter().any(|n| n.is_vmcoreinfo()) {
        if let Some(text) = dump.vmcoreinfo() {
            notes.push(coroner_dump::Note {
                name: "VMCOREINFO".into(),
                kind: 0,
                desc: text.to_vec(),
            });
        }
    }
    let (notes, vmcoreinfo) = header::note_blob(&notes);
    HeaderInfo {
        utsname,
        timestamp: info.crash_time().unwrap_or(0),
        compression: opts.compression,
        page_size: dump.page_size(),
        max_mapnr: filtered.max_mapnr,
        nr_cpus: dump.notes().iter().filter(|n| n.is_prstatus()).count() as u32,
        phys_base: crate::filter::number(info, "phys_base")
            .map(|v| v as u64)
            .or(dump.info().phys_base)
            .unwrap_or(0),
        dump_level: opts.level.0,
        notes,
        vmcoreinfo,
    }
}

/// Places batches in the file, in the order given.
struct Placer<'a> {
    sink: &'a mut dyn Sink,
    geometry: Geometry,
    /// Next free byte of the data area.
    cursor: u64,
    zero_desc: Option<[u8; DESC_SIZE as usize]>,
    outcome: Outcome,
}

impl Placer<'_> {
    /// Writes a batch's data and returns each page's descriptor (zeros for a page
    /// that could not be read).
    fn place(
        &mut self,
        pfns: &[u64],
        batch: &Batch,
    ) -> std::io::Result<Vec<[u8; DESC_SIZE as usize]>> {
        self.sink.write_at(self.cursor, &batch.data)?;
        let mut descs = Vec::with_capacity(pfns.len());
        let mut at = self.cursor;
        for (pfn, page) in pfns.iter().zip(&batch.pages) {
            descs.push(match *page {
                Encoded::Zero => {
                    self.outcome.zero += 1;
                    self.outcome.stored += 1;
                    self.zero_desc.expect("zero pages only with -d bit 1")
                }
                Encoded::Unreadable => {
                    self.outcome.unreadable.push(*pfn);
                    [0; DESC_SIZE as usize]
                }
                Encoded::Data { len, flags } => {
                    self.outcome.stored += 1;
                    let d = header::descriptor(at, len, flags);
                    at += u64::from(len);
                    d
                }
            });
        }
        self.cursor = at;
        Ok(descs)
    }
}

/// Encodes `pfns` batch by batch (in `threads` workers when more than one) and
/// hands each batch, in order, to `take`. Stops at the first error of `take`.
/// Frames are drawn from the iterator as work is handed out, so memory holds only
/// the batches in flight, whatever the dump's size.
fn run_batches(
    kernel: &Kernel,
    pfns: impl Iterator<Item = u64>,
    opts: &WriteOptions,
    mut take: impl FnMut(&[u64], Batch) -> std::io::Result<()>,
) -> Result<std::io::Result<()>, CaptureError> {
    let dump = kernel.dump();
    let ps = dump.page_size() as usize;
    let zero_pages = opts.level.has(DumpLevel::ZERO);
    let mut pfns = pfns.peekable();
    let mut next_chunk = move || -> Option<Vec<u64>> {
        pfns.peek()?;
        Some(pfns.by_ref().take(BATCH).collect())
    };
    if opts.threads <= 1 {
        let mut enc = Encoder::new(opts.compression, ps)?;
        let mut page = vec![0u8; ps];
        while let Some(chunk) = next_chunk() {
            let batch = encode(dump, &chunk, &mut enc, zero_pages, &mut page);
            if let Err(e) = take(&chunk, batch) {
                return Ok(Err(e));
            }
        }
        return Ok(Ok(()));
    }
    let in_flight = opts.threads * 4;
    let (work_tx, work_rx) = mpsc::sync_channel::<(usize, Vec<u64>)>(in_flight);
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = mpsc::channel::<(usize, Vec<u64>, Batch)>();
    std::thread::scope(|scope| {
        for _ in 0..opts.threads {
            let done_tx = done_tx.clone();
            let work_rx = &work_rx;
            scope.spawn(move || {
                let Ok(mut enc) = Encoder::new(opts.compression, ps) else {
                    return;
                };
                let mut page = vec![0u8; ps];
                loop {
                    let job = work_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((i, chunk))) = job else { return };
                    let batch = encode(dump, &chunk, &mut enc, zero_pages, &mut page);
                    if done_tx.send((i, chunk, batch)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        let mut waiting: BTreeMap<usize, (Vec<u64>, Batch)> = BTreeMap::new();
        let (mut sent, mut want) = (0usize, 0usize);
        let mut result = Ok(());
        let mut exhausted = false;
        loop {
            // Keep the workers fed, never more than `in_flight` batches ahead.
            while !exhausted && result.is_ok() && sent - want < in_flight {
                match next_chunk() {
                    Some(chunk) => {
                        work_tx
                            .send((sent, chunk))
                            .expect("workers live in this scope");
                        sent += 1;
                    }
                    None => exhausted = true,
                }
            }
            if want == sent {
                break;
            }
            let Ok((i, chunk, batch)) = done_rx.recv() else {
                break;
            };
            waiting.insert(i, (chunk, batch));
            while let Some((chunk, batch)) = waiting.remove(&want) {
                if result.is_ok() {
                    result = take(&chunk, batch);
                }
                want += 1;
            }
            if result.is_err() && want == sent {
                break;
            }
        }
        drop(work_tx);
        Ok(result)
    })
}

/// Writes the kdump-compressed dump of `filtered` frames to `sink`. `progress` is
/// called with the number of frames done so far.
pub fn write(
    kernel: &Kernel,
    filtered: &Filtered,
    opts: &WriteOptions,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(u64),
) -> Result<Outcome, CaptureError> {
    let ps = kernel.dump().page_size();
    let h = header_info(kernel, filtered, opts);
    let dumpable = &filtered.dumpable;
    let count = dumpable.count();
    let g = Geometry::new(ps, h.notes.len() as u64, filtered.max_mapnr, count);
    let mut outcome = Outcome::default();
    let fail = |outcome: &mut Outcome, e: std::io::Error| {
        outcome.write_error = Some(e.to_string());
    };

    // Headers and bitmaps, the header marked incomplete until the end.
    let mut bitmaps = filtered.ram.to_bytes();
    bitmaps.resize(g.bitmap_half as usize, 0);
    let mut second = dumpable.to_bytes();
    second.resize(g.bitmap_half as usize, 0);
    let front = (|| {
        sink.write_at(0, &header::main_header(&h, &g, STATUS_INCOMPLETE))?;
        sink.write_at(g.block_size, &header::sub_header(&h, &g))?;
        sink.write_at(g.bitmap_offset, &bitmaps)?;
        sink.write_at(g.bitmap_offset + g.bitmap_half, &second)?;
        sink.reserve(g.data_offset)
    })();
    drop((bitmaps, second));
    if let Err(e) = front {
        fail(&mut outcome, e);
        return Ok(outcome);
    }

    let mut placer = Placer {
        sink,
        geometry: g,
        cursor: g.data_offset,
        zero_desc: None,
        outcome,
    };
    if opts.level.has(DumpLevel::ZERO) {
        let zero = vec![0u8; ps as usize];
        if let Err(e) = placer.sink.write_at(placer.cursor, &zero) {
            fail(&mut placer.outcome, e);
            return Ok(placer.outcome);
        }
        placer.zero_desc = Some(header::descriptor(placer.cursor, ps as u32, 0));
        placer.cursor += ps;
    }

    // Important frames first; their descriptors are kept to be written again in
    // place when the bulk pass reaches them.
    let important = if opts.important_first {
        important_frames(kernel, dumpable)
    } else {
        Vec::new()
    };
    placer.outcome.important = important.len() as u64;
    let mut early: HashMap<u64, [u8; DESC_SIZE as usize]> = HashMap::with_capacity(important.len());
    let mut done = 0u64;
    let mut sorted = important.clone();
    sorted.sort_unstable();
    let rank = ranks(dumpable, &sorted);
    // Their descriptors go out behind their data every EARLY_DESCS frames, so a
    // disk that fills up during this pass still leaves the frames written usable.
    let mut pending: Vec<(u64, [u8; DESC_SIZE as usize])> = Vec::new();
    let write_pending = |placer: &mut Placer,
                         pending: &mut Vec<(u64, [u8; DESC_SIZE as usize])>|
     -> std::io::Result<()> {
        pending.sort_unstable_by_key(|p| p.0);
        for (rank, d) in pending.drain(..) {
            placer
                .sink
                .write_at(placer.geometry.desc_offset + rank * DESC_SIZE, &d)?;
        }
        placer.sink.flush()
    };
    let result = run_batches(kernel, important.iter().copied(), opts, |pfns, batch| {
        let descs = placer.place(pfns, &batch)?;
        for (pfn, d) in pfns.iter().zip(descs) {
            early.insert(*pfn, d);
            pending.push((rank[pfn], d));
        }
        if pending.len() >= EARLY_DESCS {
            write_pending(&mut placer, &mut pending)?;
        }
        done += pfns.len() as u64;
        progress(done);
        Ok(())
    })?;
    if let Err(e) = result.and_then(|()| write_pending(&mut placer, &mut pending)) {
        fail(&mut placer.outcome, e);
        placer.outcome.bytes = placer.sink.written();
        return Ok(placer.outcome);
    }

    // The rest in frame order, descriptors in runs behind their data.
    let rest = dumpable.ones().filter(|p| !early.contains_key(p));
    let mut descs: Vec<u8> = Vec::with_capacity(DESC_CHUNK * DESC_SIZE as usize);
    let mut desc_at = g.desc_offset;
    let mut all = dumpable.ones().peekable();
    let result = run_batches(kernel, rest, opts, |pfns, batch| {
        let mine = placer.place(pfns, &batch)?;
        let mut mine = pfns.iter().zip(mine).peekable();
        // Walk the table in frame order, taking early frames' descriptors as met.
        while let Some(&pfn) = all.peek() {
            let d = if let Some(d) = early.get(&pfn) {
                *d
            } else if let Some((_, d)) = mine.next_if(|(p, _)| **p == pfn) {
                d
            } else {
                break;
            };
            all.next();
            descs.extend_from_slice(&d);
            if descs.len() >= DESC_CHUNK * DESC_SIZE as usize {
                placer.sink.write_at(desc_at, &descs)?;
                desc_at += descs.len() as u64;
                descs.clear();
            }
        }
        done += pfns.len() as u64;
        progress(done);
        Ok(())
    })?;
    let tail = result.and_then(|()| {
        // Descriptors of early frames after the last bulk frame.
        for pfn in all {
            descs.extend_from_slice(&early[&pfn]);
        }
        placer.sink.write_at(desc_at, &descs)?;
        placer.sink.flush()?;
        let status = if placer.outcome.unreadable.is_empty() {
            0
        } else {
            STATUS_INCOMPLETE
        };
        let main = header::main_header(&h, &g, status);
        placer.sink.write_at(0, &main[..header::HEADER_SIZE])?;
        placer.sink.finish()
    });
    if let Err(e) = tail {
        fail(&mut placer.outcome, e);
    }
    placer.outcome.bytes = placer.sink.written();
    Ok(placer.outcome)
}

/// Each listed frame's index in the descriptor table (its rank in `dumpable`).
fn ranks(dumpable: &crate::Bitmap, sorted: &[u64]) -> HashMap<u64, u64> {
    let mut out = HashMap::with_capacity(sorted.len());
    if sorted.is_empty() {
        return out;
    }
    let mut want = sorted.iter().peekable();
    for (i, pfn) in dumpable.ones().enumerate() {
        while want.next_if(|&&w| w < pfn).is_some() {}
        if want.next_if(|&&w| w == pfn).is_some() {
            out.insert(pfn, i as u64);
        }
        if want.peek().is_none() {
            break;
        }
    }
    out
}

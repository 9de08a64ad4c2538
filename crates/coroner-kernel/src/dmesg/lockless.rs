//! The lockless printk ringbuffer (Linux 5.10 and later): a ring of descriptors, a
//! parallel array of `printk_info` records and a text data ring, all located by
//! VMCOREINFO (kernel/printk/printk_ringbuffer.h). Records are read one by one from
//! the tail id to the head id, as makedumpfile does, so a page the dump lacks costs
//! only the records in it.

use super::recover::{self, Block, Region};
use super::{Log, LogError, LogRead, LogRecord};
use crate::memory::Memory;
use crate::VmcoreInfo;

/// A descriptor's state sits in the top two bits of its `state_var`; the rest is its id.
const STATE_SHIFT: u32 = 62;
pub(super) const ID_MASK: u64 = !(3 << STATE_SHIFT);
const COMMITTED: u64 = 1;
const FINALIZED: u64 = 2;
/// Each text block starts with the id of the descriptor that owns it.
const BLOCK_ID_SIZE: u64 = 8;
/// Larger rings than the kernel allows (log_buf_len is at most 2^31) mean corruption.
const MAX_RING_BITS: u32 = 31;
/// Struct sizes beyond this are garbage, not a kernel's layout.
const MAX_STRUCT_SIZE: u64 = 4096;
/// After this many unreadable descriptors in a row the ring is not where VMCOREINFO
/// says (or not in the dump): stop rather than fail 2^31 times.
const MAX_CONSECUTIVE_FAILURES: usize = 1 << 16;
/// Live text blocks are disjoint, so their total cannot exceed the data ring; past
/// 256 MiB (8 times the largest CONFIG_LOG_BUF_SHIFT) it is corruption, not a log.
const MAX_TEXT_TOTAL: u64 = 256 << 20;

/// Field offsets and sizes, all from VMCOREINFO.
struct Layout {
    desc_ring: u64,
    text_ring: u64,
    count_bits: u64,
    descs: u64,
    infos: u64,
    head_id: u64,
    tail_id: u64,
    counter: u64,
    desc_size: u64,
    state_var: u64,
    text_blk_lpos: u64,
    lpos_begin: u64,
    lpos_next: u64,
    size_bits: u64,
    data: u64,
    info_size: u64,
    seq: u64,
    ts_nsec: u64,
    text_len: u64,
    caller_id: Option<u64>,
    dev_info: Option<DevInfo>,
}

struct DevInfo {
    offset: u64,
    subsystem: u64,
    subsystem_len: u64,
    device: u64,
    device_len: u64,
}

impl Layout {
    fn from(info: &VmcoreInfo) -> Result<Layout, LogError> {
        let off = |t: &str, m: &str| {
            info.offset(t, m)
                .ok_or_else(|| LogError::MissingInfo(format!("OFFSET({t}.{m})")))
        };
        let size = |t: &str| {
            info.size(t)
                .ok_or_else(|| LogError::MissingInfo(format!("SIZE({t})")))
        };
        let dev_info = match (
            info.offset("printk_info", "dev_info"),
            info.offset("dev_printk_info", "subsystem"),
            info.length("printk_info_subsystem"),
            info.offset("dev_printk_info", "device"),
            info.length("printk_info_device"),
        ) {
            (
                Some(offset),
                Some(subsystem),
                Some(subsystem_len),
                Some(device),
                Some(device_len),
            ) => Some(DevInfo {
                offset,
                subsystem,
                subsystem_len,
                device,
                device_len,
            }),
            _ => None,
        };
        let layout = Layout {
            desc_ring: off("printk_ringbuffer", "desc_ring")?,
            text_ring: off("printk_ringbuffer", "text_data_ring")?,
            count_bits: off("prb_desc_ring", "count_bits")?,
            descs: off("prb_desc_ring", "descs")?,
            infos: off("prb_desc_ring", "infos")?,
            head_id: off("prb_desc_ring", "head_id")?,
            tail_id: off("prb_desc_ring", "tail_id")?,
            counter: off("atomic_long_t", "counter")?,
            desc_size: size("prb_desc")?,
            state_var: off("prb_desc", "state_var")?,
            text_blk_lpos: off("prb_desc", "text_blk_lpos")?,
            lpos_begin: off("prb_data_blk_lpos", "begin")?,
            lpos_next: off("prb_data_blk_lpos", "next")?,
            size_bits: off("prb_data_ring", "size_bits")?,
            data: off("prb_data_ring", "data")?,
            info_size: size("printk_info")?,
            seq: off("printk_info", "seq")?,
            ts_nsec: off("printk_info", "ts_nsec")?,
            text_len: off("printk_info", "text_len")?,
            caller_id: info.offset("printk_info", "caller_id"),
            dev_info,
        };
        for (name, size) in [
            ("prb_desc", layout.desc_size),
            ("printk_info", layout.info_size),
        ] {
            if size > MAX_STRUCT_SIZE {
                return Err(LogError::Corrupt(format!(
                    "SIZE({name})={size} is not plausible"
                )));
            }
        }
        Ok(layout)
    }
}

/// The ring as found in memory.
struct Ring {
    count: u64,
    descs: u64,
    infos: u64,
    data_size: u64,
    data: u64,
}

/// Reads every committed or finalized record from the tail to the head.
pub fn read(mem: &dyn Memory, info: &VmcoreInfo) -> Result<LogRead, LogError> {
    let prb_var = info
        .symbol("prb")
        .ok_or_else(|| LogError::MissingInfo("SYMBOL(prb)".into()))?;
    let l = Layout::from(info)?;
    let read = |what: &str, vaddr: u64| {
        mem.read_u64(vaddr).map_err(|source| LogError::Read {
            what: what.to_string(),
            source,
        })
    };
    let mut warnings = Vec::new();
    let prb = match read("the prb pointer", prb_var) {
        Ok(prb) => prb,
        // `prb` points to the static ring unless a bigger one was allocated at boot.
        Err(e) => match info.symbol("printk_rb_static") {
            Some(ring) => {
                warnings.push(format!("{e}: assuming the static ring printk_rb_static"));
                ring
            }
            None => return recover_blind(mem, info, &l, e, warnings),
        },
    };
    let found = (|| {
        let desc_ring = prb.wrapping_add(l.desc_ring);
        let text_ring = prb.wrapping_add(l.text_ring);
        let count_bits = read(
            "prb desc_ring.count_bits",
            desc_ring.wrapping_add(l.count_bits),
        )? as u32;
        let size_bits = read(
            "prb text_data_ring.size_bits",
            text_ring.wrapping_add(l.size_bits),
        )? as u32;
        if count_bits > MAX_RING_BITS || size_bits > MAX_RING_BITS {
            return Err(LogError::Corrupt(format!(
                "ring sizes 2^{count_bits} descriptors, 2^{size_bits} text bytes"
            )));
        }
        let ring = Ring {
            count: 1 << count_bits,
            descs: read("prb desc_ring.descs", desc_ring.wrapping_add(l.descs))?,
            infos: read("prb desc_ring.infos", desc_ring.wrapping_add(l.infos))?,
            data_size: 1 << size_bits,
            data: read("prb text_data_ring.data", text_ring.wrapping_add(l.data))?,
        };
        let head = read(
            "prb head_id",
            desc_ring.wrapping_add(l.head_id).wrapping_add(l.counter),
        )? & ID_MASK;
        let tail = read(
            "prb tail_id",
            desc_ring.wrapping_add(l.tail_id).wrapping_add(l.counter),
        )? & ID_MASK;
        Ok((ring, head, tail))
    })();
    let (ring, head, mut tail) = match found {
        Ok(found) => found,
        Err(e @ LogError::Read { .. }) => return recover_blind(mem, info, &l, e, warnings),
        Err(e) => return Err(e),
    };
    let span = head.wrapping_sub(tail) & ID_MASK;
    if span >= ring.count {
        warnings.push(format!(
            "descriptor ids run from {tail} to {head}, more than the ring's {} slots: \
             reading only the last {}",
            ring.count, ring.count
        ));
        tail = head.wrapping_sub(ring.count - 1) & ID_MASK;
    }

    let mut records = Vec::new();
    let mut unreadable = Unreadable::default();
    let mut id = tail;
    let mut failures_in_a_row = 0;
    let mut text_total = 0u64;
    let mut seq_minus_id = None;
    let text_limit = ring.data_size.min(MAX_TEXT_TOTAL);
    loop {
        match read_record(mem, &l, &ring, id) {
            Ok(Some(record)) => {
                seq_minus_id.get_or_insert(record.seq.wrapping_sub(id));
                text_total += record.text.len() as u64;
                if text_total > text_limit {
                    warnings.push(format!(
                        "records up to descriptor id {id} hold more text than the \
                         {text_limit}-byte data ring: the descriptors are corrupt, stopping"
                    ));
                    break;
                }
                records.push(record);
            }
            Ok(None) => {}
            Err(e) => unreadable.note(id, e),
        }
        failures_in_a_row = if unreadable.last_failed(id) {
            failures_in_a_row + 1
        } else {
            0
        };
        if failures_in_a_row == MAX_CONSECUTIVE_FAILURES {
            warnings.push(format!(
                "gave up after {MAX_CONSECUTIVE_FAILURES} unreadable descriptors in a row \
                 (last id {id})"
            ));
            break;
        }
        if id == head {
            break;
        }
        id = (id + 1) & ID_MASK;
    }
    warnings.extend(unreadable.warning());
    if !unreadable.ids.is_empty() {
        recover_known(
            mem,
            &l,
            &ring,
            &unreadable.ids,
            seq_minus_id,
            &mut records,
            &mut warnings,
        );
    }
    Ok(LogRead {
        log: Log::Records(records),
        warnings,
    })
}

/// The text data ring is searched this far below `clear_seq` when `prb` is
/// unreadable: the static ring's `__log_buf` sits beside it in printk.c's `.bss`.
const BLIND_DATA_WINDOW: u64 = 4 << 20;
/// The `printk_info` array is searched this far around the static ring struct,
/// defined with it.
const BLIND_INFOS_WINDOW: u64 = 2 << 20;

/// Records whose descriptors were unreadable, found in the (known) text data ring
/// by their ids; their `printk_info` is used when it is this record's.
fn recover_known(
    mem: &dyn Memory,
    l: &Layout,
    ring: &Ring,
    ids: &[u64],
    seq_minus_id: Option<u64>,
    records: &mut Vec<LogRecord>,
    warnings: &mut Vec<String>,
) {
    let wanted: std::collections::HashSet<u64> = ids.iter().copied().collect();
    let region = Region::read(mem, ring.data, ring.data_size);
    let blocks = recover::find_blocks(&region, Some(&|id| wanted.contains(&id)));
    if blocks.is_empty() {
        return;
    }
    let found = blocks.len();
    let mut bare = 0;
    for block in blocks {
        let slot = block.id % ring.count;
        let at = ring.infos.wrapping_add(slot * l.info_size);
        let expected = seq_minus_id.map(|d| block.id.wrapping_add(d));
        match with_info(mem, l, at, &block, |seq| {
            expected.map_or(seq % ring.count == slot, |e| seq == e)
        }) {
            Some(record) => records.push(record),
            None => {
                bare += 1;
                let mut record = recover::bare_record(block);
                record.seq = expected.unwrap_or(record.seq);
                records.push(record);
            }
        }
    }
    records.sort_by_key(|r| r.seq);
    warnings.push(format!(
        "{found} of the {} records with unreadable descriptors recovered from the text \
         data ring by their ids{}",
        ids.len(),
        if bare > 0 {
            format!(
                " ({bare} without time stamp or level, their text's end a guess: \
                 their printk_info is unreadable)"
            )
        } else {
            String::new()
        }
    ));
}

/// The record of `block` with the `printk_info` at `at`, if that is readable,
/// belongs to it (`seq_ok`) and agrees with the block's length.
fn with_info(
    mem: &dyn Memory,
    l: &Layout,
    at: u64,
    block: &Block,
    seq_ok: impl Fn(u64) -> bool,
) -> Option<LogRecord> {
    let mut inf = vec![0u8; l.info_size as usize];
    mem.read(at, &mut inf).ok()?;
    let seq = field_u64(&inf, l.seq).ok()?;
    let text_len = usize::from(field_u16(&inf, l.text_len).ok()?);
    // The block holds the text and at most 7 bytes of padding.
    if !seq_ok(seq) || text_len > block.text.len() + 7 {
        return None;
    }
    let text = block.text[..text_len.min(block.text.len())].to_vec();
    record_from_info(l, &inf, text).ok()
}

/// The log when the ring struct itself is unreadable: text blocks found by their
/// shape below `clear_seq` (where the static ring's `__log_buf` is), their
/// `printk_info` found by sequence number near `printk_rb_static`.
fn recover_blind(
    mem: &dyn Memory,
    info: &VmcoreInfo,
    l: &Layout,
    error: LogError,
    mut warnings: Vec<String>,
) -> Result<LogRead, LogError> {
    let Some(near) = info.symbol("clear_seq") else {
        return Err(error);
    };
    // A cheap look first: the static data ring ends just below clear_seq, so
    // with none of the 16 pages there readable, nothing is to be found.
    let mut probe = [0u8; 8];
    let near_page = near & !0xfff;
    if !(1..=16).any(|k| {
        mem.read(near_page.wrapping_sub(k * 4096), &mut probe)
            .is_ok()
    }) {
        return Err(error);
    }
    let data = Region::read(
        mem,
        near.saturating_sub(BLIND_DATA_WINDOW),
        BLIND_DATA_WINDOW + (64 << 10),
    );
    let blocks = recover::densest_run(recover::find_blocks(&data, None));
    if blocks.len() < 2 {
        return Err(error);
    }
    let infos = info
        .symbol("printk_rb_static")
        .or(info.symbol("prb"))
        .and_then(|ring| {
            let region = Region::read(
                mem,
                ring.saturating_sub(BLIND_INFOS_WINDOW),
                2 * BLIND_INFOS_WINDOW,
            );
            recover::find_infos(&region, l.seq, l.info_size, &blocks)
        });
    let found = blocks.len();
    let mut timed = 0;
    let records: Vec<LogRecord> = blocks
        .into_iter()
        .map(|block| {
            let with = infos.and_then(|infos| {
                let at = infos
                    .array
                    .wrapping_add((block.id % infos.count) * l.info_size);
                with_info(mem, l, at, &block, |seq| seq == infos.seq(block.id))
            });
            match with {
                Some(record) => {
                    timed += 1;
                    record
                }
                None => {
                    let id = block.id;
                    let mut record = recover::bare_record(block);
                    if let Some(infos) = infos {
                        record.seq = infos.seq(id);
                    }
                    record
                }
            }
        })
        .collect();
    warnings.push(format!(
        "{error}: the ring's bookkeeping is unreadable; {found} records recovered by \
         their shape from the text data ring below clear_seq ({}); records whose text \
         pages are missing are lost, and the oldest may be stale",
        match infos {
            Some(infos) => format!(
                "{timed} with time stamp and level from the printk_info array at {:#x}",
                infos.array
            ),
            None => "no printk_info array found: no time stamps or levels, and the \
                     end of each text is a guess"
                .into(),
        }
    ));
    Ok(LogRead {
        log: Log::Records(records),
        warnings,
    })
}

/// Records that could not be read, summarised into one warning.
#[derive(Default)]
struct Unreadable {
    count: usize,
    first: Option<(u64, String)>,
    last: Option<u64>,
    /// The ids, as many as a ring of 2^20 descriptors holds.
    ids: Vec<u64>,
}

impl Unreadable {
    fn note(&mut self, id: u64, error: String) {
        self.count += 1;
        self.last = Some(id);
        if self.ids.len() < 1 << 20 {
            self.ids.push(id);
        }
        self.first.get_or_insert((id, error));
    }

    fn last_failed(&self, id: u64) -> bool {
        self.last == Some(id)
    }

    fn warning(&self) -> Option<String> {
        let (id, error) = self.first.as_ref()?;
        Some(format!(
            "{} log record(s) unreadable, first descriptor id {id}: {error}",
            self.count
        ))
    }
}

/// One descriptor's record; `None` when the slot holds no finished message (being
/// written, reused, or data-less), as makedumpfile skips them.
fn read_record(
    mem: &dyn Memory,
    l: &Layout,
    ring: &Ring,
    id: u64,
) -> Result<Option<LogRecord>, String> {
    let slot = id % ring.count;
    let desc = ring.descs.wrapping_add(slot * l.desc_size);
    let mut d = vec![0u8; l.desc_size as usize];
    mem.read(desc, &mut d).map_err(|e| e.to_string())?;
    let state_var = field_u64(&d, l.state_var)?;
    let state = state_var >> STATE_SHIFT;
    if state_var & ID_MASK != id || (state != COMMITTED && state != FINALIZED) {
        return Ok(None);
    }
    let lpos = l.text_blk_lpos;
    let mut begin = field_u64(&d, lpos.saturating_add(l.lpos_begin))? % ring.data_size;
    let next = field_u64(&d, lpos.saturating_add(l.lpos_next))? % ring.data_size;
    if begin == next {
        return Ok(None);
    }

    let mut inf = vec![0u8; l.info_size as usize];
    mem.read(ring.infos.wrapping_add(slot * l.info_size), &mut inf)
        .map_err(|e| e.to_string())?;
    let mut text_len = u64::from(field_u16(&inf, l.text_len)?);
    // A block that wraps is stored whole at the start of the data ring.
    if begin > next {
        begin = 0;
    }
    begin += BLOCK_ID_SIZE;
    // The text may have been truncated to fit its block (unsigned, as in makedumpfile).
    text_len = text_len.min(next.wrapping_sub(begin));
    if begin + text_len > ring.data_size {
        return Err(format!(
            "text block {begin}+{text_len} runs past the data ring"
        ));
    }
    let mut text = vec![0u8; text_len as usize];
    mem.read(ring.data.wrapping_add(begin), &mut text)
        .map_err(|e| e.to_string())?;

    record_from_info(l, &inf, text).map(Some)
}

/// A record from its `printk_info` bytes and its text.
fn record_from_info(l: &Layout, inf: &[u8], text: Vec<u8>) -> Result<LogRecord, String> {
    // After text_len come `u8 facility` and a byte holding `flags:5, level:3`;
    // VMCOREINFO does not list them, but their place has not moved since 5.10.
    let level_byte = field_u8(inf, l.text_len.saturating_add(3))?;
    let (subsystem, device) = match &l.dev_info {
        Some(dev) => (
            c_string(
                inf,
                dev.offset.saturating_add(dev.subsystem),
                dev.subsystem_len,
            )?,
            c_string(inf, dev.offset.saturating_add(dev.device), dev.device_len)?,
        ),
        None => (None, None),
    };
    Ok(LogRecord {
        seq: field_u64(inf, l.seq)?,
        ts_nsec: field_u64(inf, l.ts_nsec)?,
        level: level_byte >> 5,
        facility: field_u8(inf, l.text_len.saturating_add(2))?,
        caller: l
            .caller_id
            .map(|off| field_u32(inf, off).map(caller_name))
            .transpose()?,
        text,
        subsystem,
        device,
    })
}

/// The kernel's caller id: a task id, or a CPU number with the top bit set.
pub fn caller_name(id: u32) -> String {
    const CPU: u32 = 0x8000_0000;
    if id & CPU != 0 {
        format!("C{}", id & !CPU)
    } else {
        format!("T{id}")
    }
}

fn field<const N: usize>(buf: &[u8], off: u64) -> Result<[u8; N], String> {
    usize::try_from(off)
        .ok()
        .and_then(|o| buf.get(o..o.checked_add(N)?))
        .map(|b| b.try_into().expect("slice of length N"))
        .ok_or_else(|| {
            format!(
                "field at offset {off} lies outside its {}-byte struct",
                buf.len()
            )
        })
}

fn field_u64(buf: &[u8], off: u64) -> Result<u64, String> {
    field::<8>(buf, off).map(u64::from_le_bytes)
}

fn field_u32(buf: &[u8], off: u64) -> Result<u32, String> {
    field::<4>(buf, off).map(u32::from_le_bytes)
}

fn field_u16(buf: &[u8], off: u64) -> Result<u16, String> {
    field::<2>(buf, off).map(u16::from_le_bytes)
}

fn field_u8(buf: &[u8], off: u64) -> Result<u8, String> {
    field::<1>(buf, off).map(|b| b[0])
}

/// A NUL-padded `char[len]` field; empty means absent.
fn c_string(buf: &[u8], off: u64, len: u64) -> Result<Option<String>, String> {
    let bytes = usize::try_from(off)
        .ok()
        .zip(usize::try_from(len).ok())
        .and_then(|(o, n)| buf.get(o..o.checked_add(n)?))
        .ok_or_else(|| format!("string field at offset {off} lies outside its struct"))?;
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    Ok((end > 0).then(|| String::from_utf8_lossy(&bytes[..end]).into_owned()))
}

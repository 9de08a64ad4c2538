//! The structured log of Linux 3.5 to 5.9 (RHEL 7 and 8): `struct printk_log`
//! records (named `struct log` until 3.11) packed in `log_buf`, oldest at
//! `log_first_idx`, the next to be written at `log_next_idx`. A record of length 0
//! marks the wrap back to the buffer's start (kernel/printk/printk.c, log_store).
//! Records are walked as makedumpfile walks them, with every step checked: the
//! walk ends at `log_next_idx`, or with a warning at the first corrupt record.

use super::lockless::caller_name;
use super::log_buf::{Gap, LogBuf, MAX_LOG_BUF_LEN};
use super::{Log, LogError, LogRead, LogRecord};
use crate::memory::Memory;
use crate::VmcoreInfo;

/// Where the fields are, from VMCOREINFO.
struct Layout {
    header: u64,
    ts_nsec: u64,
    len: u64,
    text_len: u64,
    /// `u16 dict_len`, then `u8 facility` and a byte holding `flags:5, level:3`
    /// (bit-fields fill from the low bit on x86): the order has not changed since 3.5.
    dict_len: u64,
    /// `u32 caller_id`, 5.1 to 5.9 with CONFIG_PRINTK_CALLER.
    caller_id: Option<u64>,
}

impl Layout {
    fn from(info: &VmcoreInfo) -> Result<Layout, LogError> {
        // 3.11 renamed `struct log` to `struct printk_log`.
        let (ty, header) = match (info.size("printk_log"), info.size("log")) {
            (Some(size), _) => ("printk_log", size),
            (None, Some(size)) => ("log", size),
            (None, None) => {
                return Err(LogError::MissingInfo(
                    "SIZE(printk_log) (SIZE(log) before 3.11)".into(),
                ))
            }
        };
        let off = |m: &str| {
            info.offset(ty, m)
                .ok_or_else(|| LogError::MissingInfo(format!("OFFSET({ty}.{m})")))
        };
        let l = Layout {
            header,
            ts_nsec: off("ts_nsec")?,
            len: off("len")?,
            text_len: off("text_len")?,
            dict_len: off("dict_len")?,
            caller_id: info.offset(ty, "caller_id"),
        };
        let fields = [
            (l.ts_nsec, 8),
            (l.len, 2),
            (l.text_len, 2),
            (l.dict_len, 4),
            (l.caller_id.unwrap_or(0), 4),
        ];
        if fields
            .iter()
            .any(|&(at, n)| at.checked_add(n).is_none_or(|end| end > l.header))
        {
            return Err(LogError::Corrupt(format!(
                "the {ty} fields VMCOREINFO gives do not fit its SIZE({ty})={}",
                l.header
            )));
        }
        Ok(l)
    }
}

pub fn read(mem: &dyn Memory, info: &VmcoreInfo) -> Result<LogRead, LogError> {
    let l = Layout::from(info)?;
    let sym = |name: &str| {
        info.symbol(name)
            .ok_or_else(|| LogError::MissingInfo(format!("SYMBOL({name})")))
    };
    let read_u32 = |name: &str| {
        let at = sym(name)?;
        mem.read_u32(at).map_err(|source| LogError::Read {
            what: name.into(),
            source,
        })
    };
    let buf_addr = mem
        .read_u64(sym("log_buf")?)
        .map_err(|source| LogError::Read {
            what: "the log_buf pointer".into(),
            source,
        })?;
    let len = u64::from(read_u32("log_buf_len")?);
    if len < l.header || len > MAX_LOG_BUF_LEN {
        return Err(LogError::Corrupt(format!("log_buf_len is {len}")));
    }
    let mut warnings = Vec::new();
    // Without the indices (their page lost), the records are read from the
    // buffer's start up to the first that does not parse: all of a log that has
    // not wrapped, the newest part of one that has.
    let (first, next, indexed) = match (read_u32("log_first_idx"), read_u32("log_next_idx")) {
        (Ok(first), Ok(next)) => (u64::from(first), u64::from(next), true),
        (Err(e), _) | (_, Err(e)) => {
            warnings.push(format!(
                "{e}: reading records from the start of log_buf until one does not parse \
                 (if the log wrapped, its older records are lost)"
            ));
            (0, len, false)
        }
    };
    // Either index must leave room for a header (or the wrap marker) after it.
    for (name, idx) in [("log_first_idx", first), ("log_next_idx", next)] {
        if indexed && idx > len - l.header {
            return Err(LogError::Corrupt(format!(
                "{name} is {idx}, outside the {len}-byte log_buf"
            )));
        }
    }
    let buf = LogBuf::read(mem, buf_addr, len);
    let mut walk = Walk {
        buf: &buf,
        l: &l,
        len,
        first,
        next,
        records: Vec::new(),
        overlong_texts: 0,
    };
    if let Err(broken) = walk.from(first, false) {
        // Without indices, where the walk stops is the end of what can be read.
        if indexed {
            warnings.push(broken.why);
        }
        // A wrapped log restarts at index 0: what lies after the break is lost,
        // the records from the start of the buffer to log_next_idx are not.
        if first > next && !broken.after_wrap {
            if let Err(again) = walk.from(0, true) {
                warnings.push(again.why);
            }
        }
    }
    if walk.overlong_texts > 0 {
        warnings.push(format!(
            "{} record(s) claim more text than their length: cut at the record's end",
            walk.overlong_texts
        ));
    }
    warnings.extend(buf.warning());
    Ok(LogRead {
        log: Log::Records(walk.records),
        warnings,
    })
}

/// The walk from `log_first_idx` to `log_next_idx`.
struct Walk<'a> {
    buf: &'a LogBuf,
    l: &'a Layout,
    len: u64,
    first: u64,
    next: u64,
    records: Vec<LogRecord>,
    overlong_texts: usize,
}

/// Why a walk stopped short of `log_next_idx`.
struct Broken {
    why: String,
    after_wrap: bool,
}

impl Walk<'_> {
    /// Walks from `idx` to `log_next_idx`. Every step moves forward by at least a
    /// header, the buffer may wrap once (only if the live records do, first >
    /// next), and after the wrap the walk must stay below `log_first_idx`: so it
    /// ends within two passes over the buffer, whatever the bytes say.
    fn from(&mut self, mut idx: u64, mut wrapped: bool) -> Result<(), Broken> {
        let (first, next, len, h) = (self.first, self.next, self.len, self.l.header);
        loop {
            let broken = |why: String| Broken {
                why,
                after_wrap: wrapped,
            };
            if idx == next {
                return Ok(());
            }
            if wrapped && idx >= first {
                return Err(broken(format!(
                    "after wrapping, the records run to index {idx}, past log_first_idx \
                     {first}, without meeting log_next_idx {next}: the log is corrupt"
                )));
            }
            let header = self.buf.get(idx, h).map_err(|gap| {
                broken(match gap {
                    Gap::Outside => format!("record index {idx} lies outside log_buf"),
                    Gap::Missing => format!("the record at index {idx} is not in the dump"),
                })
            })?;
            let rec_len = u64::from(u16_at(header, self.l.len));
            if rec_len == 0 {
                if wrapped || first <= next {
                    return Err(broken(format!(
                        "unexpected wrap marker at index {idx} (log_first_idx {first}, \
                         log_next_idx {next}): the log is corrupt"
                    )));
                }
                wrapped = true;
                idx = 0;
                continue;
            }
            if rec_len < h {
                return Err(broken(format!(
                    "the record at index {idx} has length {rec_len}, less than its \
                     {h}-byte header: the log is corrupt"
                )));
            }
            let record = self.record(idx, rec_len, header).map_err(|gap| {
                broken(match gap {
                    Gap::Outside => format!("the record at index {idx} runs past log_buf"),
                    Gap::Missing => format!("the text at index {idx} is not in the dump"),
                })
            })?;
            self.records.push(record);
            idx += rec_len;
            if idx > len - h {
                return Err(broken(format!(
                    "the record before index {idx} ends too near the end of the \
                     {len}-byte log_buf: the log is corrupt"
                )));
            }
        }
    }

    fn record(&mut self, idx: u64, rec_len: u64, header: &[u8]) -> Result<LogRecord, Gap> {
        let l = self.l;
        let room = rec_len - l.header;
        let mut text_len = u64::from(u16_at(header, l.text_len));
        if text_len > room {
            self.overlong_texts += 1;
            text_len = room;
        }
        let dict_len = u64::from(u16_at(header, l.dict_len)).min(room - text_len);
        let text_at = idx + l.header;
        let text = self.buf.get(text_at, text_len)?.to_vec();
        let dict = self.buf.get(text_at + text_len, dict_len)?;
        let dict_value = |key: &str| {
            dict.split(|&b| b == 0)
                .find_map(|kv| kv.strip_prefix(key.as_bytes()))
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        let le = |at: u64, n: usize| {
            let mut b = [0u8; 8];
            b[..n].copy_from_slice(&header[at as usize..at as usize + n]);
            u64::from_le_bytes(b)
        };
        Ok(LogRecord {
            // log_first_seq is not in VMCOREINFO: count from the oldest record read.
            seq: self.records.len() as u64,
            ts_nsec: le(l.ts_nsec, 8),
            level: header[(l.dict_len + 3) as usize] >> 5,
            facility: header[(l.dict_len + 2) as usize],
            caller: l.caller_id.map(|at| caller_name(le(at, 4) as u32)),
            text,
            subsystem: dict_value("SUBSYSTEM="),
            device: dict_value("DEVICE="),
        })
    }
}

/// A `u16` inside a header whose layout [`Layout::from`] has checked.
fn u16_at(header: &[u8], at: u64) -> u16 {
    u16::from_le_bytes([header[at as usize], header[at as usize + 1]])
}

//! The structured log of Linux 3.5 to 5.9 (RHEL 7 and 8): `struct printk_log`
//! records (named `struct log` until 3.11) packed in `log_buf`, from
//! `log_first_idx` to `log_next_idx`. A record of length 0 marks the wrap back to
//! the buffer's start, as makedumpfile's walk assumes.

use super::{Log, LogError, LogRead, LogRecord};
use crate::memory::KernelMemory;
use crate::VmcoreInfo;

/// The kernel caps log_buf_len at 2^31 (LOG_BUF_LEN_MAX); more is corruption.
const MAX_LOG_BUF: u64 = 1 << 31;

pub fn read(mem: &dyn KernelMemory, info: &VmcoreInfo) -> Result<LogRead, LogError> {
    let need = |what: String, v: Option<u64>| v.ok_or(LogError::MissingInfo(what));
    // 3.11 renamed `struct log` to `struct printk_log`.
    let ty = if info.size("printk_log").is_some() {
        "printk_log"
    } else {
        "log"
    };
    let header = need(format!("SIZE({ty})"), info.size(ty))?;
    let off = |m: &str| need(format!("OFFSET({ty}.{m})"), info.offset(ty, m));
    let (ts_off, len_off, text_len_off, dict_len_off) = (
        off("ts_nsec")?,
        off("len")?,
        off("text_len")?,
        off("dict_len")?,
    );
    if header > 64 {
        return Err(LogError::Corrupt(format!(
            "SIZE({ty})={header} is not plausible"
        )));
    }
    let sym = |name: &str| need(format!("SYMBOL({name})"), info.symbol(name));
    let read_u32 = |what: &str, at: u64| {
        mem.read_u32(at).map_err(|source| LogError::Read {
            what: what.into(),
            source,
        })
    };
    let buf = mem
        .read_u64(sym("log_buf")?)
        .map_err(|source| LogError::Read {
            what: "the log_buf pointer".into(),
            source,
        })?;
    let len = u64::from(read_u32("log_buf_len", sym("log_buf_len")?)?);
    if len == 0 || len > MAX_LOG_BUF {
        return Err(LogError::Corrupt(format!("log_buf_len is {len}")));
    }
    let first = u64::from(read_u32("log_first_idx", sym("log_first_idx")?)?);
    let next = u64::from(read_u32("log_next_idx", sym("log_next_idx")?)?);
    let mut data = vec![0u8; len as usize];
    mem.read_virt(buf, &mut data)
        .map_err(|source| LogError::Read {
            what: "log_buf".into(),
            source,
        })?;

    let field = |at: u64, n: usize| -> Option<u64> {
        let start = usize::try_from(at).ok()?;
        let bytes = data.get(start..start.checked_add(n)?)?;
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(bytes);
        Some(u64::from_le_bytes(b))
    };
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    let mut idx = first;
    let mut wrapped = false;
    // Every record is at least a header long, so this many steps cover the buffer.
    let max_steps = len / header.max(1) + 2;
    for _ in 0..max_steps {
        if idx == next {
            return Ok(LogRead {
                log: Log::Records(records),
                warnings,
            });
        }
        let Some(mut rec_len) = field(idx + len_off, 2) else {
            warnings.push(format!(
                "record index {idx} lies outside the {len}-byte log_buf"
            ));
            break;
        };
        if rec_len == 0 {
            if wrapped {
                warnings.push("the log wraps twice: log_next_idx is never reached".into());
                break;
            }
            wrapped = true;
            idx = 0;
            rec_len = field(len_off, 2).unwrap_or(0);
            if idx == next {
                continue;
            }
        }
        let text_len = field(idx + text_len_off, 2).unwrap_or(0);
        let dict_len = field(idx + dict_len_off, 2).unwrap_or(0);
        let text_at = (idx + header) as usize;
        let (Some(text), Some(ts)) = (
            data.get(text_at..text_at + text_len as usize),
            field(idx + ts_off, 8),
        ) else {
            warnings.push(format!("record at index {idx} runs past log_buf"));
            break;
        };
        let dict_at = text_at + text_len as usize;
        let dict = data
            .get(dict_at..dict_at + dict_len as usize)
            .unwrap_or_default();
        let dict = |key: &str| {
            dict.split(|&b| b == 0)
                .filter_map(|kv| std::str::from_utf8(kv).ok()?.strip_prefix(key))
                .map(str::to_string)
                .next()
        };
        // After dict_len: `u8 facility`, then a byte holding `flags:5, level:3`.
        let level_byte = field(idx + dict_len_off + 3, 1).unwrap_or(0) as u8;
        records.push(LogRecord {
            seq: records.len() as u64,
            ts_nsec: ts,
            level: level_byte >> 5,
            facility: field(idx + dict_len_off + 2, 1).unwrap_or(0) as u8,
            caller: None,
            text: text.to_vec(),
            subsystem: dict("SUBSYSTEM="),
            device: dict("DEVICE="),
        });
        if rec_len < header {
            warnings.push(format!("record at index {idx} has length {rec_len}"));
            break;
        }
        idx += rec_len;
    }
    if !warnings
        .iter()
        .any(|w| w.contains("wraps") || w.contains("past") || w.contains("length"))
    {
        warnings.push("log_next_idx was never reached: the indices are corrupt".into());
    }
    Ok(LogRead {
        log: Log::Records(records),
        warnings,
    })
}

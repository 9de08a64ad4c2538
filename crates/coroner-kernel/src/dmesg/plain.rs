//! The plain character buffer of kernels before 3.5 (RHEL 6's 2.6.32): `log_buf`
//! of `log_buf_len` bytes, written at `log_end & (log_buf_len - 1)`, `log_end`
//! counting every character ever written. Until the buffer fills, the log is its
//! first `log_end` bytes; after, the whole buffer, oldest byte at `log_end`'s place.
//! This is how makedumpfile reads it.

use super::log_buf::{LogBuf, MAX_LOG_BUF_LEN};
use super::{Log, LogError, LogRead};
use crate::memory::Memory;
use crate::VmcoreInfo;

pub fn read(mem: &dyn Memory, info: &VmcoreInfo) -> Result<LogRead, LogError> {
    let sym = |name: &str| {
        info.symbol(name)
            .ok_or_else(|| LogError::MissingInfo(format!("SYMBOL({name})")))
    };
    let failed = |what: &str| {
        let what = what.to_string();
        move |source| LogError::Read { what, source }
    };
    let buf_addr = mem
        .read_u64(sym("log_buf")?)
        .map_err(failed("the log_buf pointer"))?;
    // `static int log_buf_len`.
    let len = mem
        .read_u32(sym("log_buf_len")?)
        .map_err(failed("log_buf_len"))? as i32;
    if len <= 0 || len as u64 > MAX_LOG_BUF_LEN {
        return Err(LogError::Corrupt(format!("log_buf_len is {len}")));
    }
    let len = len as u64;
    // `static unsigned long log_end` until 2.6.24, `unsigned` from 2.6.25.
    let log_end_addr = sym("log_end")?;
    let long_log_end = info
        .osrelease()
        .and_then(version)
        .is_some_and(|v| v < (2, 6, 25));
    let end = if long_log_end {
        mem.read_u64(log_end_addr)
    } else {
        mem.read_u32(log_end_addr).map(u64::from)
    }
    .map_err(failed("log_end"))?;

    let mut warnings = Vec::new();
    if !len.is_power_of_two() {
        warnings.push(format!(
            "log_buf_len {len} is not a power of two, as the kernel always makes it: \
             the text is read with the kernel's mask all the same"
        ));
    }
    // The kernel indexes with `log_end & (log_buf_len - 1)`, as does this.
    let (pieces, text_len) = if end < len {
        ([(0, end), (0, 0)], end)
    } else {
        let start = end & (len - 1);
        ([(start, len), (0, start)], len)
    };
    let buf = LogBuf::read(mem, buf_addr, text_len);
    let mut text = Vec::new();
    for (start, stop) in pieces {
        for piece in buf.present(start, stop) {
            text.extend_from_slice(piece);
        }
    }
    warnings.extend(buf.warning());
    Ok(LogRead {
        log: Log::Plain(text),
        warnings,
    })
}

/// `"2.6.32-754.el6.x86_64"` → (2, 6, 32).
fn version(release: &str) -> Option<(u32, u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let mut next = || parts.next()?.parse().ok();
    Some((next()?, next()?, next().unwrap_or(0)))
}

//! The plain character buffer of kernels before 3.5 (RHEL 6's 2.6.32): `log_buf`
//! of `log_buf_len` bytes, `log_end` counting every character ever written. Once
//! more than the buffer was written, the oldest text starts at `log_end` modulo
//! the length, as makedumpfile reads it.

use super::{Log, LogError, LogRead};
use crate::memory::KernelMemory;
use crate::VmcoreInfo;

const MAX_LOG_BUF: u64 = 1 << 31;

pub fn read(mem: &dyn KernelMemory, info: &VmcoreInfo) -> Result<LogRead, LogError> {
    let sym = |name: &str| {
        info.symbol(name)
            .ok_or_else(|| LogError::MissingInfo(format!("SYMBOL({name})")))
    };
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
    if len == 0 || len > MAX_LOG_BUF || !len.is_power_of_two() {
        return Err(LogError::Corrupt(format!("log_buf_len is {len}")));
    }
    let end = u64::from(read_u32("log_end", sym("log_end")?)?);
    let mut data = vec![0u8; len as usize];
    mem.read_virt(buf, &mut data)
        .map_err(|source| LogError::Read {
            what: "log_buf".into(),
            source,
        })?;
    let text = if end < len {
        data.truncate(end as usize);
        data
    } else {
        let start = (end & (len - 1)) as usize;
        [&data[start..], &data[..start]].concat()
    };
    Ok(LogRead {
        log: Log::Plain(text),
        warnings: Vec::new(),
    })
}

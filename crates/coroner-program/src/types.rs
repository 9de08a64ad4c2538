//! The kernel's types, from the BTF it carries in its own image (`__start_BTF` ..
//! `__stop_BTF`): struct layouts without a debuginfo package.

use crate::error::AnalysisError;
use coroner_kernel::Memory;
use coroner_types::{Btf, Types};
use std::sync::Arc;

/// More than any kernel's or module's BTF (a distribution kernel's is 5-6 MiB).
pub(crate) const MAX_BTF: u64 = 64 << 20;

/// Reads and decodes vmlinux BTF between the addresses of `__start_BTF` and
/// `__stop_BTF`, or says why there is none.
pub(crate) fn load_btf(
    memory: &dyn Memory,
    start: Option<u64>,
    stop: Option<u64>,
) -> Result<Arc<Btf>, String> {
    let (Some(start), Some(stop)) = (start, stop) else {
        return Err("the kernel has no BTF (no __start_BTF/__stop_BTF symbols)".into());
    };
    let len = stop
        .checked_sub(start)
        .filter(|&l| l > 0 && l <= MAX_BTF)
        .ok_or_else(|| format!("BTF bounds {start:#x}..{stop:#x} are implausible"))?;
    let mut data = vec![0u8; len as usize];
    let btf = match memory.read(start, &mut data) {
        Ok(()) => Btf::parse(&data).map_err(|e| format!("the kernel's BTF: {e}"))?,
        Err(e) => {
            // An incomplete dump: used up to the hole (Btf::parse_damaged).
            let holes = read_pages(memory, start, &mut data);
            if holes.iter().map(|h| h.len()).sum::<usize>() == data.len() {
                return Err(format!("reading the kernel's BTF: {e}"));
            }
            Btf::parse_damaged(&data, &holes)
                .map_err(|why| format!("reading the kernel's BTF: {e}; what was read: {why}"))?
        }
    };
    // Kept whole (not just its types): module BTF is decoded on top of it.
    Ok(Arc::new(btf))
}

/// Where vmlinux BTF is when the symbols that bound it are lost (a damaged
/// kallsyms): the first header found by its shape (magic 0xeb9f, version 1, the
/// type section right after the header, the strings right after the types) from
/// `_stext` up to `init_uts_ns` (`.BTF` lies in `.rodata`, below `.data`), page by
/// page. Returns its start and end.
pub(crate) fn find_btf(memory: &dyn Memory, from: u64, to: u64) -> Option<(u64, u64)> {
    const PAGE: u64 = 4096;
    let to = to.min(from.saturating_add(256 << 20));
    let mut page = vec![0u8; PAGE as usize + 24];
    let mut at = from & !(PAGE - 1);
    while at < to {
        // The page and the start of the next, so a header may cross into it.
        let whole = memory.read(at, &mut page).is_ok();
        let readable = whole || memory.read(at, &mut page[..PAGE as usize]).is_ok();
        if readable {
            let end = if whole {
                page.len() - 24
            } else {
                PAGE as usize - 24
            };
            for o in (0..end).step_by(4) {
                let h = &page[o..o + 24];
                let word = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().expect("4 bytes"));
                if h[..4] != [0x9f, 0xeb, 1, 0] || word(4) != 24 || word(8) != 0 {
                    continue;
                }
                let (types, str_off, strings) = (word(12), word(16), word(20));
                let len = 24 + u64::from(str_off) + u64::from(strings);
                if str_off == types && types > 0 && strings > 0 && len <= MAX_BTF {
                    let start = at + o as u64;
                    return Some((start, start + len));
                }
            }
        }
        at += PAGE;
    }
    None
}

/// Reads `buf` page by page from `start`: the unreadable pages (as offsets into
/// `buf`, merged when adjacent) are zeros.
pub(crate) fn read_pages(
    memory: &dyn Memory,
    start: u64,
    buf: &mut [u8],
) -> Vec<std::ops::Range<usize>> {
    const PAGE: u64 = 4096;
    let mut holes: Vec<std::ops::Range<usize>> = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let here = start.wrapping_add(pos as u64);
        let end = buf.len().min(pos + (PAGE - here % PAGE) as usize);
        if memory.read(here, &mut buf[pos..end]).is_err() {
            buf[pos..end].fill(0);
            match holes.last_mut() {
                Some(last) if last.end == pos => last.end = end,
                _ => holes.push(pos..end),
            }
        }
        pos = end;
    }
    holes
}

/// Byte offset of the first of `paths` that `ty` has (members get renamed across
/// kernel versions: `__state`/`state`, `core_layout.base`/`mem.base`).
pub(crate) fn offset_of_any(types: &Types, ty: &str, paths: &[&str]) -> Result<u64, AnalysisError> {
    paths
        .iter()
        .find_map(|p| types.offset_of(ty, p))
        .ok_or_else(|| AnalysisError::Layout(format!("{ty}.{}", paths.join(" or "))))
}

//! The kernel's types, from the BTF it carries in its own image (`__start_BTF` ..
//! `__stop_BTF`): struct layouts without a debuginfo package.

use coroner_kernel::KernelMemory;
use coroner_types::{Btf, Types};
use std::sync::Arc;

/// More than any kernel's or module's BTF (a distribution kernel's is 5-6 MiB).
pub(crate) const MAX_BTF: u64 = 64 << 20;

/// Reads and decodes vmlinux BTF between the addresses of `__start_BTF` and
/// `__stop_BTF`, or says why there is none.
pub(crate) fn load_btf(
    memory: &dyn KernelMemory,
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
    let btf = match memory.read_virt(start, &mut data) {
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

/// Reads `buf` page by page from `start`: the unreadable pages (as offsets into
/// `buf`, merged when adjacent) are zeros.
pub(crate) fn read_pages(
    memory: &dyn KernelMemory,
    start: u64,
    buf: &mut [u8],
) -> Vec<std::ops::Range<usize>> {
    const PAGE: u64 = 4096;
    let mut holes: Vec<std::ops::Range<usize>> = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let here = start.wrapping_add(pos as u64);
        let end = buf.len().min(pos + (PAGE - here % PAGE) as usize);
        if memory.read_virt(here, &mut buf[pos..end]).is_err() {
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
pub(crate) fn offset_of_any(types: &Types, ty: &str, paths: &[&str]) -> Result<u64, String> {
    paths
        .iter()
        .find_map(|p| types.offset_of(ty, p))
        .ok_or_else(|| format!("BTF has no {ty}.{}", paths.join(" or ")))
}

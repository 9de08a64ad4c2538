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
    memory
        .read_virt(start, &mut data)
        .map_err(|e| format!("reading the kernel's BTF: {e}"))?;
    let btf = Btf::parse(&data).map_err(|e| format!("the kernel's BTF: {e}"))?;
    // Kept whole (not just its types): module BTF is decoded on top of it.
    Ok(Arc::new(btf))
}

/// Byte offset of the first of `paths` that `ty` has (members get renamed across
/// kernel versions: `__state`/`state`, `core_layout.base`/`mem.base`).
pub(crate) fn offset_of_any(types: &Types, ty: &str, paths: &[&str]) -> Result<u64, String> {
    paths
        .iter()
        .find_map(|p| types.offset_of(ty, p))
        .ok_or_else(|| format!("BTF has no {ty}.{}", paths.join(" or ")))
}

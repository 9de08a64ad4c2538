//! Where the x86-64 kernel image is mapped, for the PT_LOAD kexec-tools writes at
//! the image's virtual address (`__START_KERNEL_map + phys - phys_base`): crash and
//! makedumpfile take phys_base from it when VMCOREINFO has no `NUMBER(phys_base)`
//! (kernels before 4.10), and it tells any reader where the image sits under KASLR.
//!
//! The image starts at `_text` (`SYMBOL(_stext)` rounded down to the 2 MiB the
//! kernel aligns it to) and its mapping ends where the kernel's page tables stop
//! mapping it linearly: at boot `cleanup_highmap()` unmaps everything of
//! `__START_KERNEL_map` outside `[_text, _end)` rounded to 2 MiB.

use super::page_tables::PageTables;
use coroner_dump::{Dump, PhysMemory};
use coroner_kernel::arch::x86_64::{START_KERNEL_MAP, X86_64};
use coroner_kernel::arch::Translate;
use coroner_kernel::VmcoreInfo;

/// The kernel image's alignment (`CONFIG_PHYSICAL_ALIGN` on x86-64 kernels).
pub const IMAGE_ALIGN: u64 = 2 << 20;
/// `__START_KERNEL` without KASLR: where `_text` is linked on x86-64 distributions
/// (`CONFIG_PHYSICAL_START` 16 MiB).
const DEFAULT_TEXT: u64 = START_KERNEL_MAP + (16 << 20);
/// The most the image mapping can span (`KERNEL_IMAGE_SIZE` with KASLR).
const MAX_IMAGE: u64 = 1 << 30;

/// The kernel image: mapped at `vaddr`, in physical memory at `paddr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelText {
    pub vaddr: u64,
    pub paddr: u64,
    pub size: u64,
}

impl KernelText {
    /// `phys_base` as the kernel defines it: where `__START_KERNEL_map` would be.
    pub fn phys_base(&self) -> u64 {
        self.paddr.wrapping_sub(self.vaddr - START_KERNEL_MAP)
    }

    /// The KASLR offset, assuming the usual 16 MiB link address of `_text`.
    pub fn kaslr_offset(&self) -> u64 {
        self.vaddr.wrapping_sub(DEFAULT_TEXT)
    }
}

/// How the kernel image was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoundBy {
    /// `SYMBOL(_stext)` (or `KERNELOFFSET`) and the page tables VMCOREINFO names.
    Vmcoreinfo,
    /// No VMCOREINFO: the page tables a vCPU's CR3 points at, checked by the
    /// `Linux version` banner inside the image (its release is kept).
    Registers {
        cpu: usize,
        cr3: u64,
        release: String,
    },
}

/// Finds the kernel image: from VMCOREINFO, else from the CPUs' page tables.
pub fn locate(dump: &Dump) -> Result<(KernelText, FoundBy), String> {
    if dump.info().arch.as_deref() != Some("x86_64") {
        return Err(format!(
            "the kernel image mapping is known on x86_64 only (this dump is {})",
            dump.info()
                .arch
                .as_deref()
                .unwrap_or("of an unknown architecture")
        ));
    }
    match dump.vmcoreinfo() {
        Some(text) => from_vmcoreinfo(dump, text).map(|t| (t, FoundBy::Vmcoreinfo)),
        None => from_registers(dump),
    }
}

/// The image from VMCOREINFO: its `_stext`, and its page tables for where the
/// mapping ends.
fn from_vmcoreinfo(dump: &Dump, text: &[u8]) -> Result<KernelText, String> {
    let info = VmcoreInfo::parse(text);
    if info.symbol("init_top_pgt").is_none() && info.symbol("init_level4_pgt").is_none() {
        return Err("VMCOREINFO names no page table (init_top_pgt)".into());
    }
    let start = match (info.symbol("_stext"), info.kernel_offset()) {
        (Some(stext), _) => stext & !(IMAGE_ALIGN - 1),
        (None, Some(offset)) => DEFAULT_TEXT.wrapping_add(offset),
        (None, None) => return Err("VMCOREINFO has neither SYMBOL(_stext) nor KERNELOFFSET".into()),
    };
    let tables = X86_64::new(&info, dump.info().phys_base);
    let translate = |vaddr: u64| tables.translate(dump, vaddr).ok();
    linear_extent(&dump.ram_ranges(), start, translate)
        .ok_or_else(|| format!("the kernel's page tables do not map _text ({start:#x})"))
}

/// Offsets in QEMU's CPU-state note (`QEMUCPUState`, which VMware inputs carry
/// too): CR3 and CR4 in `cr[5]`.
const QEMU_CR3: usize = 392 + 3 * 8;
const QEMU_CR4: usize = 392 + 4 * 8;
/// CR4.LA57: 5-level paging.
const CR4_LA57: u64 = 1 << 12;

/// The image from each vCPU's CR3 in turn: the first mapping of the kernel-image
/// region (`__START_KERNEL_map` and the gigabyte above, where KASLR places
/// `_text`; boot unmaps what lies below `_text`) whose linear extent holds the
/// kernel's banner. With page-table isolation CR3 may hold the user tables, 4 KiB
/// above the kernel's, so that candidate is tried first.
fn from_registers(dump: &Dump) -> Result<(KernelText, FoundBy), String> {
    let cpus: Vec<(u64, u64)> = dump
        .notes()
        .iter()
        .filter(|n| n.name == "QEMU" && n.desc.len() >= QEMU_CR4 + 8)
        .map(|n| {
            let word = |at: usize| u64::from_le_bytes(n.desc[at..at + 8].try_into().expect("8"));
            (word(QEMU_CR3), word(QEMU_CR4))
        })
        .collect();
    if cpus.is_empty() {
        return Err(
            "no VMCOREINFO, and no CPU state with CR3 (QEMU or VMware registers) to find the kernel's page tables from"
                .into(),
        );
    }
    let ram = dump.ram_ranges();
    // CPUs in one kernel share its half of the tables: a few distinct ones suffice,
    // and a hostile note area cannot make thousands of walks.
    let mut tried = Vec::new();
    for (cpu, &(cr3, cr4)) in cpus.iter().enumerate() {
        for top in [cr3 & !0x1fff, cr3 & ENTRY_PAGE] {
            if tried.contains(&top) || tried.len() >= MAX_TABLES {
                continue;
            }
            tried.push(top);
            let tables = PageTables::new(dump, top, cr4 & CR4_LA57 != 0);
            let Some((start, _)) =
                tables.first_mapped(START_KERNEL_MAP, START_KERNEL_MAP + MAX_IMAGE)
            else {
                continue;
            };
            let Some(text) = linear_extent(&ram, start, |v| tables.translate(v)) else {
                continue;
            };
            if let Some(release) = banner_in(dump, &text) {
                return Ok((text, FoundBy::Registers { cpu, cr3, release }));
            }
        }
    }
    Err(format!(
        "no VMCOREINFO, and the page tables of the {} CPU(s)' CR3 map no kernel image holding a `Linux version` banner",
        cpus.len()
    ))
}

/// Distinct page tables tried before giving up.
const MAX_TABLES: usize = 8;
/// Physical address bits of CR3 (bits 12..51).
const ENTRY_PAGE: u64 = 0x000f_ffff_ffff_f000;

const BANNER: &[u8] = b"Linux version ";

/// The release in the first `Linux version <release> (` banner in the image's
/// memory (the format string `Linux version %s` does not qualify).
pub(crate) fn banner_in(memory: &dyn PhysMemory, text: &KernelText) -> Option<String> {
    let finder = memchr::memmem::Finder::new(BANNER);
    // Pages overlap by the banner's length so that none is missed at a boundary.
    let mut buf = vec![0u8; 4096 + 128];
    let mut paddr = text.paddr;
    while paddr < text.paddr + text.size {
        let n = buf.len().min((text.paddr + text.size - paddr) as usize);
        if memory.read_phys(paddr, &mut buf[..n]).is_ok() {
            for at in finder.find_iter(&buf[..n]) {
                let tail = &buf[at + BANNER.len()..n];
                let end = tail.iter().position(|&b| b == b' ').unwrap_or(tail.len());
                let release = &tail[..end];
                let plausible = release.len() >= 3
                    && release[0].is_ascii_digit()
                    && release.contains(&b'.')
                    && release.iter().all(u8::is_ascii_graphic)
                    && tail[end..].starts_with(b" (");
                if plausible {
                    return Some(String::from_utf8_lossy(release).into_owned());
                }
            }
        }
        paddr += 4096;
    }
    None
}

/// The image mapped linearly from `start`, in 2 MiB steps, clipped to the RAM
/// range holding its first byte (its bytes must all be in the output).
pub(crate) fn linear_extent(
    ram: &[(u64, u64)],
    start: u64,
    translate: impl Fn(u64) -> Option<u64>,
) -> Option<KernelText> {
    let paddr = translate(start)?;
    let &(_, ram_end) = ram.iter().find(|&&(s, e)| s <= paddr && paddr < e)?;
    let mut size = 0;
    while size < MAX_IMAGE && paddr + size < ram_end {
        let next = start.checked_add(size)?;
        if translate(next) != Some(paddr + size) {
            break;
        }
        size += IMAGE_ALIGN;
    }
    let size = size.min(ram_end - paddr);
    (size > 0).then_some(KernelText {
        vaddr: start,
        paddr,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn the_extent_ends_where_the_linear_mapping_ends() {
        let ram = [(0, 512 * MIB)];
        let start = 0xffff_ffff_a480_0000;
        let phys = 0x0e00_0000;
        // Mapped for 40 MiB, then a hole.
        let map = |v: u64| (v >= start && v < start + 40 * MIB).then(|| phys + (v - start));
        let text = linear_extent(&ram, start, map).unwrap();
        assert_eq!((text.vaddr, text.paddr, text.size), (start, phys, 40 * MIB));
        assert_eq!(
            text.phys_base(),
            phys.wrapping_sub(start - START_KERNEL_MAP)
        );
        assert_eq!(text.kaslr_offset(), 0x2380_0000);
    }

    #[test]
    fn a_non_linear_step_or_the_end_of_ram_stops_it() {
        let start = 0xffff_ffff_8100_0000;
        // The third 2 MiB step maps elsewhere.
        let map = |v: u64| {
            let n = (v - start) / IMAGE_ALIGN;
            Some(if n == 2 { 0 } else { 16 * MIB + (v - start) })
        };
        let text = linear_extent(&[(0, 512 * MIB)], start, map).unwrap();
        assert_eq!(text.size, 4 * MIB);
        // RAM ends 3 MiB in: the image is clipped there.
        let linear = |v: u64| Some(16 * MIB + (v - start));
        let text = linear_extent(&[(0, 19 * MIB)], start, linear).unwrap();
        assert_eq!(text.size, 3 * MIB);
        // Not mapped at all, or not in RAM.
        assert_eq!(linear_extent(&[(0, 19 * MIB)], start, |_| None), None);
        assert_eq!(linear_extent(&[(0, 8 * MIB)], start, linear), None);
    }
}

//! The pages analysis needs first, found cheaply from VMCOREINFO, the CPU notes and
//! the page tables: every page-table page, the kernel log buffer, the stacks the
//! CPUs were on, and every page mapped in the kernel-image and module area (text,
//! data, BTF, kallsyms, ORC). Written before the bulk of memory, they survive a
//! dump that is cut short.

use crate::bitmap::Bitmap;
use coroner_dump::PhysMemory;
use coroner_kernel::{Kernel, Memory};
use std::collections::HashSet;

/// The kernel image and module mappings live at and above this address (x86-64
/// `__START_KERNEL_map`); the fixmap at the very top is left out.
const KERNEL_MAP_START: u64 = 0xffff_ffff_8000_0000;
const KERNEL_MAP_END: u64 = 0xffff_ffff_ff00_0000;
const PRESENT: u64 = 1;
const HUGE: u64 = 1 << 7;
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
/// Never more log buffer than this (the kernel's own limit is 2^25 bytes by default).
const MAX_LOG_BYTES: u64 = 1 << 30;

/// Frames worth writing first, in the order to write them: page tables (every read
/// goes through them), then the log and the stacks the CPUs were on, then the kernel
/// image and modules (the bulk: text, data, BTF, kallsyms, ORC). Each is set in
/// `dumpable` and listed once.
pub fn important_frames(kernel: &Kernel, dumpable: &Bitmap) -> Vec<u64> {
    // Lists, not bitmaps: these are thousands of frames, a bitmap would be sized
    // by the machine's memory.
    let (mut tables, mut image, mut text) = (Vec::new(), Vec::new(), Vec::new());
    page_tables(kernel, dumpable.len(), &mut tables, &mut image, &mut text);
    let mut small = Vec::new();
    log_buffer(kernel, &mut small);
    stacks(kernel, &mut small);
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    for mut tier in [tables, small, image, text] {
        tier.sort_unstable();
        for pfn in tier {
            if dumpable.get(pfn) && seen.insert(pfn) {
                order.push(pfn);
            }
        }
    }
    order
}

/// `pr_reg.sp` in an x86-64 `elf_prstatus`, and the kernel's stack size.
const PRSTATUS_SP: usize = 112 + 19 * 8;
const THREAD_SIZE: u64 = 16 << 10;

/// The stack each CPU was running on when the dump was taken.
fn stacks(kernel: &Kernel, marked: &mut Vec<u64>) {
    for note in kernel.dump().notes().iter().filter(|n| n.is_prstatus()) {
        let Some(sp) = note.desc.get(PRSTATUS_SP..PRSTATUS_SP + 8) else {
            continue;
        };
        let sp = u64::from_le_bytes(sp.try_into().expect("8 bytes"));
        if sp >= 1 << 63 {
            mark_virtual(kernel, sp & !(THREAD_SIZE - 1), THREAD_SIZE, marked);
        }
    }
}

/// Page-table pages into `marked`; the kernel-image and module area into `image`,
/// except the kernel's text (below its read-only data, where `kallsyms_offsets`
/// lies) into `text`: analysis reads data, BTF, kallsyms and ORC, rarely code.
fn page_tables(
    kernel: &Kernel,
    max_pfn: u64,
    marked: &mut Vec<u64>,
    image: &mut Vec<u64>,
    text: &mut Vec<u64>,
) {
    let info = kernel.vmcoreinfo();
    let rodata = info
        .symbol("kallsyms_offsets")
        .or_else(|| info.symbol("kallsyms_names"))
        .unwrap_or(0)
        & !0xfff;
    let Some(root_va) = info.symbol("init_top_pgt") else {
        return;
    };
    let Ok(root) = kernel.translate(root_va) else {
        return;
    };
    let levels = if info.number("pgtable_l5_enabled") == Some(1) {
        5
    } else {
        4
    };
    let sme = info.number("sme_mask").unwrap_or(0) as u64;
    let mask = ADDR_MASK & !sme;
    let mut visited = HashSet::new();
    let mut table = vec![0u8; 4096];
    // (table physical address, level, virtual address it starts at)
    let mut stack = vec![(root & mask, levels, 0u64)];
    while let Some((table_pa, level, base)) = stack.pop() {
        let pfn = table_pa >> 12;
        if pfn >= max_pfn || !visited.insert(pfn) {
            continue;
        }
        marked.push(pfn);
        if kernel.dump().read_phys(table_pa, &mut table).is_err() {
            continue;
        }
        let shift = 12 + 9 * (level - 1);
        for i in 0..512u64 {
            let e = u64::from_le_bytes(
                table[i as usize * 8..i as usize * 8 + 8]
                    .try_into()
                    .expect("8"),
            );
            if e & PRESENT == 0 {
                continue;
            }
            let mut va = base | (i << shift);
            if level == levels && i >= 256 {
                va |= !((1u64 << (shift + 9)) - 1); // sign-extend the top half
            }
            let leaf = level == 1 || (level <= 3 && e & HUGE != 0);
            if !leaf {
                stack.push((e & mask, level - 1, va));
                continue;
            }
            let size = 1u64 << shift;
            if (KERNEL_MAP_START..KERNEL_MAP_END).contains(&va) {
                let pa = e & mask & !(size - 1);
                for page in 0..size >> 12 {
                    let tier = if va + (page << 12) < rodata {
                        &mut *text
                    } else {
                        &mut *image
                    };
                    tier.push((pa >> 12) + page);
                }
            }
        }
    }
}

/// Marks the frames behind `[vaddr, vaddr + len)`.
fn mark_virtual(kernel: &Kernel, vaddr: u64, len: u64, marked: &mut Vec<u64>) {
    let mut at = vaddr & !0xfff;
    while at < vaddr.saturating_add(len.min(MAX_LOG_BYTES)) {
        if let Ok(pa) = kernel.translate(at) {
            marked.push(pa >> 12);
        }
        at += 4096;
    }
}

fn log_buffer(kernel: &Kernel, marked: &mut Vec<u64>) {
    let info = kernel.vmcoreinfo();
    if let Some(prb_sym) = info.symbol("prb") {
        let Ok(rb) = kernel.read_u64(prb_sym) else {
            return;
        };
        let off = |t: &str, m: &str| info.offset(t, m);
        let (Some(desc_ring), Some(data_ring)) = (
            off("printk_ringbuffer", "desc_ring"),
            off("printk_ringbuffer", "text_data_ring"),
        ) else {
            return;
        };
        mark_virtual(kernel, rb, 128, marked);
        let read_u64 = |at: Option<u64>| at.and_then(|a| kernel.read_u64(a).ok());
        let read_u32 = |at: Option<u64>| at.and_then(|a| kernel.read_u32(a).ok());
        let ring = rb + desc_ring;
        let count_bits =
            read_u32(off("prb_desc_ring", "count_bits").map(|o| ring + o)).unwrap_or(0);
        if count_bits < 30 {
            let count = 1u64 << count_bits;
            if let (Some(descs), Some(size)) = (
                read_u64(off("prb_desc_ring", "descs").map(|o| ring + o)),
                info.size("prb_desc"),
            ) {
                mark_virtual(kernel, descs, count * size, marked);
            }
            if let (Some(infos), Some(size)) = (
                read_u64(off("prb_desc_ring", "infos").map(|o| ring + o)),
                info.size("printk_info"),
            ) {
                mark_virtual(kernel, infos, count * size, marked);
            }
        }
        let data = rb + data_ring;
        let size_bits = read_u32(off("prb_data_ring", "size_bits").map(|o| data + o)).unwrap_or(64);
        if let (true, Some(text)) = (
            size_bits < 31,
            read_u64(off("prb_data_ring", "data").map(|o| data + o)),
        ) {
            mark_virtual(kernel, text, 1 << size_bits, marked);
        }
    } else if let (Some(buf_sym), Some(len_sym)) =
        (info.symbol("log_buf"), info.symbol("log_buf_len"))
    {
        if let (Ok(buf), Ok(len)) = (kernel.read_u64(buf_sym), kernel.read_u32(len_sym)) {
            mark_virtual(kernel, buf, u64::from(len), marked);
        }
    }
}

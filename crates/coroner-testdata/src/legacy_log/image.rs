//! The dump's memory and its ELF container: the kernel image (page tables,
//! variables, `init_uts_ns`, the `mem_section` roots, `__log_buf`), a RAM chunk
//! reached through the direct map, and the VMCOREINFO the kernel would publish.

use super::printk::Shape;
use super::{Kernel, Spec};

const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// `__START_KERNEL - __START_KERNEL_map`: CONFIG_PHYSICAL_START, 16 MiB.
const LINK_OFFSET: u64 = 0x100_0000;
const PAGE: u64 = 4096;
const HUGE: u64 = 2 << 20;

// Offsets in the kernel image.
/// The top page table (`init_level4_pgt`, `init_top_pgt` from 4.13), then the rest.
const PGT: u64 = 0x1000;
const PGT_END: u64 = 0x8000;
const VARS: u64 = 0x8000;
const UTS: u64 = 0x9000;
const MEM_SECTION: u64 = 0xa000;
const STATIC_LOG_BUF: u64 = 0x1_0000;

// The variables, each at its own place in the page at VARS.
const V_LOG_BUF: u64 = 0x00;
const V_LOG_BUF_LEN: u64 = 0x08;
const V_FIRST_IDX: u64 = 0x10;
const V_NEXT_IDX: u64 = 0x14;
const V_CLEAR_IDX: u64 = 0x18;
const V_LOG_END: u64 = 0x20;
const V_LOGGED_CHARS: u64 = 0x28;
const V_PHYS_BASE: u64 = 0x40;
const V_NODE_ONLINE_MAP: u64 = 0x80;

/// `struct mem_section`: section_mem_map and pageblock_flags.
const MEM_SECTION_SIZE: u64 = 16;
const SECTION_SIZE_BITS: u32 = 27;
/// SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP (| SECTION_IS_ONLINE from 4.13).
const SECTION_FLAGS_OLD: u64 = 0b011;
const SECTION_FLAGS: u64 = 0b111;
/// Page-table entry bits: _KERNPG_TABLE for tables, __PAGE_KERNEL_LARGE_EXEC for
/// 2 MiB pages (present, rw, accessed, dirty, PSE, global).
const TABLE_ENTRY: u64 = 0x63;
const LARGE_PAGE_ENTRY: u64 = 0x1e3;

/// The log's variables besides `log_buf` and `log_buf_len`.
pub(super) enum LogVars {
    Records { first_idx: u32, next_idx: u32 },
    Chars { log_end: u64 },
}

pub(super) fn log_shape(kernel: Kernel) -> Shape {
    let caller_id = kernel == Kernel::V5_4;
    Shape {
        header: if caller_id { 20 } else { 16 },
        caller_id,
    }
}

impl Kernel {
    fn at_least(self, v: (u32, u32, u32)) -> bool {
        self.version() >= v
    }

    fn kaslr_offset(self) -> u64 {
        if self == Kernel::V4_18 {
            0x1e00_0000
        } else {
            0
        }
    }

    /// The direct map's base: fixed (moved in 2.6.27 and 4.20), or randomised.
    fn page_offset(self) -> u64 {
        match self {
            Kernel::V2_6_24 => 0xffff_8100_0000_0000,
            Kernel::V2_6_32 | Kernel::V3_10 => 0xffff_8800_0000_0000,
            Kernel::V4_18 => 0xffff_9b2a_4000_0000,
            Kernel::V5_4 => 0xffff_8880_0000_0000,
        }
    }

    /// Where `struct page`s live (never read by a log reader: not in the dump).
    fn vmemmap(self) -> u64 {
        match self {
            Kernel::V2_6_24 => 0xffff_e200_0000_0000,
            Kernel::V4_18 => 0xffff_d3e6_c000_0000,
            _ => 0xffff_ea00_0000_0000,
        }
    }

    /// MAX_PHYSMEM_BITS, which sizes the `mem_section` roots makedumpfile expects.
    fn max_physmem_bits(self) -> u32 {
        if self.at_least((2, 6, 26)) {
            46
        } else {
            40
        }
    }
}

pub(super) struct Image {
    kernel: Kernel,
    text_va: u64,
    /// Physical address of the kernel image, and its bytes.
    image_pa: u64,
    image: Vec<u8>,
    /// A RAM chunk seen only through the direct map: `mem_section`'s page, then the
    /// memblock log buffer of `log_buf_len=`.
    ram_pa: u64,
    ram: Vec<u8>,
    vmcoreinfo: String,
}

impl Image {
    pub(super) fn build(spec: &Spec, log_buf: &[u8], vars: LogVars) -> Image {
        let k = spec.kernel;
        assert_eq!(spec.phys_base % HUGE, 0, "phys_base must be 2 MiB-aligned");
        let text_va = START_KERNEL_MAP + LINK_OFFSET + k.kaslr_offset();
        let log_pages = (log_buf.len() as u64).next_multiple_of(PAGE);
        // The log sits in `__log_buf` in the image, or after mem_section's page.
        let (in_image, in_ram) = if spec.boot_param_buffer {
            (0, log_pages)
        } else {
            (log_pages, 0)
        };
        let mut img = Image {
            kernel: k,
            text_va,
            image_pa: text_va - START_KERNEL_MAP + spec.phys_base,
            image: vec![0; (STATIC_LOG_BUF + in_image) as usize],
            ram_pa: 0,
            ram: vec![0; (PAGE + in_ram) as usize],
            vmcoreinfo: String::new(),
        };
        img.ram_pa = (img.image_pa + img.image.len() as u64 + (64 << 20)).next_multiple_of(HUGE);

        let log_buf_va = if spec.boot_param_buffer {
            img.ram[PAGE as usize..][..log_buf.len()].copy_from_slice(log_buf);
            img.direct(img.ram_pa + PAGE)
        } else {
            img.image[STATIC_LOG_BUF as usize..][..log_buf.len()].copy_from_slice(log_buf);
            text_va + STATIC_LOG_BUF
        };
        img.put(V_LOG_BUF, &log_buf_va.to_le_bytes());
        img.put(V_LOG_BUF_LEN, &(log_buf.len() as u32).to_le_bytes());
        match &vars {
            LogVars::Records {
                first_idx,
                next_idx,
            } => {
                img.put(V_FIRST_IDX, &first_idx.to_le_bytes());
                img.put(V_NEXT_IDX, &next_idx.to_le_bytes());
            }
            LogVars::Chars { log_end } => {
                // `unsigned long log_end` until 2.6.24, `unsigned` after.
                if k.at_least((2, 6, 25)) {
                    img.put(V_LOG_END, &(*log_end as u32).to_le_bytes());
                } else {
                    img.put(V_LOG_END, &log_end.to_le_bytes());
                }
                let logged = (*log_end).min(log_buf.len() as u64) as u32;
                img.put(V_LOGGED_CHARS, &logged.to_le_bytes());
            }
        }
        img.put(V_NODE_ONLINE_MAP, &[1]);
        img.put(V_PHYS_BASE, &spec.phys_base.to_le_bytes());
        img.uts_name();
        img.mem_section();
        img.page_tables();
        img.vmcoreinfo = img.vmcoreinfo_text(spec, &vars_symbols(&vars));
        img
    }

    fn direct(&self, pa: u64) -> u64 {
        self.kernel.page_offset() + pa
    }

    /// Writes `bytes` at `off` in the variables page.
    fn put(&mut self, off: u64, bytes: &[u8]) {
        let at = (VARS + off) as usize;
        self.image[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// `init_uts_ns`: a `struct kref` (4 bytes), then `struct new_utsname`.
    fn uts_name(&mut self) {
        let fields = [
            "Linux",
            "legacy-log",
            self.kernel.release(),
            "#1 SMP",
            "x86_64",
            "(none)",
        ];
        let base = UTS as usize;
        self.image[base..base + 4].copy_from_slice(&1u32.to_le_bytes());
        for (i, f) in fields.iter().enumerate() {
            let at = base + 4 + 65 * i;
            self.image[at..at + f.len()].copy_from_slice(f.as_bytes());
        }
    }

    /// SPARSEMEM_EXTREME: the root array in the image, root 0 pointing at a page
    /// of `struct mem_section` in RAM; every section the dump spans is present, its
    /// `section_mem_map` the vmemmap base plus flags.
    fn mem_section(&mut self) {
        let roots = self.mem_section_roots();
        assert!(MEM_SECTION + roots * 8 <= STATIC_LOG_BUF);
        let section_array = self.direct(self.ram_pa);
        let at = MEM_SECTION as usize;
        self.image[at..at + 8].copy_from_slice(&section_array.to_le_bytes());
        let flags = if self.kernel.at_least((4, 13, 0)) {
            SECTION_FLAGS
        } else {
            SECTION_FLAGS_OLD
        };
        let last_section = (self.ram_pa + self.ram.len() as u64) >> SECTION_SIZE_BITS;
        assert!(
            last_section < PAGE / MEM_SECTION_SIZE,
            "one root covers the dump"
        );
        for nr in 0..=last_section as usize {
            let entry = (self.kernel.vmemmap() | flags).to_le_bytes();
            self.ram[nr * 16..nr * 16 + 8].copy_from_slice(&entry);
        }
    }

    /// NR_SECTION_ROOTS: every section of the physical address space, a page of
    /// `struct mem_section` per root.
    fn mem_section_roots(&self) -> u64 {
        let sections = 1u64 << (self.kernel.max_physmem_bits() - SECTION_SIZE_BITS);
        sections / (PAGE / MEM_SECTION_SIZE)
    }

    /// 4-level tables mapping the kernel text and the direct map (of the image and
    /// the RAM chunk) with 2 MiB pages, allocated after the top table.
    fn page_tables(&mut self) {
        let text_to_pa = self.image_pa.wrapping_sub(self.text_va);
        let mut maps = Vec::new();
        for (va, size, delta) in [
            (self.text_va, self.image.len() as u64, text_to_pa),
            (
                self.direct(self.image_pa),
                self.image.len() as u64,
                0u64.wrapping_sub(self.kernel.page_offset()),
            ),
            (
                self.direct(self.ram_pa),
                self.ram.len() as u64,
                0u64.wrapping_sub(self.kernel.page_offset()),
            ),
        ] {
            let mut block = va / HUGE * HUGE;
            while block < va + size {
                maps.push((block, block.wrapping_add(delta)));
                block += HUGE;
            }
        }
        let mut next_table = PGT + PAGE;
        for (va, pa) in maps {
            let mut table = PGT;
            for shift in [39, 30] {
                let slot = (table + 8 * ((va >> shift) & 0x1ff)) as usize;
                let entry = u64::from_le_bytes(self.image[slot..slot + 8].try_into().unwrap());
                table = if entry == 0 {
                    assert!(next_table < PGT_END, "page-table arena full");
                    let new = next_table;
                    next_table += PAGE;
                    let entry = (self.image_pa + new) | TABLE_ENTRY;
                    self.image[slot..slot + 8].copy_from_slice(&entry.to_le_bytes());
                    new
                } else {
                    (entry & !0xfff) - self.image_pa
                };
            }
            let slot = (table + 8 * ((va >> 21) & 0x1ff)) as usize;
            self.image[slot..slot + 8].copy_from_slice(&(pa | LARGE_PAGE_ENTRY).to_le_bytes());
        }
    }

    /// VMCOREINFO in the kernel's order: crash_save_vmcoreinfo_init, the log's
    /// entries, then arch_crash_save_vmcoreinfo. Entries about zones, nodes and
    /// free lists, which no log reader uses, are left out.
    fn vmcoreinfo_text(&self, spec: &Spec, log_symbols: &[(&str, u64)]) -> String {
        let k = self.kernel;
        let sym = |off: u64| self.text_va + off;
        let pgt = if k.at_least((4, 13, 0)) {
            "init_top_pgt"
        } else {
            "init_level4_pgt"
        };
        let mut s = String::new();
        let mut line = |l: String| {
            s.push_str(&l);
            s.push('\n');
        };
        line(format!("OSRELEASE={}", k.release()));
        line(format!("PAGESIZE={PAGE}"));
        line(format!("SYMBOL(init_uts_ns)={:x}", sym(UTS)));
        line(format!(
            "SYMBOL(node_online_map)={:x}",
            sym(VARS + V_NODE_ONLINE_MAP)
        ));
        // On x86-64 swapper_pg_dir is a macro for the top table.
        line(format!("SYMBOL(swapper_pg_dir)={:x}", sym(PGT)));
        line(format!("SYMBOL(_stext)={:x}", sym(0)));
        line(format!("SYMBOL(mem_section)={:x}", sym(MEM_SECTION)));
        line(format!("LENGTH(mem_section)={}", self.mem_section_roots()));
        line(format!("SIZE(mem_section)={MEM_SECTION_SIZE}"));
        line("OFFSET(mem_section.section_mem_map)=0".into());
        line("SIZE(page)=64".into());
        line("SIZE(list_head)=16".into());
        line("SIZE(nodemask_t)=128".into());
        line("OFFSET(page.flags)=0".into());
        // `_count` became `_refcount` in 4.6, and the struct was reordered.
        if k.at_least((4, 6, 0)) {
            line("OFFSET(page._refcount)=52".into());
            line("OFFSET(page.mapping)=24".into());
            line("OFFSET(page.lru)=8".into());
        } else {
            line("OFFSET(page._count)=8".into());
            line("OFFSET(page.mapping)=24".into());
            line("OFFSET(page.lru)=40".into());
        }
        for (name, off) in log_symbols {
            line(format!("SYMBOL({name})={:x}", sym(VARS + off)));
        }
        if k.structured() {
            let shape = log_shape(k);
            // 3.11 renamed `struct log` to `struct printk_log`.
            let ty = if k.at_least((3, 11, 0)) {
                "printk_log"
            } else {
                "log"
            };
            line(format!("SIZE({ty})={}", shape.header));
            for (member, off) in [
                ("ts_nsec", 0),
                ("len", 8),
                ("text_len", 10),
                ("dict_len", 12),
            ] {
                line(format!("OFFSET({ty}.{member})={off}"));
            }
            if shape.caller_id {
                line(format!("OFFSET({ty}.caller_id)=16"));
            }
        }
        // 4.10 exports phys_base's value instead of its address.
        if k.at_least((4, 10, 0)) {
            line(format!("NUMBER(phys_base)={}", spec.phys_base as i64));
        } else {
            line(format!("SYMBOL(phys_base)={:x}", sym(VARS + V_PHYS_BASE)));
        }
        line(format!("SYMBOL({pgt})={:x}", sym(PGT)));
        if k.at_least((4, 17, 0)) {
            line("NUMBER(pgtable_l5_enabled)=0".into());
        }
        if k.at_least((3, 14, 0)) {
            line(format!("KERNELOFFSET={:x}", k.kaslr_offset()));
        }
        line("CRASHTIME=1700000000".into());
        s
    }

    /// The ELF vmcore: a PT_NOTE with the VMCOREINFO note, the kernel text PT_LOAD,
    /// then RAM PT_LOADs in physical order, each mapped through the direct map.
    pub(super) fn into_elf(self) -> Vec<u8> {
        let note = elf_note(b"VMCOREINFO", &self.vmcoreinfo);
        let loads = [
            (self.text_va, self.image_pa, &self.image),
            (self.direct(self.image_pa), self.image_pa, &self.image),
            (self.direct(self.ram_pa), self.ram_pa, &self.ram),
        ];
        let phnum = 1 + loads.len() as u64;
        let note_off = 64 + 56 * phnum;
        let mut data_off = (note_off + note.len() as u64).next_multiple_of(PAGE);
        let mut out = Vec::new();
        out.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        out.extend_from_slice(&4u16.to_le_bytes()); // ET_CORE
        out.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        out.extend_from_slice(&1u32.to_le_bytes());
        for v in [0u64, 64, 0] {
            out.extend_from_slice(&v.to_le_bytes()); // entry, phoff, shoff
        }
        out.extend_from_slice(&0u32.to_le_bytes());
        for v in [64u16, 56, phnum as u16, 64, 0, 0] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let mut phdr = |kind: u32, off: u64, vaddr: u64, paddr: u64, size: u64| {
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&if kind == 1 { 7u32 } else { 0 }.to_le_bytes());
            for v in [off, vaddr, paddr, size, size, if kind == 1 { 0 } else { 4 }] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        };
        phdr(4, note_off, 0, 0, note.len() as u64);
        for (vaddr, paddr, bytes) in loads {
            phdr(1, data_off, vaddr, paddr, bytes.len() as u64);
            data_off += bytes.len() as u64;
        }
        out.extend_from_slice(&note);
        out.resize(out.len().next_multiple_of(PAGE as usize), 0);
        for (_, _, bytes) in loads {
            out.extend_from_slice(bytes);
        }
        out
    }
}

/// The log's symbols and their places in the variables page.
fn vars_symbols(vars: &LogVars) -> Vec<(&'static str, u64)> {
    let mut v = vec![("log_buf", V_LOG_BUF), ("log_buf_len", V_LOG_BUF_LEN)];
    match vars {
        LogVars::Records { .. } => v.extend([
            ("log_first_idx", V_FIRST_IDX),
            ("clear_idx", V_CLEAR_IDX),
            ("log_next_idx", V_NEXT_IDX),
        ]),
        LogVars::Chars { .. } => {
            v.extend([("log_end", V_LOG_END), ("logged_chars", V_LOGGED_CHARS)])
        }
    }
    v
}

/// An ELF note with a NUL-terminated name, both parts padded to 4 bytes.
fn elf_note(name: &[u8], desc: &str) -> Vec<u8> {
    let mut n = Vec::new();
    n.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
    n.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    n.extend_from_slice(&0u32.to_le_bytes());
    n.extend_from_slice(name);
    n.push(0);
    n.resize(n.len().next_multiple_of(4), 0);
    n.extend_from_slice(desc.as_bytes());
    n.resize(n.len().next_multiple_of(4), 0);
    n
}

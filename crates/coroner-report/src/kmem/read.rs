//! Small readers the kmem views share: integer expressions over the program's
//! types, enumerator values, and the page array (`struct page` of each PFN).

use coroner_program::expr::{self, Evaluator};
use coroner_program::Program;
use coroner_types::{Type, Types};

/// The integer value of a C expression (`_totalram_pages.counter`).
pub(crate) fn int(program: &Program, types: &Types, expression: &str) -> Result<i128, String> {
    let mut evaluator = Evaluator::new(program, types, None);
    let value = evaluator.eval(&expr::parse(expression)?)?;
    evaluator
        .integer(value)
        .map_err(|e| format!("{expression}: {e}"))
}

/// The value of the enumerator `name` in any enum of the types.
pub(crate) fn enumerator(types: &Types, name: &str) -> Option<i128> {
    types.ids().find_map(|id| match types.get(id) {
        Some(Type::Enum(e)) => e
            .values
            .iter()
            .find(|v| types.str(v.name) == name)
            .map(|v| v.value),
        _ => None,
    })
}

/// A `u64` at a symbol plus `offset`.
pub(crate) fn symbol_u64(program: &Program, name: &str, offset: u64) -> Result<u64, String> {
    let at = program
        .address_of(name)
        .ok_or_else(|| format!("no symbol {name}"))?;
    program
        .read_u64(at + offset)
        .map_err(|e| format!("{name}: {e}"))
}

/// The sparse memory model's sections as VMCOREINFO describes them: where each
/// present section's `struct page` array is.
pub(crate) struct MemMap {
    /// (first PFN, address of its `struct page`) of each present section.
    pub sections: Vec<(u64, u64)>,
    pub pages_per_section: u64,
    /// `sizeof(struct page)`.
    pub page_struct: u64,
}

/// Flag bits of `mem_section.section_mem_map` below the encoded map address.
const SECTION_MAP_MASK: u64 = !0x3f;

impl MemMap {
    pub(crate) fn read(program: &Program) -> Result<MemMap, String> {
        let info = program.kernel().vmcoreinfo();
        let need =
            |what: &str, v: Option<u64>| v.ok_or_else(|| format!("VMCOREINFO has no {what}"));
        let roots_at = need("SYMBOL(mem_section)", info.symbol("mem_section"))?;
        let roots = need("LENGTH(mem_section)", info.length("mem_section"))?;
        let size = need("SIZE(mem_section)", info.size("mem_section"))?;
        let map_offset = info.offset("mem_section", "section_mem_map").unwrap_or(0);
        let section_bits = need(
            "NUMBER(SECTION_SIZE_BITS)",
            info.number("SECTION_SIZE_BITS").map(|n| n as u64),
        )?;
        let page_struct = need("SIZE(page)", info.size("page"))?;
        let page_size = info.page_size().unwrap_or(4096);
        let page_shift = page_size.trailing_zeros() as u64;
        let pages_per_section = 1u64 << (section_bits - page_shift);
        let per_root = page_size / size.max(1);
        if roots > 1 << 20 || per_root == 0 {
            return Err(format!(
                "implausible mem_section: {roots} roots of {per_root}"
            ));
        }
        let mut sections = Vec::new();
        for root in 0..roots {
            let Ok(array) = program.read_u64(roots_at + 8 * root) else {
                continue;
            };
            if array == 0 {
                continue;
            }
            let mut buf = vec![0u8; (per_root * size) as usize];
            if program.read(array, &mut buf).is_err() {
                continue;
            }
            for i in 0..per_root {
                let at = (i * size + map_offset) as usize;
                let encoded = u64::from_le_bytes(buf[at..at + 8].try_into().expect("8 bytes"));
                if encoded == 0 {
                    continue;
                }
                let nr = root * per_root + i;
                let pfn = nr * pages_per_section;
                let map = (encoded & SECTION_MAP_MASK).wrapping_add(pfn * page_struct);
                sections.push((pfn, map));
            }
        }
        Ok(MemMap {
            sections,
            pages_per_section,
            page_struct,
        })
    }

    /// Calls `each(pfn, page address, page bytes)` for every page of every
    /// present section, reading 64 pages' structs at a time; unreadable ones
    /// come as zeros, and are counted in the result.
    pub(crate) fn each_page(
        &self,
        program: &Program,
        mut each: impl FnMut(u64, u64, &[u8]),
    ) -> u64 {
        const CHUNK: u64 = 64;
        let mut lost = 0;
        let mut buf = vec![0u8; (CHUNK * self.page_struct) as usize];
        for &(first, map) in &self.sections {
            let mut i = 0;
            while i < self.pages_per_section {
                let n = CHUNK.min(self.pages_per_section - i);
                let bytes = &mut buf[..(n * self.page_struct) as usize];
                if program.read(map + i * self.page_struct, bytes).is_err() {
                    bytes.fill(0);
                    lost += n;
                }
                for j in 0..n {
                    let at = (j * self.page_struct) as usize;
                    let page = &bytes[at..at + self.page_struct as usize];
                    each(first + i + j, map + (i + j) * self.page_struct, page);
                }
                i += n;
            }
        }
        lost
    }
}

//! `kmem -p [PHYSADDR...]`: crash's line for each `struct page` (its address,
//! physical address, raw `mapping` and `index` words, `_refcount`, and flags
//! with their names), for every page of every present memory section or for
//! the pages holding the given physical addresses.

use super::read::MemMap;
use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use coroner_program::{AnalysisError, Program};
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Clone, Serialize)]
pub struct PageLine {
    pub page: Addr,
    pub physical: Addr,
    /// The raw word crash prints as MAPPING (a slab's cache, an address space,
    /// a tail page's poison).
    pub mapping: Addr,
    pub index: Addr,
    pub count: i32,
    pub flags: Addr,
}

/// One named page flag: its mask and name (`pageflag_names`).
#[derive(Debug, Clone, Serialize)]
pub struct PageFlag {
    pub mask: Addr,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PagesReport {
    pub pages: Vec<PageLine>,
    pub flag_names: Vec<PageFlag>,
    pub warnings: Vec<Warning>,
}

impl PagesReport {
    /// crash's `translate_page_flags`: the names of the set flags, in the
    /// table's order.
    fn names(&self, flags: u64) -> String {
        let set: Vec<&str> = self
            .flag_names
            .iter()
            .filter(|f| flags & f.mask.0 != 0)
            .map(|f| f.name.as_str())
            .collect();
        match set.is_empty() {
            true => String::new(),
            false => format!(" {}", set.join(",")),
        }
    }
}

impl Render for PagesReport {
    fn schema(&self) -> &'static str {
        "coroner.kmem-p/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "      PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS"
        )?;
        for p in &self.pages {
            writeln!(
                out,
                "{:x} {:>8x} {:>16x} {:>8x} {:>2} {:x}{}",
                p.page.0,
                p.physical.0,
                p.mapping.0,
                p.index.0,
                p.count,
                p.flags.0,
                self.names(p.flags.0)
            )?;
        }
        Ok(())
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        write_document(out, self.schema(), self)
    }

    fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

/// Most entries read from `pageflag_names` (the kernel has about 30).
const MAX_FLAG_NAMES: u64 = 64;

/// `physical`: the addresses whose pages are shown; empty: every page.
pub fn kmem_pages(program: &Program, physical: &[u64]) -> Result<PagesReport, AnalysisError> {
    let types = program.types()?;
    let off = |path: &str| {
        types
            .offset_of("page", path)
            .ok_or_else(|| AnalysisError::Layout(format!("page.{path}")))
    };
    let (flags_at, mapping_at, index_at, count_at) = (
        off("flags")? as usize,
        off("mapping")? as usize,
        off("index")? as usize,
        off("_refcount")? as usize,
    );
    let map = MemMap::read(program).map_err(AnalysisError::Corrupt)?;
    let page_shift = program
        .kernel()
        .vmcoreinfo()
        .page_size()
        .unwrap_or(4096)
        .trailing_zeros();
    let word = |bytes: &[u8], at: usize| {
        u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
    };
    let line = |pfn: u64, page: u64, bytes: &[u8]| PageLine {
        page: Addr(page),
        physical: Addr(pfn << page_shift),
        mapping: Addr(word(bytes, mapping_at)),
        index: Addr(word(bytes, index_at)),
        count: i32::from_le_bytes(bytes[count_at..count_at + 4].try_into().expect("4 bytes")),
        flags: Addr(word(bytes, flags_at)),
    };
    let mut pages = Vec::new();
    let mut warnings = Warning::all(Stage::Program, program.warnings());
    if physical.is_empty() {
        let lost = map.each_page(program, |pfn, page, bytes| {
            pages.push(line(pfn, page, bytes))
        });
        if lost > 0 {
            warnings.push(Warning::new(
                Stage::Program,
                format!("{lost} struct pages unreadable: shown as zeros"),
            ));
        }
    } else {
        for &address in physical {
            let pfn = address >> page_shift;
            let page = map
                .sections
                .iter()
                .find(|&&(first, _)| (first..first + map.pages_per_section).contains(&pfn))
                .map(|&(first, at)| at + (pfn - first) * map.page_struct)
                .ok_or_else(|| {
                    AnalysisError::NotFound(format!(
                        "kmem -p: {address:x}: no memory section holds it"
                    ))
                })?;
            let mut bytes = vec![0u8; map.page_struct as usize];
            program.read(page, &mut bytes)?;
            pages.push(line(pfn, page, &bytes));
        }
    }
    let flag_names = match flag_names(program) {
        Ok(names) => names,
        Err(e) => {
            warnings.push(Warning::new(
                Stage::Program,
                format!("page flag names: {e}: flags shown as numbers only"),
            ));
            Vec::new()
        }
    };
    Ok(PagesReport {
        pages,
        flag_names,
        warnings,
    })
}

/// The kernel's own table of page flag names (`pageflag_names`, mm/debug.c:
/// `{mask, name}` pairs ending with a null name), which crash reads first.
fn flag_names(program: &Program) -> Result<Vec<PageFlag>, AnalysisError> {
    let table = program
        .address_of("pageflag_names")
        .ok_or(AnalysisError::NoSymbol("pageflag_names"))?;
    let mut names = Vec::new();
    for i in 0..MAX_FLAG_NAMES {
        let mask = program.read_u64(table + i * 16)?;
        let name_at = program.read_u64(table + i * 16 + 8)?;
        if name_at == 0 {
            break;
        }
        let mut raw = [0u8; 32];
        program.read(name_at, &mut raw)?;
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        names.push(PageFlag {
            mask: Addr(mask),
            name: String::from_utf8_lossy(&raw[..end]).into_owned(),
        });
    }
    Ok(names)
}

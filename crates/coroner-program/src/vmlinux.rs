//! A vmlinux with DWARF given beside the dump (`--vmlinux`): mapped once, checked
//! against the dump's build-id, and kept for what only DWARF answers (source lines,
//! inlined frames). Its addresses are link-time ones: the dump's are shifted by
//! KASLR's `KERNELOFFSET`, undone here so callers speak runtime addresses only.

use coroner_dwarf::{Debuginfo, DwarfError, Frame, LineRow, Lines};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The parsed file and its line tables (built on first use), borrowing the map.
struct Parsed<'data> {
    debuginfo: Debuginfo<'data>,
    lines: std::cell::OnceCell<Result<Lines<'data>, DwarfError>>,
    /// Code symbols with a size, by link-time address, for where a function ends.
    sized: std::cell::OnceCell<Vec<(u64, u64)>>,
}

self_cell::self_cell!(
    /// The map and what is parsed from it, which borrows it.
    struct Mapped {
        owner: memmap2::Mmap,
        #[not_covariant]
        dependent: Parsed,
    }
);

/// The vmlinux of the dump's kernel.
pub struct Vmlinux {
    path: PathBuf,
    /// addr2line's tables fill lazily through `&self` and are not `Sync`: one
    /// lookup at a time.
    mapped: Mutex<Mapped>,
    /// Runtime minus link-time address (`KERNELOFFSET`; 0 without KASLR).
    offset: u64,
    build_id: Option<String>,
}

impl Vmlinux {
    /// Maps and parses `path`; `offset` is the dump's KASLR offset.
    pub(crate) fn open(path: &Path, offset: u64) -> Result<Vmlinux, String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        // SAFETY: read-only; a file changing under us gives wrong bytes, which the
        // DWARF reader already treats as untrusted input.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| e.to_string())?;
        let mapped = Mapped::try_new(map, |map| {
            Debuginfo::parse(map).map(|debuginfo| Parsed {
                debuginfo,
                lines: std::cell::OnceCell::new(),
                sized: std::cell::OnceCell::new(),
            })
        })
        .map_err(|e| e.to_string())?;
        let build_id = mapped.with_dependent(|_, parsed| parsed.debuginfo.build_id());
        Ok(Vmlinux {
            path: path.to_path_buf(),
            mapped: Mutex::new(mapped),
            offset,
            build_id,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its GNU build-id, lower-case hex.
    pub fn build_id(&self) -> Option<&str> {
        self.build_id.as_deref()
    }

    /// Its DWARF types (parsed now; the caller keeps them).
    pub(crate) fn types(&self) -> Result<std::sync::Arc<coroner_types::Types>, String> {
        let mapped = self.mapped.lock().unwrap_or_else(|p| p.into_inner());
        mapped.with_dependent(|_, parsed| {
            parsed
                .debuginfo
                .types()
                .map(|t| t.types)
                .map_err(|e| e.to_string())
        })
    }

    /// The source frames at runtime address `pc`, innermost (most deeply inlined)
    /// first; empty where the DWARF has nothing. For a return address pass the
    /// address minus one, as drgn and gdb do.
    pub fn frames(&self, pc: u64) -> Result<Vec<Frame>, String> {
        let link = pc.wrapping_sub(self.offset);
        let mut mapped = self.mapped.lock().unwrap_or_else(|p| p.into_inner());
        mapped.with_dependent_mut(|_, parsed| {
            let lines = parsed
                .lines
                .get_or_init(|| parsed.debuginfo.lines())
                .as_ref()
                .map_err(|e| e.to_string())?;
            lines.frames(link).map_err(|e| e.to_string())
        })
    }

    /// The line of each instruction in runtime `low..high`, as gdb picks them
    /// (rows carry runtime addresses).
    pub fn line_rows(&self, low: u64, high: u64) -> Result<Vec<LineRow>, String> {
        let (low_link, high_link) = (
            low.wrapping_sub(self.offset),
            high.wrapping_sub(self.offset),
        );
        let mapped = self.mapped.lock().unwrap_or_else(|p| p.into_inner());
        let rows = mapped
            .with_dependent(|_, parsed| parsed.debuginfo.line_rows(low_link, high_link))
            .map_err(|e| e.to_string())?;
        Ok(rows
            .into_iter()
            .map(|r| LineRow {
                address: r.address.wrapping_add(self.offset),
                ..r
            })
            .collect())
    }

    /// Where the function starting at runtime address `start` ends, from the ELF
    /// symbol table's size (kallsyms records none).
    pub fn function_end(&self, start: u64) -> Option<u64> {
        let link = start.wrapping_sub(self.offset);
        let mut mapped = self.mapped.lock().unwrap_or_else(|p| p.into_inner());
        let size = mapped.with_dependent_mut(|_, parsed| {
            let sized = parsed.sized.get_or_init(|| {
                let mut sized: Vec<(u64, u64)> = (parsed.debuginfo.symbols())
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|s| s.size > 0 && matches!(s.letter, 't' | 'T' | 'w' | 'W'))
                    .map(|s| (s.address, s.size))
                    .collect();
                sized.sort_unstable();
                sized
            });
            let i = sized.partition_point(|s| s.0 < link);
            sized.get(i).filter(|s| s.0 == link).map(|s| s.1)
        })?;
        Some(start.wrapping_add(size))
    }

    /// The line of the instruction at runtime address `pc`, as gdb's
    /// `find_pc_line` gives it (crash's `sym`, gdb's `list *ADDR`).
    pub fn line_at(&self, pc: u64) -> Result<Option<LineRow>, String> {
        let rows = self.line_rows(pc, pc.wrapping_add(1))?;
        Ok(rows.into_iter().rev().find(|r| r.address <= pc))
    }
}

//! `vm`: a task's address space as crash's `vm` prints it: its `mm_struct`,
//! page directory, RSS and total size, then each VMA (start, end, flags, the
//! mapped file's path). VMAs come from the `mm_mt` maple tree (6.1 on) or the
//! older `mmap` list.

use crate::files::{self, Layout as PathLayout};
use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use coroner_program::{AnalysisError, Program, Task};
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Clone, Serialize)]
pub struct Vma {
    pub vma: Addr,
    pub start: Addr,
    pub end: Addr,
    pub flags: u64,
    /// The mapped file's path; empty for anonymous memory.
    pub file: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskVm {
    pub pid: u32,
    pub task: Addr,
    pub cpu: u32,
    pub command: String,
    /// `None` for a kernel thread (no address space).
    pub mm: Option<Addr>,
    pub pgd: Addr,
    pub rss_kib: u64,
    pub total_vm_kib: u64,
    pub vmas: Vec<Vma>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VmReport {
    pub tasks: Vec<TaskVm>,
    pub warnings: Vec<Warning>,
}

/// crash's `mkstring(.., CENTER|LJUST|RJUST)`: `s` centred in `width`, the odd
/// space on the right (or, with `right`, on the left).
fn center(s: &str, width: usize, right: bool) -> String {
    let extra = width.saturating_sub(s.len());
    let (mut left, mut after) = (extra / 2, extra / 2);
    if extra % 2 == 1 {
        if right {
            left += 1;
        } else {
            after += 1;
        }
    }
    format!("{}{s}{}", " ".repeat(left), " ".repeat(after))
}

impl Render for VmReport {
    fn schema(&self) -> &'static str {
        "coroner.vm/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        for (i, t) in self.tasks.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(
                out,
                "PID: {:<8} TASK: {:<16x}  CPU: {:<4} COMMAND: \"{}\"",
                t.pid, t.task.0, t.cpu, t.command
            )?;
            writeln!(
                out,
                "{}  {}  {}  {}",
                center("MM", 16, false),
                center("PGD", 16, false),
                center("RSS", 6, false),
                center("TOTAL_VM", 8, false)
            )?;
            writeln!(
                out,
                "{}  {}  {}  {}",
                center(&format!("{:x}", t.mm.map_or(0, |m| m.0)), 16, false),
                center(&format!("{:x}", t.pgd.0), 16, false),
                center(&format!("{}k", t.rss_kib), 6, false),
                center(&format!("{}k", t.total_vm_kib), 8, false)
            )?;
            if t.mm.is_none() {
                continue;
            }
            writeln!(
                out,
                "{} {} {}  FLAGS FILE",
                center("VMA", 16, false),
                center("START", 10, true),
                center("END", 10, true)
            )?;
            for v in &t.vmas {
                writeln!(
                    out,
                    "{:<16x} {:>10x} {:>10x} {:>6x} {}",
                    v.vma.0, v.start.0, v.end.0, v.flags, v.file
                )?;
            }
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

/// Most VMAs or tree nodes followed before the tree is taken as corrupt.
const MAX_WALK: usize = 1 << 20;
/// `enum mm_counter` (stable since 4.5): the counters crash adds up as RSS.
const RSS_COUNTERS: [u64; 3] = [0 /* FILE */, 1 /* ANON */, 3 /* SHMEM */];

/// `tasks`: the tasks whose address spaces are shown; `all`: every task (the
/// threads of a process each cache part of its RSS).
pub fn vm(program: &Program, tasks: &[Task], all: &[Task]) -> Result<VmReport, AnalysisError> {
    let types = program.types()?;
    let off = |ty: &str, path: &str| {
        types
            .offset_of(ty, path)
            .ok_or_else(|| AnalysisError::Layout(format!("{ty}.{path}")))
    };
    let task_mm = off("task_struct", "mm")?;
    let path = PathLayout::new(types)?;
    let file_path = off("file", "f_path")?;
    let page_kib = program.kernel().vmcoreinfo().page_size().unwrap_or(4096) / 1024;
    let mut blocks = Vec::new();
    for t in tasks {
        let mm = program.read_u64(t.address.wrapping_add(task_mm))?;
        let mut block = TaskVm {
            pid: t.pid,
            task: Addr(t.address),
            cpu: t.cpu,
            command: t.comm.clone(),
            mm: None,
            pgd: Addr(0),
            rss_kib: 0,
            total_vm_kib: 0,
            vmas: Vec::new(),
        };
        if mm != 0 {
            block.mm = Some(Addr(mm));
            block.pgd = Addr(program.read_u64(mm.wrapping_add(off("mm_struct", "pgd")?))?);
            block.total_vm_kib = program
                .read_u64(mm.wrapping_add(off("mm_struct", "total_vm")?))?
                .saturating_mul(page_kib);
            block.rss_kib = rss_pages(program, mm, t, all)?.saturating_mul(page_kib);
            let start = off("vm_area_struct", "vm_start")?;
            let end = off("vm_area_struct", "vm_end")?;
            let flags = off("vm_area_struct", "vm_flags")?;
            let file = off("vm_area_struct", "vm_file")?;
            for vma in vma_addresses(program, mm)? {
                let vm_file = program.read_u64(vma.wrapping_add(file))?;
                let name = if vm_file == 0 {
                    String::new()
                } else {
                    let dentry = program.read_u64(
                        vm_file
                            .wrapping_add(file_path)
                            .wrapping_add(path.path_dentry),
                    )?;
                    let mnt = program
                        .read_u64(vm_file.wrapping_add(file_path).wrapping_add(path.path_mnt))?;
                    match dentry {
                        0 => String::new(),
                        _ => files::pathname(program, &path, dentry, mnt)?,
                    }
                };
                block.vmas.push(Vma {
                    vma: Addr(vma),
                    start: Addr(program.read_u64(vma.wrapping_add(start))?),
                    end: Addr(program.read_u64(vma.wrapping_add(end))?),
                    flags: program.read_u64(vma.wrapping_add(flags))?,
                    file: name,
                });
            }
        }
        blocks.push(block);
    }
    Ok(VmReport {
        tasks: blocks,
        warnings: Warning::all(Stage::Program, program.warnings()),
    })
}

/// RSS in pages as crash counts it: the mm's file, anon and shmem counters
/// (those below zero, not yet synced, as zero), plus what each thread of the
/// process still caches in its own `rss_stat` (SPLIT_RSS_COUNTING).
fn rss_pages(program: &Program, mm: u64, task: &Task, all: &[Task]) -> Result<u64, AnalysisError> {
    let types = program.types()?;
    let counters = types
        .offset_of("mm_struct", "rss_stat.count")
        .ok_or_else(|| AnalysisError::Layout("mm_struct.rss_stat.count".into()))?;
    let mut rss: i64 = 0;
    for c in RSS_COUNTERS {
        let count = program.read_u64(mm.wrapping_add(counters).wrapping_add(c * 8))? as i64;
        rss = rss.saturating_add(count.max(0));
    }
    if let Some(cached) = types.offset_of("task_struct", "rss_stat.count") {
        for thread in all.iter().filter(|t| t.tgid == task.tgid && t.tgid != 0) {
            for c in RSS_COUNTERS {
                let count = program
                    .read_u32(thread.address.wrapping_add(cached).wrapping_add(c * 4))?
                    as i32;
                rss = rss.saturating_add(i64::from(count));
            }
        }
    }
    Ok(rss.max(0) as u64)
}

/// The VMAs of `mm` in address order.
fn vma_addresses(program: &Program, mm: u64) -> Result<Vec<u64>, AnalysisError> {
    let types = program.types()?;
    if let Some(mmap) = types.offset_of("mm_struct", "mmap") {
        // Before 6.1: a list through vm_next.
        let next = types
            .offset_of("vm_area_struct", "vm_next")
            .ok_or_else(|| AnalysisError::Layout("vm_area_struct.vm_next".into()))?;
        let mut vmas = Vec::new();
        let mut vma = program.read_u64(mm.wrapping_add(mmap))?;
        while vma != 0 && vmas.len() < MAX_WALK {
            vmas.push(vma);
            vma = program.read_u64(vma.wrapping_add(next))?;
        }
        return Ok(vmas);
    }
    let off = |ty: &str, path: &str| {
        types
            .offset_of(ty, path)
            .ok_or_else(|| AnalysisError::Layout(format!("{ty}.{path}")))
    };
    let maple = MapleLayout {
        range_pivot: off("maple_node", "mr64.pivot")?,
        range_slot: off("maple_node", "mr64.slot")?,
        arange_pivot: off("maple_node", "ma64.pivot")?,
        arange_slot: off("maple_node", "ma64.slot")?,
    };
    let root = program.read_u64(mm.wrapping_add(off("mm_struct", "mm_mt.ma_root")?))?;
    let mut vmas = Vec::new();
    let mut visits = 0;
    if is_node(root) {
        maple_walk(program, &maple, root, u64::MAX, &mut vmas, &mut visits)?;
    } else if root != 0 {
        vmas.push(root);
    }
    Ok(vmas)
}

struct MapleLayout {
    range_pivot: u64,
    range_slot: u64,
    arange_pivot: u64,
    arange_slot: u64,
}

/// An encoded maple node pointer (`xa_is_node`): internal (low bits 10) and
/// above the reserved range.
fn is_node(entry: u64) -> bool {
    entry & 3 == 2 && entry > 4096
}

/// Visits the node `entry` covering up to `max`, in slot order, as the
/// kernel's (and crash's) dump of a maple tree does: a slot covers up to its
/// pivot; a zero pivot past the first, or the node's max, ends the node.
fn maple_walk(
    program: &Program,
    l: &MapleLayout,
    entry: u64,
    max: u64,
    vmas: &mut Vec<u64>,
    visits: &mut usize,
) -> Result<(), AnalysisError> {
    *visits += 1;
    if *visits > MAX_WALK {
        return Err(AnalysisError::Corrupt("maple tree: too many nodes".into()));
    }
    let node = entry & !0xff;
    let kind = (entry >> 3) & 0xf;
    // maple_leaf_64 and maple_range_64: 16 slots; maple_arange_64: 10.
    let (slots, pivot, slot) = match kind {
        1 | 2 => (16u64, l.range_pivot, l.range_slot),
        3 => (10u64, l.arange_pivot, l.arange_slot),
        _ => {
            return Err(AnalysisError::Corrupt(format!(
                "maple node {node:x}: type {kind}"
            )))
        }
    };
    let leaf = kind < 2;
    for i in 0..slots {
        let value = program.read_u64(node.wrapping_add(slot).wrapping_add(i * 8))?;
        let last = if i < slots - 1 {
            program.read_u64(node.wrapping_add(pivot).wrapping_add(i * 8))?
        } else if value == 0 {
            break;
        } else {
            max
        };
        if last == 0 && i > 0 {
            break;
        }
        if leaf {
            if value != 0 && value & 3 != 2 {
                vmas.push(value);
            }
        } else if value != 0 {
            maple_walk(program, l, value, last, vmas, visits)?;
        }
        if last >= max {
            break;
        }
    }
    Ok(())
}

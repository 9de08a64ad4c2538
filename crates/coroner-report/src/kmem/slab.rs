//! `kmem -s`: every SLUB cache on `slab_caches`, counted as crash 8.0.2's
//! `get_kmem_cache_slub_data` counts (it emulates slub.c's sysfs `slab_objects`):
//! TOTAL is the nodes' `total_objects`, free objects are those of each CPU's
//! slab (its `objects - inuse`, its lockless freelist, its partial slabs) and
//! of the nodes' partial slabs, ALLOCATED is TOTAL less them, SLABS the nodes'
//! `nr_slabs`. Freelist pointers are decoded as CONFIG_SLAB_FREELIST_HARDENED
//! stores them (`ptr ^ random ^ bswap(address)`, 5.7 and later).

use super::info::nodes;
use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use coroner_program::{AnalysisError, Program};
use coroner_types::Types;
use serde::Serialize;
use std::collections::HashSet;
use std::io::{self, Write};

#[derive(Debug, Clone, Serialize)]
pub struct SlabCache {
    pub cache: Addr,
    pub name: String,
    pub object_size: u64,
    /// null when the cache's slabs could not be counted (crash prints `?`).
    pub allocated: Option<u64>,
    pub total: Option<u64>,
    pub slabs: Option<u64>,
    /// Bytes of one slab.
    pub slab_size: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlabReport {
    pub caches: Vec<SlabCache>,
    pub warnings: Vec<Warning>,
}

impl Render for SlabReport {
    fn schema(&self) -> &'static str {
        "coroner.kmem-s/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "CACHE             OBJSIZE  ALLOCATED     TOTAL  SLABS  SSIZE  NAME"
        )?;
        for c in &self.caches {
            write!(out, "{:<16x} {:>8}  ", c.cache.0, c.object_size)?;
            match (c.allocated, c.total, c.slabs) {
                (Some(a), Some(t), Some(s)) => write!(out, "{a:>9}  {t:>8}  {s:>5}  ")?,
                _ => write!(out, "{:>9}  {:>8}  {:>5}  ", "?", "?", "?")?,
            }
            writeln!(out, "{:>4}k  {}", c.slab_size / 1024, c.name)?;
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

/// Offsets into `kmem_cache`, `kmem_cache_cpu`, `kmem_cache_node` and the slab
/// descriptor (`struct slab` since 5.17, `struct page` before).
struct Layout {
    list: u64,
    name: u64,
    object_size: u64,
    offset: u64,
    oo: u64,
    random: Option<u64>,
    cpu_slab: u64,
    node: u64,
    cpu_page: u64,
    cpu_freelist: u64,
    cpu_partial: Option<u64>,
    node_nr_slabs: u64,
    node_total_objects: u64,
    node_partial: u64,
    slab_counters: u64,
    slab_next: u64,
    slab_list: u64,
}

impl Layout {
    fn read(types: &Types) -> Result<Layout, AnalysisError> {
        let off = |ty: &str, paths: &[&str]| {
            paths
                .iter()
                .find_map(|p| types.offset_of(ty, p))
                .ok_or_else(|| AnalysisError::Layout(format!("{ty}.{}", paths.join(" or "))))
        };
        let slab =
            if types.find("struct slab").is_some() && types.offset_of("slab", "inuse").is_some() {
                "slab"
            } else {
                "page"
            };
        Ok(Layout {
            list: off("kmem_cache", &["list"])?,
            name: off("kmem_cache", &["name"])?,
            object_size: off("kmem_cache", &["object_size", "objsize"])?,
            offset: off("kmem_cache", &["offset"])?,
            oo: off("kmem_cache", &["oo"])?,
            random: types.offset_of("kmem_cache", "random"),
            cpu_slab: off("kmem_cache", &["cpu_slab"])?,
            node: off("kmem_cache", &["node"])?,
            cpu_page: off("kmem_cache_cpu", &["slab", "page"])?,
            cpu_freelist: off("kmem_cache_cpu", &["freelist"])?,
            cpu_partial: types.offset_of("kmem_cache_cpu", "partial"),
            node_nr_slabs: off("kmem_cache_node", &["nr_slabs"])?,
            node_total_objects: off("kmem_cache_node", &["total_objects"])?,
            node_partial: off("kmem_cache_node", &["partial"])?,
            slab_counters: off(slab, &["counters"])?,
            slab_next: off(slab, &["next"])?,
            slab_list: off(slab, &["slab_list", "lru"])?,
        })
    }
}

/// Most entries a list or freelist is followed for before it is taken as corrupt.
const MAX_WALK: usize = 1 << 20;

pub fn kmem_slabs(program: &Program) -> Result<SlabReport, AnalysisError> {
    let types = program.types()?;
    let layout = Layout::read(types)?;
    let mut warnings = Warning::all(Stage::Program, program.warnings());
    let head = program
        .address_of("slab_caches")
        .ok_or(AnalysisError::NoSymbol("slab_caches"))?;
    let cpus = program.cpu_count().unwrap_or(1);
    let node_ids = nodes(program, types).len().max(1) as u64;
    let page_size = program.kernel().vmcoreinfo().page_size().unwrap_or(4096);
    let mut caches = Vec::new();
    let mut next = program.read_u64(head)?;
    while next != head {
        if caches.len() >= MAX_WALK {
            return Err(AnalysisError::Corrupt(format!(
                "slab_caches at {head:#x} does not come back to its head"
            )));
        }
        let cache = next - layout.list;
        next = program.read_u64(next)?;
        let name = program
            .read_u64(cache + layout.name)
            .ok()
            .and_then(|at| read_c_string(program, at))
            .unwrap_or_else(|| "(unknown)".into());
        let object_size = u64::from(program.read_u32(cache + layout.object_size)?);
        let oo = program.read_u32(cache + layout.oo)?;
        let order = oo >> 16;
        let counts = count(program, &layout, cache, cpus, node_ids);
        if let Err(e) = &counts {
            warnings.push(Warning::new(
                Stage::Lookup,
                format!("{name}: cannot gather relevant slab data: {e}"),
            ));
        }
        let counts = counts.ok();
        caches.push(SlabCache {
            cache: Addr(cache),
            name,
            object_size,
            allocated: counts.map(|c| c.0),
            total: counts.map(|c| c.1),
            slabs: counts.map(|c| c.2),
            slab_size: page_size << order,
        });
    }
    Ok(SlabReport { caches, warnings })
}

fn read_c_string(program: &Program, at: u64) -> Option<String> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 64];
    while bytes.len() < 4096 {
        let here = at + bytes.len() as u64;
        // Up to the end of the page, so a string at a page's end still reads.
        let n = (64 - (here % 64)) as usize;
        program.read(here, &mut buf[..n]).ok()?;
        match buf[..n].iter().position(|&b| b == 0) {
            Some(end) => {
                bytes.extend_from_slice(&buf[..end]);
                return Some(String::from_utf8_lossy(&bytes).into_owned());
            }
            None => bytes.extend_from_slice(&buf[..n]),
        }
    }
    None
}

/// (allocated, total, slabs) of one cache.
fn count(
    program: &Program,
    l: &Layout,
    cache: u64,
    cpus: u32,
    nodes: u64,
) -> Result<(u64, u64, u64), String> {
    let read = |at: u64| program.read_u64(at).map_err(|e| e.to_string());
    // `inuse:16, objects:15, frozen:1`.
    let counters = |slab: u64| -> Result<(u64, u64), String> {
        let word = program
            .read_u32(slab + l.slab_counters)
            .map_err(|e| e.to_string())?;
        Ok((u64::from(word & 0xffff), u64::from((word >> 16) & 0x7fff)))
    };
    let random = match l.random {
        Some(at) => read(cache + at)?,
        None => 0,
    };
    let free_pointer_offset = u64::from(
        program
            .read_u32(cache + l.offset)
            .map_err(|e| e.to_string())?,
    );
    let per_cpu = read(cache + l.cpu_slab)?;
    let mut free = 0u64;
    let mut cpu_slabs = 0u64;
    for cpu in 0..cpus {
        let base = program
            .per_cpu_base(cpu)
            .ok_or_else(|| format!("__per_cpu_offset[{cpu}]"))?;
        let kcc = per_cpu.wrapping_add(base);
        let slab = read(kcc + l.cpu_page)?;
        if slab == 0 {
            continue;
        }
        let (inuse, slab_objects) = counters(slab)?;
        if slab_objects == 0 {
            return Err(format!("slab {slab:#x} has no objects"));
        }
        free += slab_objects.saturating_sub(inuse);
        let freelist = read(kcc + l.cpu_freelist)?;
        free += freelist_length(
            program,
            freelist,
            free_pointer_offset,
            random,
            l.random.is_some(),
        );
        if let Some(partial) = l.cpu_partial {
            let mut slab = read(kcc + partial)?;
            let mut seen = 0;
            while slab != 0 && seen < MAX_WALK {
                let (inuse, slab_objects) = counters(slab)?;
                if slab_objects == 0 {
                    break;
                }
                free += slab_objects.saturating_sub(inuse);
                slab = read(slab + l.slab_next)?;
                seen += 1;
            }
        }
        cpu_slabs += 1;
    }
    let (mut total, mut slabs) = (0u64, 0u64);
    let mut any_node = false;
    for n in 0..nodes {
        let node = read(cache + l.node + 8 * n)?;
        if node == 0 {
            continue;
        }
        any_node = true;
        slabs += read(node + l.node_nr_slabs)?;
        total += read(node + l.node_total_objects)?;
        let head = node + l.node_partial;
        let mut next = read(head)?;
        let mut seen = 0;
        while next != head && seen < MAX_WALK {
            let slab = next - l.slab_list;
            let (inuse, slab_objects) = counters(slab)?;
            free += slab_objects.saturating_sub(inuse);
            next = read(next)?;
            seen += 1;
        }
    }
    if !any_node {
        slabs += cpu_slabs;
    }
    Ok((total.saturating_sub(free), total, slabs))
}

/// Objects on a lockless freelist, each holding the next one's (encoded)
/// address at `offset`.
fn freelist_length(program: &Program, first: u64, offset: u64, random: u64, hardened: bool) -> u64 {
    let mut seen = HashSet::new();
    let mut q = first;
    // PAGE_MAPPING_ANON: a tagged, not an object, pointer ends the list.
    while q != 0 && q & 1 == 0 && seen.len() < MAX_WALK {
        if !seen.insert(q) {
            break;
        }
        let at = q + offset;
        let Ok(stored) = program.read_u64(at) else {
            break;
        };
        q = if hardened {
            stored ^ random ^ at.swap_bytes()
        } else {
            stored
        };
    }
    seen.len() as u64
}

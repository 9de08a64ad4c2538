//! Types from `.debug_info`: each unit is scanned into a graph of its own
//! (threads take units in turn), and the graphs are merged in unit order into
//! one [`Types`], each type once (see `merge` for the rule). Unit order makes
//! the result the same whatever the threads' timing.

mod attrs;
mod merge;
mod scan;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use coroner_types::{TypeId, Types};

use crate::{Debuginfo, DwarfError, Reader};

/// A global variable with a static address (`DW_OP_addr`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    /// As linked (before KASLR); per-CPU variables hold their offset in the
    /// per-CPU area.
    pub address: u64,
    pub ty: TypeId,
}

/// The types of a vmlinux's DWARF, and its global variables.
#[derive(Debug)]
pub struct DwarfTypes {
    pub types: Arc<Types>,
    /// By name, then address: `static` variables of different files may share a name.
    pub variables: Vec<Variable>,
}

impl DwarfTypes {
    /// The variables of that name (several for `static` ones in different files).
    pub fn variables_named(&self, name: &str) -> &[Variable] {
        let start = self.variables.partition_point(|v| v.name.as_str() < name);
        let end = start + self.variables[start..].partition_point(|v| v.name == name);
        &self.variables[start..end]
    }
}

/// Units in flight between the scanning threads and the merge.
const QUEUE: usize = 8;

impl Debuginfo<'_> {
    /// Reads every unit's types, variables and functions.
    pub fn types(&self) -> Result<DwarfTypes, DwarfError> {
        load(self.dwarf())
    }
}

fn load(dwarf: &gimli::Dwarf<Reader<'_>>) -> Result<DwarfTypes, DwarfError> {
    let mut headers = Vec::new();
    let mut units = dwarf.units();
    // Where the next header starts, for an error reading it.
    let mut at = 0;
    while let Some(header) = units.next().map_err(|e| DwarfError::info(at, e))? {
        at = header
            .offset()
            .as_debug_info_offset()
            .map_or(at, |o| o.0 as u64)
            + header.length_including_self() as u64;
        headers.push(header);
    }
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = AtomicUsize::new(0);
    let mut merger = merge::Merger::new();
    std::thread::scope(|s| -> Result<(), DwarfError> {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        for _ in 0..workers {
            let tx = tx.clone();
            let (headers, next) = (&headers, &next);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&header) = headers.get(i) else { break };
                // A closed channel means the merge failed: stop.
                if tx.send((i, scan::scan(dwarf, headers, header))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut waiting = BTreeMap::new();
        let mut wanted = 0;
        for (i, graph) in rx {
            waiting.insert(i, graph);
            while let Some(graph) = waiting.remove(&wanted) {
                merger.merge(&graph?)?;
                wanted += 1;
            }
        }
        Ok(())
    })?;
    let (types, variables) = merger.finish()?;
    Ok(DwarfTypes {
        types: Arc::new(types),
        variables,
    })
}

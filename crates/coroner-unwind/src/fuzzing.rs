//! An unwind reduced to bytes: where the ORC tables and stacks are, where the
//! unwind starts, and the memory pages it reads. This is the `unwind` fuzz
//! target's input; seeds are recorded from real dumps (coroner-program's
//! `tests/bt_seeds.rs`), so the fuzzer starts from real ORC tables and stacks.
//!
//! Layout (little-endian): `ORC1`, then a [`Scenario`] (see `encode`), then
//! pages as (u64 address, 4096 bytes) until the end. Decoding is lenient: missing
//! bytes read as zero, so every input is some scenario.

use crate::code::{Code, Functions, ModuleCode};
use crate::entry::{OrcEntry, OrcFormat, OrcVersion, ENTRY_SIZE};
use crate::regs::Registers;
use crate::stacks::{Ist, StackKind, StackRange, Stacks};
use crate::table::{FastLookup, OrcTable};
use crate::unwind::{Start, SwitchFrame, Trace, Unwinder, MAX_FRAMES};
use coroner_mem::{MemError, MemErrorKind, Memory, Space};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

const MAGIC: &[u8; 4] = b"ORC1";
const PAGE: u64 = 4096;
/// Ranges and modules are counted in a byte.
const MAX_RANGES: usize = u8::MAX as usize;
/// A cap on decoded function starts, so a fuzzed header cannot ask for much work.
const MAX_FUNCTIONS: u64 = 4096;

/// Kernel memory as a set of recorded pages.
#[derive(Debug, Clone, Default)]
pub struct Pages(pub BTreeMap<u64, Vec<u8>>);

impl Memory for Pages {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let mut done = 0usize;
        while done < buf.len() {
            let at = addr.wrapping_add(done as u64);
            let page = self.0.get(&(at & !(PAGE - 1))).ok_or_else(|| {
                MemError::new(
                    at,
                    Space::Virtual,
                    MemErrorKind::Unrecorded,
                    format!("{at:#x} was not recorded"),
                )
            })?;
            let off = (at % PAGE) as usize;
            let n = (PAGE as usize - off).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&page[off..off + n]);
            done += n;
        }
        Ok(())
    }
}

/// Passes reads through and keeps every page they touched.
pub struct Recorder<'a> {
    inner: &'a dyn Memory,
    pages: RefCell<BTreeMap<u64, Vec<u8>>>,
}

impl<'a> Recorder<'a> {
    pub fn new(inner: &'a dyn Memory) -> Recorder<'a> {
        Recorder {
            inner,
            pages: RefCell::new(BTreeMap::new()),
        }
    }

    pub fn into_pages(self) -> Pages {
        Pages(self.pages.into_inner())
    }
}

impl Memory for Recorder<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        self.inner.read(addr, buf)?;
        let first = addr & !(PAGE - 1);
        let last = addr.wrapping_add(buf.len().max(1) as u64 - 1) & !(PAGE - 1);
        let mut page = first;
        loop {
            if !self.pages.borrow().contains_key(&page) {
                let mut bytes = vec![0u8; PAGE as usize];
                if self.inner.read(page, &mut bytes).is_ok() {
                    self.pages.borrow_mut().insert(page, bytes);
                }
            }
            if page == last {
                break;
            }
            page = page.wrapping_add(PAGE);
        }
        Ok(())
    }
}

/// Passes function lookups through and keeps every answer: replaying the same
/// unwind against only those starts gives the same answers.
pub struct FunctionRecorder<'a> {
    inner: &'a dyn Functions,
    starts: RefCell<BTreeSet<u64>>,
}

impl<'a> FunctionRecorder<'a> {
    pub fn new(inner: &'a dyn Functions) -> FunctionRecorder<'a> {
        FunctionRecorder {
            inner,
            starts: RefCell::new(BTreeSet::new()),
        }
    }

    pub fn into_starts(self) -> Vec<u64> {
        self.starts.into_inner().into_iter().collect()
    }
}

impl Functions for FunctionRecorder<'_> {
    fn start_of(&self, ip: u64) -> Option<u64> {
        let start = self.inner.start_of(ip)?;
        self.starts.borrow_mut().insert(start);
        Some(start)
    }
}

/// Everything an unwind needs besides memory.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub code: Code,
    pub stacks: Stacks,
    pub start: Start,
    /// Sorted function starts (those an unwind asked for, when recorded).
    pub functions: Vec<u64>,
}

impl Scenario {
    pub fn unwind(&self, memory: &dyn Memory) -> Trace {
        self.unwind_with(memory, &self.functions)
    }

    pub fn unwind_with(&self, memory: &dyn Memory, functions: &dyn Functions) -> Trace {
        Unwinder {
            memory,
            code: &self.code,
            functions,
            stacks: &self.stacks,
            max_frames: MAX_FRAMES,
        }
        .unwind(self.start)
    }

    /// The scenario and its pages as one fuzz input.
    pub fn encode(&self, pages: &Pages) -> Vec<u8> {
        let mut w = MAGIC.to_vec();
        let format = self.code.format;
        w.push(format.version as u8);
        w.push(u8::from(format.sp_indirect_offset_after_deref));
        put_table(&mut w, self.code.kernel_orc.as_ref());
        let fast = self.code.kernel_orc.as_ref().and_then(|t| t.fast);
        w.push(u8::from(fast.is_some()));
        let f = fast.unwrap_or(FastLookup {
            table: 0,
            blocks: 0,
            start_ip: 0,
            stop_ip: 0,
        });
        for v in [f.table, f.blocks, f.start_ip, f.stop_ip] {
            w.extend(v.to_le_bytes());
        }
        let texts = &self.code.kernel_text[..self.code.kernel_text.len().min(MAX_RANGES)];
        w.push(texts.len() as u8);
        for r in texts {
            w.extend(r.start.to_le_bytes());
            w.extend(r.end.to_le_bytes());
        }
        let modules = &self.code.modules[..self.code.modules.len().min(MAX_RANGES)];
        w.push(modules.len() as u8);
        for m in modules {
            w.extend(m.text.start.to_le_bytes());
            w.extend(m.text.end.to_le_bytes());
            put_table(&mut w, m.orc.as_ref());
        }
        let stacks = &self.stacks.ranges()[..self.stacks.ranges().len().min(MAX_RANGES)];
        w.push(stacks.len() as u8);
        for r in stacks {
            w.push(kind_code(r.kind));
            w.extend(r.start.to_le_bytes());
            w.extend(r.end.to_le_bytes());
        }
        match self.start {
            Start::Registers(regs) => {
                w.push(0);
                regs.0.iter().for_each(|v| w.extend(v.to_le_bytes()));
            }
            Start::Switched { sp, frame } => {
                w.push(1);
                for v in [
                    sp,
                    frame.size,
                    frame.bp,
                    frame.ret_addr,
                    frame.fork_entry.unwrap_or(0),
                ] {
                    w.extend(v.to_le_bytes());
                }
            }
        }
        w.extend((self.functions.len() as u64).to_le_bytes());
        self.functions
            .iter()
            .for_each(|f| w.extend(f.to_le_bytes()));
        for (addr, bytes) in &pages.0 {
            w.extend(addr.to_le_bytes());
            w.extend(bytes);
        }
        w
    }

    /// Reads back what [`Scenario::encode`] wrote; `None` without the magic.
    pub fn decode(data: &[u8]) -> Option<(Scenario, Pages)> {
        let mut r = Reader(data.strip_prefix(MAGIC)?);
        let version = match r.u8() % 3 {
            0 => OrcVersion::V1,
            1 => OrcVersion::V2,
            _ => OrcVersion::V3,
        };
        let format = OrcFormat {
            version,
            sp_indirect_offset_after_deref: r.u8() & 1 == 1,
        };
        let mut kernel_orc = get_table(&mut r);
        let has_fast = r.u8() & 1 == 1;
        let fast = FastLookup {
            table: r.u64(),
            blocks: r.u64(),
            start_ip: r.u64(),
            stop_ip: r.u64(),
        };
        if has_fast {
            kernel_orc = kernel_orc.map(|t| t.with_fast_lookup(fast));
        }
        let kernel_text = (0..r.u8()).map(|_| r.u64()..r.u64()).collect();
        let modules = (0..r.u8())
            .map(|i| ModuleCode {
                name: format!("m{i}"),
                text: r.u64()..r.u64(),
                orc: get_table(&mut r),
            })
            .collect();
        let stacks = (0..r.u8())
            .map(|_| StackRange {
                kind: kind_from(r.u8()),
                start: r.u64(),
                end: r.u64(),
            })
            .collect();
        let start = if r.u8() & 1 == 0 {
            let mut regs = [0u64; 21];
            regs.iter_mut().for_each(|v| *v = r.u64());
            Start::Registers(Registers(regs))
        } else {
            let sp = r.u64();
            // Bounded sizes keep the saved-frame read small.
            let frame = SwitchFrame {
                size: r.u64() % 256,
                bp: r.u64() % 256,
                ret_addr: r.u64() % 256,
                fork_entry: Some(r.u64()).filter(|&v| v != 0),
            };
            Start::Switched { sp, frame }
        };
        let mut functions: Vec<u64> = (0..r.u64().min(MAX_FUNCTIONS)).map(|_| r.u64()).collect();
        functions.sort_unstable();
        let mut pages = BTreeMap::new();
        for chunk in r.0.chunks(8 + PAGE as usize) {
            if chunk.len() < 8 {
                break;
            }
            let addr = u64::from_le_bytes(chunk[..8].try_into().expect("8 bytes")) & !(PAGE - 1);
            let mut page = chunk[8..].to_vec();
            page.resize(PAGE as usize, 0);
            pages.insert(addr, page);
        }
        let code = Code {
            format,
            kernel_text,
            kernel_orc,
            modules,
        };
        let scenario = Scenario {
            code,
            stacks: Stacks::new(stacks),
            start,
            functions,
        };
        Some((scenario, Pages(pages)))
    }
}

fn put_table(w: &mut Vec<u8>, table: Option<&OrcTable>) {
    let (ip, entries, count) = table.map_or((0, 0, 0), |t| (t.ip_table, t.entries, t.len()));
    for v in [ip, entries, count] {
        w.extend(v.to_le_bytes());
    }
}

fn get_table(r: &mut Reader) -> Option<OrcTable> {
    let (ip, entries, count) = (r.u64(), r.u64(), r.u64());
    OrcTable::new(ip, entries, count).ok()
}

fn kind_code(kind: StackKind) -> u8 {
    match kind {
        StackKind::Task => 0,
        StackKind::Irq => 1,
        StackKind::Exception(ist) => 2 + Ist::ALL.iter().position(|&i| i == ist).unwrap_or(0) as u8,
    }
}

fn kind_from(code: u8) -> StackKind {
    match code % 8 {
        0 => StackKind::Task,
        1 => StackKind::Irq,
        n => StackKind::Exception(Ist::ALL[(n - 2) as usize]),
    }
}

/// Reads little-endian values; past the end, zeros.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }

    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
}

/// The fuzz target: decode a scenario, unwind it, look up every frame's ORC entry
/// and decode its first page as ORC entries of every version. Must never panic
/// or hang, whatever the bytes.
pub fn fuzz_unwind(data: &[u8]) {
    let Some((scenario, pages)) = Scenario::decode(data) else {
        return;
    };
    let trace = scenario.unwind(&pages);
    assert!(trace.frames.len() <= MAX_FRAMES);
    for frame in &trace.frames {
        let _ = scenario.code.lookup(&pages, frame.pc);
    }
    if let Some(page) = pages.0.values().next() {
        for raw in page.chunks_exact(ENTRY_SIZE) {
            let raw: [u8; ENTRY_SIZE] = raw.try_into().expect("entry-sized chunk");
            for v in [OrcVersion::V1, OrcVersion::V2, OrcVersion::V3] {
                OrcEntry::decode(raw, v);
            }
        }
    }
}

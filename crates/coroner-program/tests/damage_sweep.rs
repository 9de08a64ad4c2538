//! Damaged copies of real dumps (cut short at many points, or with a corrupt
//! compressed page where the symbols, the types, the log's bookkeeping or a task
//! lie), each read as every command reads it and compared with the intact dump:
//! what is lost must be only what lay on the damaged pages.
//!
//! Run with `--nocapture` to see the figures the README quotes.

use coroner_dump::Dump;
use coroner_kernel::dmesg::{self, Log, LogRecord};
use coroner_kernel::{Kernel, Memory};
use coroner_program::Program;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

const PAGE: u64 = 4096;

/// What each command gives, reduced to what can be compared.
struct Summary {
    symbols: HashSet<(u64, String)>,
    /// BTF: (types, first lost id) or why there are none.
    types: Result<(usize, Option<u32>), String>,
    log: Vec<LogRecord>,
    /// (pid, comm) → task_struct address.
    tasks: HashMap<(u32, String), u64>,
    /// task_struct address → the functions of its backtrace.
    traces: HashMap<u64, Vec<String>>,
    warnings: usize,
}

fn summarize(path: &Path) -> Result<Summary, String> {
    let program = Program::open(path, None).map_err(|e| e.to_string())?;
    let mut warnings = program.warnings().len();
    if std::env::var("SWEEP_DEBUG").is_ok() {
        eprintln!(
            "{}: {:?} {:?}",
            path.display(),
            program.warnings(),
            program.kernel().dump().info().warnings
        );
    }
    let symbols = program
        .symbols()
        .iter()
        .filter(|s| s.module.is_none())
        .map(|s| (s.address, s.name.clone()))
        .collect();
    let types = program
        .types()
        .map(|t| {
            let lost = program.btf_damage().and_then(|d| d.first_lost_id);
            (t.len(), lost)
        })
        .map_err(|e| e.to_string());
    let kernel = program.kernel();
    let log = match dmesg::read_log(kernel, kernel.vmcoreinfo()) {
        Ok(read) => {
            warnings += read.warnings.len();
            match read.log {
                Log::Records(r) => r,
                Log::Plain(_) => Vec::new(),
            }
        }
        Err(_) => {
            warnings += 1;
            Vec::new()
        }
    };
    let mut tasks = HashMap::new();
    let mut traces = HashMap::new();
    if let Ok(read) = program.tasks_read() {
        warnings += read.warnings.len();
        let unwinder = program.stack_unwinder();
        for task in read.tasks {
            if let Ok(trace) = unwinder.task_trace(task.address) {
                let functions = trace
                    .frames
                    .iter()
                    .filter_map(|f| f.function.clone())
                    .collect();
                traces.insert(task.address, functions);
            }
            tasks.insert((task.pid, task.comm), task.address);
        }
    }
    Ok(Summary {
        symbols,
        types,
        log,
        tasks,
        traces,
        warnings,
    })
}

/// Where a dump stores each physical page: file offset and length, and whether
/// it is compressed (kdump) — or, for ELF, the segments.
enum Places {
    Kdump(HashMap<u64, (u64, u32, bool)>),
    Elf(Vec<(u64, u64, u64)>),
}

fn le(b: &[u8], at: usize, n: usize) -> u64 {
    let mut w = [0u8; 8];
    w[..n].copy_from_slice(&b[at..at + n]);
    u64::from_le_bytes(w)
}

/// kdump: header, sub-header, bitmaps (RAM, stored), then one 24-byte descriptor
/// per stored page in PFN order (offset, size, flags). ELF: the PT_LOAD segments.
fn places(file: &[u8]) -> Places {
    if file.starts_with(b"KDUMP   ") {
        let bs = le(file, 428, 4);
        let sub = le(file, 432, 4);
        let bitmap_blocks = le(file, 436, 4);
        let bitmap_off = bs * (1 + sub);
        let half = bs * bitmap_blocks / 2;
        let stored = &file[(bitmap_off + half) as usize..(bitmap_off + 2 * half) as usize];
        let mut desc = bitmap_off + 2 * half;
        let mut map = HashMap::new();
        for pfn in 0..half * 8 {
            if stored[(pfn / 8) as usize] >> (pfn % 8) & 1 == 1 {
                let d = desc as usize;
                let flags = le(file, d + 12, 4);
                map.insert(pfn, (le(file, d, 8), le(file, d + 8, 4) as u32, flags != 0));
                desc += 24;
            }
        }
        return Places::Kdump(map);
    }
    assert_eq!(&file[..4], b"\x7fELF");
    let phoff = le(file, 32, 8) as usize;
    let phnum = le(file, 56, 2) as usize;
    let segments = (0..phnum)
        .map(|i| phoff + i * 56)
        .filter(|&h| le(file, h, 4) == 1)
        .map(|h| (le(file, h + 24, 8), le(file, h + 8, 8), le(file, h + 32, 8)))
        .collect();
    Places::Elf(segments)
}

/// Overwrites the stored bytes of the page at `vaddr`: a compressed page becomes
/// undecodable (a read error), an ELF page silently wrong. False if the page is not
/// stored on its own (excluded, or the shared zero page).
fn corrupt(kernel: &Kernel, places: &Places, file: &mut [u8], vaddr: u64) -> bool {
    let Ok(paddr) = kernel.translate(vaddr) else {
        return false;
    };
    let (offset, len) = match places {
        Places::Kdump(map) => match map.get(&(paddr / PAGE)) {
            Some(&(offset, size, true)) => (offset, u64::from(size)),
            _ => return false,
        },
        Places::Elf(segments) => {
            let page = paddr & !(PAGE - 1);
            match segments
                .iter()
                .find(|&&(p, _, size)| p <= page && page + PAGE <= p + size)
            {
                Some(&(p, offset, _)) => (offset + page - p, PAGE),
                None => return false,
            }
        }
    };
    let range = offset as usize..(offset + len) as usize;
    for (i, b) in file[range].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0xa5;
    }
    true
}

/// The file offsets where the kernel image's pages are stored, lowest to highest.
fn image_in_file(kernel: &Kernel, places: &Places, (start, end): (u64, u64)) -> (usize, usize) {
    let offsets: Vec<u64> = (start & !(PAGE - 1)..end)
        .step_by(PAGE as usize)
        .filter_map(|v| kernel.translate(v).ok())
        .filter_map(|p| match places {
            // Compressed pages only: every zero page points at one shared block.
            Places::Kdump(map) => map
                .get(&(p / PAGE))
                .filter(|&&(_, _, compressed)| compressed)
                .map(|&(offset, _, _)| offset),
            Places::Elf(segments) => segments
                .iter()
                .find(|&&(s, _, size)| s <= p && p < s + size)
                .map(|&(s, offset, _)| offset + p - s),
        })
        .collect();
    let low = *offsets.iter().min().unwrap();
    let high = *offsets.iter().max().unwrap();
    (low as usize, high as usize + PAGE as usize)
}

fn readable(kernel: &Kernel, vaddr: u64, len: u64) -> bool {
    let mut buf = vec![0u8; len as usize];
    kernel.read(vaddr, &mut buf).is_ok()
}

/// Pages of `start..start+len` that cannot be read.
fn unreadable_pages(kernel: &Kernel, start: u64, len: u64) -> u64 {
    let first = start & !(PAGE - 1);
    (first..start + len)
        .step_by(PAGE as usize)
        .filter(|&p| !readable(kernel, p, PAGE))
        .count() as u64
}

/// What the intact dump says about where things are.
struct Landmarks {
    names: (u64, u64),
    offsets: (u64, u64),
    btf: (u64, u64),
    btf_types: (u64, u64),
    prb: u64,
    descs: u64,
    data: (u64, u64),
    /// seq → the record's text address and length.
    texts: HashMap<u64, (u64, u64)>,
    task_size: u64,
    init_task: u64,
    /// `task_struct.stack`, and the ORC tables every unwind reads.
    stack_offset: u64,
    orc: (u64, u64),
    /// The kernel image, `_stext` to `_end`.
    image: (u64, u64),
}

fn landmarks(program: &Program) -> Landmarks {
    let kernel = program.kernel();
    let info = kernel.vmcoreinfo();
    let sym = |n: &str| info.symbol(n).unwrap();
    let at = |n: &str| program.address_of(n).unwrap();
    let btf = (at("__start_BTF"), at("__stop_BTF"));
    let read = |a: u64| kernel.read_u64(a).unwrap();
    let hdr_len = kernel.read_u32(btf.0 + 4).unwrap() as u64;
    let types_off = kernel.read_u32(btf.0 + 8).unwrap() as u64;
    let types_len = kernel.read_u32(btf.0 + 12).unwrap() as u64;
    let ring = read(sym("prb"));
    let count_bits = read(ring);
    let descs = read(ring + 8);
    let infos = read(ring + 16);
    let size_bits = read(ring + 48);
    let data = read(ring + 56);
    let (head, tail) = (read(ring + 24), read(ring + 32));
    let mut texts = HashMap::new();
    let mask = (1u64 << 62) - 1;
    let mut id = tail & mask;
    loop {
        let slot = id % (1 << count_bits);
        let begin = read(descs + slot * 24 + 8) % (1 << size_bits);
        let seq = read(infos + slot * 88);
        let len = kernel.read_u16(infos + slot * 88 + 16).unwrap() as u64;
        texts.insert(seq, (data + begin + 8, len));
        if id == head & mask {
            break;
        }
        id = (id + 1) & mask;
    }
    let task = program.find_type("task_struct").unwrap().unwrap();
    Landmarks {
        names: (sym("kallsyms_names"), sym("kallsyms_token_table")),
        offsets: (sym("kallsyms_offsets"), sym("kallsyms_relative_base")),
        btf,
        btf_types: (btf.0 + hdr_len + types_off, types_len),
        prb: sym("prb"),
        descs,
        data: (data, 1 << size_bits),
        texts,
        task_size: task.types.size_of(task.id).unwrap(),
        init_task: at("init_task"),
        stack_offset: task.types.offset_of("task_struct", "stack").unwrap(),
        orc: (at("__start_orc_unwind_ip"), at("__stop_orc_unwind")),
        image: (at("_stext"), at("_end")),
    }
}

/// Figures of one damaged copy, against the intact dump.
#[derive(Default)]
struct Tally {
    copies: usize,
    symbols_lost: usize,
    symbols_on_bad_pages: u64,
    types_lost: usize,
    records_lost: usize,
    records_on_bad_pages: usize,
    tasks_lost: usize,
    tasks_on_bad_pages: usize,
    tasks_readable_not_found: usize,
    traces_same: usize,
    traces_checked: usize,
}

/// `silent`: pages of the kallsyms names corrupted without becoming unreadable (ELF):
/// each costs the groups of 256 names it touches (at most 3).
fn check(
    what: &str,
    intact: &Summary,
    marks: &Landmarks,
    damaged_path: &Path,
    silent: u64,
    tally: &mut Tally,
) {
    let got = match summarize(damaged_path) {
        Ok(got) => got,
        Err(e) => panic!("{what}: does not open: {e}"),
    };
    // What is readable is judged as the program reads (with the direct map's
    // base from page_offset_base when the page tables are lost).
    let program = Program::open(damaged_path, None).unwrap();
    let kernel = program.kernel();
    tally.copies += 1;

    // Symbols: every one is the intact dump's; the lost ones lay on bad pages.
    for s in &got.symbols {
        assert!(
            intact.symbols.contains(s),
            "{what}: symbol {s:?} is made up"
        );
    }
    let lost = intact.symbols.len() - got.symbols.len();
    let (n0, n1) = marks.names;
    let (o0, o1) = marks.offsets;
    let bad_names = unreadable_pages(kernel, n0, n1 - n0);
    let bad_offsets = unreadable_pages(kernel, o0, o1 - o0);
    // A name takes at least 2 bytes; the rest of its group of 256 goes with it.
    let mut allowed = bad_names * (PAGE / 2 + 256) + bad_offsets * (PAGE / 4) + silent * 3 * 256;
    // kallsyms_relative_base and num_syms are rebuilt (from _stext and the
    // markers) when their page is lost; the token table and index are needed.
    if unreadable_pages(kernel, n1, 1024) > 0 {
        allowed = intact.symbols.len() as u64;
    }
    assert!(
        lost as u64 <= allowed,
        "{what}: {lost} symbols lost, {bad_names} names pages and {bad_offsets} offsets pages bad"
    );
    tally.symbols_lost += lost;
    tally.symbols_on_bad_pages += allowed.min(intact.symbols.len() as u64);

    // Types: all of them if the blob is readable, else those before the hole.
    let (intact_types, _) = intact.types.clone().unwrap();
    let (b0, b1) = marks.btf;
    // BTF is read when its header is readable: found through its symbols, or
    // by its shape when they are lost.
    if readable(kernel, b0, 64) {
        let (types, first_lost) = got.types.clone().unwrap_or_else(|e| panic!("{what}: {e}"));
        let (t0, tlen) = marks.btf_types;
        let first_bad = (b0..b1)
            .step_by(PAGE as usize)
            .find(|&p| !readable(kernel, p & !(PAGE - 1), PAGE));
        match first_bad {
            None => assert_eq!(types, intact_types, "{what}"),
            Some(bad) => {
                let hole = (bad & !(PAGE - 1)).max(b0);
                // The share of the type section before the hole, less a page.
                let before = hole.saturating_sub(t0 + PAGE).min(tlen);
                let expected = intact_types as u64 * before / tlen;
                if hole < t0 + tlen {
                    let first_lost = first_lost.expect("a cut type section") as u64;
                    assert!(
                        first_lost * 10 >= expected * 8,
                        "{what}: types lost from id {first_lost}, the hole is {}% in",
                        100 * (hole - t0) / tlen
                    );
                }
                tally.types_lost += intact_types - types;
            }
        }
    }

    // The log: every record recovered is the intact log's; every record whose
    // text survived is there.
    let texts: Vec<&[u8]> = got.log.iter().map(|r| r.text.as_slice()).collect();
    for r in &got.log {
        assert!(
            intact
                .log
                .iter()
                .any(|i| r.text.starts_with(&i.text) && r.text.len() - i.text.len() < 8),
            "{what}: log record {:?} is made up",
            String::from_utf8_lossy(&r.text)
        );
    }
    let mut survived = 0;
    for i in &intact.log {
        let &(at, len) = &marks.texts[&i.seq];
        if !readable(kernel, at - 8, len + 8) {
            continue;
        }
        survived += 1;
        let found = texts
            .iter()
            .any(|t| t.starts_with(&i.text) && t.len() - i.text.len() < 8);
        // A wrapped block's text sits at the ring's start: read as it is stored.
        assert!(
            found || i.text.is_empty(),
            "{what}: log record {} {:?} survived but is missing",
            i.seq,
            String::from_utf8_lossy(&i.text)
        );
    }
    tally.records_lost += intact.log.len() - got.log.len().min(intact.log.len());
    tally.records_on_bad_pages += intact.log.len() - survived;

    // Tasks: those whose task_struct is readable are found, with their stacks.
    let mut survived_tasks = 0;
    let mut found_tasks = 0;
    // Tasks are found from init_task's list, through types.
    let list_readable = got.types.is_ok()
        && got
            .symbols
            .contains(&(marks.init_task, "init_task".to_string()))
        && readable(kernel, marks.init_task, marks.task_size);
    let orc_readable = unreadable_pages(kernel, marks.orc.0, marks.orc.1 - marks.orc.0) == 0;
    for (key, &address) in &intact.tasks {
        if !list_readable || !readable(kernel, address, marks.task_size) {
            continue;
        }
        survived_tasks += 1;
        if got.tasks.get(key) == Some(&address) {
            found_tasks += 1;
            // With every symbol, the ORC tables and the task's stack readable, its
            // backtrace is the intact one.
            let stack = kernel.read_u64(address + marks.stack_offset).ok();
            let unwindable =
                lost == 0 && orc_readable && stack.is_some_and(|s| readable(kernel, s, 4 * PAGE));
            if let (Some(a), Some(b), true) = (
                intact.traces.get(&address),
                got.traces.get(&address),
                unwindable,
            ) {
                tally.traces_checked += 1;
                tally.traces_same += usize::from(a == b);
                if a != b {
                    eprintln!("{what}: backtrace of {key:?} differs: {a:?} / {b:?}");
                }
            }
        }
    }
    for key in got.tasks.keys() {
        assert!(
            intact.tasks.contains_key(key),
            "{what}: task {key:?} made up"
        );
    }
    // A task list broken at two places loses the tasks between the breaks, even
    // readable ones (nothing else leads to them); most must be found.
    assert!(
        survived_tasks < 10 || found_tasks * 2 >= survived_tasks,
        "{what}: {found_tasks} of {survived_tasks} readable tasks found"
    );
    tally.tasks_lost += intact.tasks.len() - got.tasks.len();
    tally.tasks_readable_not_found += survived_tasks - found_tasks;
    tally.tasks_on_bad_pages += intact.tasks.len() - survived_tasks;
    assert!(
        got.warnings > 0 || lost == 0,
        "{what}: symbols lost without a warning"
    );
    eprintln!(
        "{what}: symbols {}/{} (bad pages allow {}), types {:?}/{}, log {}/{} ({} texts lost), tasks {}/{} ({} unreadable), {} warnings",
        got.symbols.len(),
        intact.symbols.len(),
        allowed.min(intact.symbols.len() as u64),
        got.types.as_ref().map(|t| t.0),
        intact_types,
        got.log.len(),
        intact.log.len(),
        intact.log.len() - survived,
        got.tasks.len(),
        intact.tasks.len(),
        intact.tasks.len() - survived_tasks,
        got.warnings,
    );
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/damage-sweep");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{name}.{}", std::process::id()))
}

/// `silent`: the format stores pages raw (ELF), so a corrupt page reads as
/// wrong bytes, not as an error: only the kallsyms names, which carry their own
/// check (the markers), are corrupted then.
fn sweep(dump: &Path, cuts: usize, silent: bool) -> Tally {
    let intact_program = Program::open(dump, None).unwrap();
    let marks = landmarks(&intact_program);
    drop(intact_program);
    let intact = summarize(dump).unwrap();
    assert!(intact.symbols.len() > 1000 && intact.log.len() > 100 && intact.tasks.len() > 10);
    let bytes = std::fs::read(dump).unwrap();
    let kernel = Kernel::new(Dump::open(dump).unwrap()).unwrap();
    let places = places(&bytes);
    let name = dump.file_name().unwrap().to_string_lossy().into_owned();
    let out = scratch(&name);
    let mut tally = Tally::default();

    // Cut short at evenly spaced points of the file, then of the part of the file
    // that holds the kernel image (at the top of this machine's memory, so stored
    // last: a cut anywhere before it loses the whole kernel image).
    let (image_start, image_end) = image_in_file(&kernel, &places, marks.image);
    let points = (1..=cuts)
        .map(|k| {
            let at = bytes.len() * k / (cuts + 1);
            (at, format!("{k}/{} of the file", cuts + 1))
        })
        .chain((1..=cuts).map(|k| {
            let at = image_start + (image_end - image_start) * k / (cuts + 1);
            (at, format!("{k}/{} of the kernel image", cuts + 1))
        }));
    for (len, place) in points {
        std::fs::write(&out, &bytes[..len]).unwrap();
        check(
            &format!("{name} cut at {place}"),
            &intact,
            &marks,
            &out,
            0,
            &mut tally,
        );
    }

    // One bad page at each landmark.
    let (n0, n1) = marks.names;
    let (o0, o1) = marks.offsets;
    let (_, b1) = marks.btf;
    let (t0, tlen) = marks.btf_types;
    let (d0, _) = marks.data;
    // The task_struct highest in the direct map (init_task is in the image).
    let task = *intact
        .tasks
        .values()
        .filter(|&&a| a < 0xffff_ffff_8000_0000)
        .max()
        .unwrap();
    let targets = [
        ("kallsyms names 1/3", n0 + (n1 - n0) / 3),
        ("kallsyms names 2/3", n0 + (n1 - n0) * 2 / 3),
        ("kallsyms offsets", o0 + (o1 - o0) / 2),
        ("kallsyms_relative_base", o1),
        ("kallsyms token table", n1),
        ("BTF types 1/4", t0 + tlen / 4),
        ("BTF types 3/4", t0 + tlen * 3 / 4),
        ("BTF strings", t0 + tlen + (b1 - t0 - tlen) / 2),
        ("prb", marks.prb),
        ("log descriptors", marks.descs + PAGE),
        ("log text", d0 + 2 * PAGE),
        ("a task", task + 8),
        ("init_task", marks.init_task + 8),
    ];
    for (what, vaddr) in targets {
        if silent && !what.starts_with("kallsyms names") {
            continue;
        }
        let mut damaged = bytes.clone();
        if !corrupt(&kernel, &places, &mut damaged, vaddr) {
            eprintln!("{name}: {what} at {vaddr:#x} is not stored on its own: skipped");
            continue;
        }
        std::fs::write(&out, &damaged).unwrap();
        check(
            &format!("{name} bad page: {what}"),
            &intact,
            &marks,
            &out,
            u64::from(silent),
            &mut tally,
        );
    }
    std::fs::remove_file(&out).ok();
    eprintln!(
        "{name}: {} copies; symbols lost {} (bad pages held at most {}), types lost {}, \
         log records lost {} (texts on bad pages {}), tasks lost {} (on bad pages {}, readable but not reached {}), \
         backtraces identical {}/{}",
        tally.copies,
        tally.symbols_lost,
        tally.symbols_on_bad_pages,
        tally.types_lost,
        tally.records_lost,
        tally.records_on_bad_pages,
        tally.tasks_lost,
        tally.tasks_on_bad_pages,
        tally.tasks_readable_not_found,
        tally.traces_same,
        tally.traces_checked
    );
    tally
}

#[test]
fn kdump_compressed_dumps_degrade_page_by_page() {
    let dump = coroner_testdata::crash_dir("mod-null").join("vmcore.mdf-d31-zlib");
    let tally = sweep(&dump, 8, false);
    assert!(tally.copies >= 15, "{} copies", tally.copies);
    assert!(
        tally.traces_same * 10 >= tally.traces_checked * 9,
        "{}/{} backtraces identical",
        tally.traces_same,
        tally.traces_checked
    );
}

#[test]
fn elf_dumps_degrade_page_by_page() {
    let Some(dump) = coroner_testdata::derived("sysrq", coroner_testdata::Derived::Elf) else {
        return;
    };
    let tally = sweep(&dump, 4, true);
    assert!(tally.copies >= 6, "{} copies", tally.copies);
}

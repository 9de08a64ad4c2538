//! The pre-5.10 log formats, judged by the real makedumpfile: a generator lays out
//! `struct printk_log` records (wrapped, multi-line, with dictionaries and bytes to
//! escape) and a pre-3.5 character buffer in small ELF dumps with the VMCOREINFO a
//! kernel of that era publishes; `makedumpfile --dump-dmesg` on the same file gives
//! the expected text, so the tool checks both the generator and our reader.

use coroner_dump::Dump;
use coroner_kernel::dmesg::{self, text, Log};
use coroner_kernel::Kernel;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The segment: physical 16 MiB, mapped at the kernel text address that
/// `vaddr - 0xffffffff80000000 + phys_base` (phys_base 0) gives for it.
const SEG_PHYS: u64 = 0x100_0000;
const SEG_VIRT: u64 = 0xffff_ffff_8100_0000;
const SEG_SIZE: usize = 0x20_0000;
const VARS: u64 = 0x1000;
const LOG_AT: u64 = 0x10000;

fn note(name: &[u8], desc: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend((name.len() as u32).to_le_bytes());
    v.extend((desc.len() as u32).to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend(name);
    v.resize(v.len().div_ceil(4) * 4, 0);
    v.extend(desc);
    v.resize(v.len().div_ceil(4) * 4, 0);
    v
}

/// An ET_CORE x86-64 ELF: one VMCOREINFO note, one PT_LOAD holding `memory`.
fn write_elf(path: &Path, vmcoreinfo: &str, memory: &[u8]) {
    let notes = note(b"VMCOREINFO\0", vmcoreinfo.as_bytes());
    let notes_off = 64 + 2 * 56;
    let data_off = (notes_off + notes.len() as u64).div_ceil(4096) * 4096;
    let mut f = Vec::new();
    f.extend(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    f.extend(4u16.to_le_bytes());
    f.extend(62u16.to_le_bytes());
    f.extend(1u32.to_le_bytes());
    f.extend([0u64, 64, 0].iter().flat_map(|v| v.to_le_bytes()));
    f.extend(0u32.to_le_bytes());
    f.extend(
        [64u16, 56, 2, 64, 0, 0]
            .iter()
            .flat_map(|v| v.to_le_bytes()),
    );
    let mut ph = |kind: u32, off: u64, vaddr: u64, paddr: u64, size: u64| {
        f.extend(kind.to_le_bytes());
        f.extend(7u32.to_le_bytes());
        f.extend(
            [off, vaddr, paddr, size, size, 0]
                .iter()
                .flat_map(|v| v.to_le_bytes()),
        );
    };
    ph(4, notes_off, 0, 0, notes.len() as u64);
    ph(1, data_off, SEG_VIRT, SEG_PHYS, memory.len() as u64);
    f.extend(&notes);
    f.resize(data_off as usize, 0);
    f.extend(memory);
    std::fs::write(path, f).unwrap();
}

struct Rec<'a> {
    ts: u64,
    level: u8,
    text: &'a [u8],
    dict: &'a [u8],
}

/// `struct printk_log`: ts_nsec, len, text_len, dict_len, facility, flags:5 level:3.
fn encode(r: &Rec) -> Vec<u8> {
    let len = (16 + r.text.len() + r.dict.len()).div_ceil(8) * 8;
    let mut v = Vec::with_capacity(len);
    v.extend(r.ts.to_le_bytes());
    v.extend((len as u16).to_le_bytes());
    v.extend((r.text.len() as u16).to_le_bytes());
    v.extend((r.dict.len() as u16).to_le_bytes());
    v.push(0);
    v.push(r.level << 5);
    v.extend(r.text);
    v.extend(r.dict);
    v.resize(len, 0);
    v
}

fn records() -> Vec<Rec<'static>> {
    vec![
        Rec {
            ts: 0,
            level: 5,
            text: b"Linux version 4.18.0-372.el8.x86_64 (mockbuild@rhel)",
            dict: b"",
        },
        Rec {
            ts: 1_234_567_890,
            level: 6,
            text: b"usb 1-1: new device",
            dict: b"SUBSYSTEM=usb\0DEVICE=c189:1",
        },
        Rec {
            ts: 2_000_000_001,
            level: 4,
            text: b"two\nlines\tand a tab",
            dict: b"",
        },
        Rec {
            ts: 3_999_999_999,
            level: 3,
            text: b"bytes \x01\x7f\xc3\xa9 to escape",
            dict: b"",
        },
        Rec {
            ts: 12_345_678_901_234,
            level: 0,
            text: b"Kernel panic - not syncing: Fatal exception",
            dict: b"",
        },
    ]
}

/// A structured log laid out from `start` in a `len`-byte buffer, wrapping (with a
/// zero-length marker) when a record does not fit before the end.
fn structured_memory(len: usize, start: usize) -> (Vec<u8>, u32, u32) {
    let mut buf = vec![0u8; len];
    let mut idx = start;
    for r in records() {
        let bytes = encode(&r);
        if idx + bytes.len() + 16 > len {
            buf[idx..idx + 16].fill(0); // len 0: wrap to the start
            idx = 0;
        }
        buf[idx..idx + bytes.len()].copy_from_slice(&bytes);
        idx += bytes.len();
    }
    (buf, start as u32, idx as u32)
}

/// Where `init_uts_ns` goes: makedumpfile checks its release against OSRELEASE.
const UTS: u64 = 0x2000;
/// Page tables (PML4, PDPT, PD): makedumpfile translates through them, as the
/// kernel does; one 2 MiB page maps the whole segment.
const PGT: u64 = 0x3000;
/// The `mem_map` pointer variable (in the variables page) and where it points.
const MEM_MAP_VAR: u64 = 0x80;
const MEM_MAP: u64 = 0x8000;

fn segment(log: &[u8], vars: &[(u64, u64)], release: &str) -> Vec<u8> {
    let mut m = vec![0u8; SEG_SIZE];
    let mut entry = |table: u64, index: u64, value: u64| {
        let at = (table + 8 * index) as usize;
        m[at..at + 8].copy_from_slice(&value.to_le_bytes());
    };
    entry(VARS, MEM_MAP_VAR / 8, SEG_VIRT + MEM_MAP);
    let index = |shift: u32| (SEG_VIRT >> shift) & 0x1ff;
    entry(PGT, index(39), (SEG_PHYS + PGT + 0x1000) | 0x63);
    entry(PGT + 0x1000, index(30), (SEG_PHYS + PGT + 0x2000) | 0x63);
    entry(PGT + 0x2000, index(21), SEG_PHYS | 0xe3); // present, writable, 2 MiB page
    for (i, field) in ["Linux", "(none)", release, "#1 SMP", "x86_64"]
        .iter()
        .enumerate()
    {
        let at = (UTS as usize) + 65 * i;
        m[at..at + field.len()].copy_from_slice(field.as_bytes());
    }
    m[LOG_AT as usize..LOG_AT as usize + log.len()].copy_from_slice(log);
    for &(off, value) in vars {
        m[(VARS + off) as usize..(VARS + off + 8) as usize].copy_from_slice(&value.to_le_bytes());
    }
    m
}

fn symbols(names: &[&str], release: &str) -> String {
    let vars: String = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("SYMBOL({n})={:x}\n", SEG_VIRT + VARS + 8 * i as u64))
        .collect();
    // Renamed init_top_pgt in 4.13.
    let pgt = if release.starts_with("4.") {
        "init_top_pgt"
    } else {
        "init_level4_pgt"
    };
    // A flat mem_map: makedumpfile insists on knowing the memory model.
    format!(
        "{vars}SYMBOL(mem_map)={:x}\nSYMBOL(init_uts_ns)={:x}\nOFFSET(uts_namespace.name)=0\nSYMBOL({pgt})={:x}\n\
         NUMBER(phys_base)=0\nSIZE(page)=64\nOFFSET(page.flags)=0\n\
         OFFSET(page._refcount)=52\nOFFSET(page.mapping)=24\n",
        SEG_VIRT + VARS + MEM_MAP_VAR,
        SEG_VIRT + UTS,
        SEG_VIRT + PGT
    )
}

fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("legacy-log");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn makedumpfile_dmesg(dump: &Path) -> Vec<u8> {
    let out = dump.with_extension("mdf.txt");
    let _ = std::fs::remove_file(&out);
    let run = Command::new("makedumpfile")
        .arg("--dump-dmesg")
        .arg(dump)
        .arg(&out)
        .output()
        .expect("run makedumpfile (apt-get install makedumpfile)");
    assert!(
        run.status.success(),
        "makedumpfile rejected {}: {}{}",
        dump.display(),
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read(out).unwrap()
}

fn ours(dump: &Path) -> (Log, Vec<String>) {
    let kernel = Kernel::new(Dump::open(dump).unwrap()).unwrap();
    let read = dmesg::read_log(&kernel, kernel.vmcoreinfo()).unwrap();
    (read.log, read.warnings)
}

fn structured_case(name: &str, release: &str, ty: &str, len: usize, start: usize) {
    let (log, first, next) = structured_memory(len, start);
    let vars = [
        (0, SEG_VIRT + LOG_AT),
        (8, len as u64),
        (16, u64::from(first)),
        (24, u64::from(next)),
    ];
    let info = format!(
        "OSRELEASE={release}\nPAGESIZE=4096\n{}SIZE({ty})=16\nOFFSET({ty}.ts_nsec)=0\n\
         OFFSET({ty}.len)=8\nOFFSET({ty}.text_len)=10\nOFFSET({ty}.dict_len)=12\n",
        symbols(
            &["log_buf", "log_buf_len", "log_first_idx", "log_next_idx"],
            release
        )
    );
    let path = work_dir().join(format!("{name}.elf"));
    write_elf(&path, &info, &segment(&log, &vars, release));
    let expected = makedumpfile_dmesg(&path);
    let (log, warnings) = ours(&path);
    assert!(warnings.is_empty(), "{name}: {warnings:?}");
    assert_eq!(
        String::from_utf8_lossy(&text::render(&log)),
        String::from_utf8_lossy(&expected),
        "{name}"
    );
    let Log::Records(records) = log else {
        panic!("{name}: records expected")
    };
    assert_eq!(records.len(), 5, "{name}");
    assert_eq!(records[1].subsystem.as_deref(), Some("usb"));
    assert_eq!(records[1].device.as_deref(), Some("c189:1"));
    assert_eq!(records[4].level, 0);
}

#[test]
fn printk_log_records_as_makedumpfile_reads_them() {
    structured_case(
        "rhel8-printk_log",
        "4.18.0-372.el8.x86_64",
        "printk_log",
        4096,
        0,
    );
}

#[test]
fn wrapped_printk_log_as_makedumpfile_reads_it() {
    // Starts near the end: the third record does not fit and wraps to index 0.
    structured_case(
        "rhel8-wrapped",
        "4.18.0-372.el8.x86_64",
        "printk_log",
        512,
        360,
    );
}

#[test]
fn struct_log_of_3_5_to_3_10_as_makedumpfile_reads_it() {
    structured_case("rhel7-log", "3.10.0-1160.el7.x86_64", "log", 1024, 800);
}

fn plain_case(name: &str, text: &[u8], len: usize) {
    // log_end counts every character written; the buffer keeps the last `len`.
    let mut buf = vec![0u8; len];
    for (i, &b) in text.iter().enumerate() {
        buf[i % len] = b;
    }
    let vars = [
        (0, SEG_VIRT + LOG_AT),
        (8, len as u64),
        (16, text.len() as u64),
    ];
    let info = format!(
        "OSRELEASE=2.6.32-754.el6.x86_64\nPAGESIZE=4096\n{}",
        symbols(&["log_buf", "log_buf_len", "log_end"], "2.6.32")
    );
    let path = work_dir().join(format!("{name}.elf"));
    write_elf(&path, &info, &segment(&buf, &vars, "2.6.32-754.el6.x86_64"));
    let expected = makedumpfile_dmesg(&path);
    let (log, _) = ours(&path);
    assert_eq!(text::render(&log), expected, "{name}");
    let kept = &text[text.len().saturating_sub(len)..];
    assert_eq!(
        expected, kept,
        "{name}: makedumpfile keeps the last log_buf_len bytes"
    );
}

#[test]
fn plain_buffer_before_3_5() {
    plain_case(
        "rhel6-plain",
        b"<6>Linux version 2.6.32\n<0>Kernel panic - not syncing: x\n",
        1024,
    );
}

#[test]
fn wrapped_plain_buffer_before_3_5() {
    let text: Vec<u8> = (0..200)
        .flat_map(|i| format!("<6>line {i}\n").into_bytes())
        .collect();
    plain_case("rhel6-wrapped", &text, 1024);
}

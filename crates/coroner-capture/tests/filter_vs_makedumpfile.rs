//! The page filter against the real makedumpfile: for each dump level, the set of
//! RAM frames (1st bitmap) and of stored frames (2nd bitmap) of makedumpfile's own
//! output must equal ours, frame for frame.

use coroner_capture::{filter, DumpLevel, Filtered};
use coroner_dump::{Dump, PageState, PhysMemory};
use coroner_kernel::Kernel;
use std::path::Path;
use std::process::Command;

/// Levels covering each bit alone, the usual 31, and mixes.
const LEVELS: [u8; 9] = [0, 1, 2, 4, 8, 16, 31, 11, 24];

/// makedumpfile's page report: (non-private cache, private cache, user, free).
fn report_counts(text: &str) -> [u64; 4] {
    [
        "Non-private cache pages",
        "Private cache pages",
        "User process data pages",
        "Free pages",
    ]
    .map(|label| {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label:?} in makedumpfile's report:\n{text}"));
        let hex = line
            .rsplit(':')
            .next()
            .unwrap()
            .trim()
            .trim_start_matches("0x");
        u64::from_str_radix(hex, 16).unwrap()
    })
}

fn makedumpfile_bitmaps(input: &Path, level: u8, dir: &Path) -> (Dump, [u64; 4]) {
    let out = dir.join(format!("mdf-d{level}"));
    let run = Command::new("makedumpfile")
        .args(["--message-level", "23", "-d", &level.to_string()])
        .arg(input)
        .arg(&out)
        .output()
        .expect("run makedumpfile");
    assert!(
        run.status.success(),
        "makedumpfile -d {level} failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = String::from_utf8_lossy(&[run.stdout, run.stderr].concat()).into_owned();
    (
        Dump::open(&out).expect("open makedumpfile's output"),
        report_counts(&text),
    )
}

fn compare(ours: &Filtered, theirs: &Dump, level: u8) {
    let max = theirs.info().max_pfn;
    assert_eq!(ours.max_mapnr, max, "-d {level}: max_mapnr");
    let mut ram_diff = Vec::new();
    let mut stored_diff = Vec::new();
    for pfn in 0..max {
        let state = theirs.page_state(pfn);
        let ram = state != PageState::NotInDump;
        let stored = matches!(state, PageState::Present | PageState::Zero);
        if ours.ram.get(pfn) != ram {
            ram_diff.push(pfn);
        }
        if ours.dumpable.get(pfn) != stored {
            stored_diff.push((pfn, ours.dumpable.get(pfn)));
        }
    }
    assert!(
        ram_diff.is_empty(),
        "-d {level}: 1st bitmaps differ at {} frames, first {:x?}",
        ram_diff.len(),
        &ram_diff[..ram_diff.len().min(10)]
    );
    assert!(
        stored_diff.is_empty(),
        "-d {level}: 2nd bitmaps differ at {} frames (pfn, kept by us), first {:x?}",
        stored_diff.len(),
        &stored_diff[..stored_diff.len().min(10)]
    );
}

#[test]
fn bitmaps_equal_makedumpfiles_at_every_level() {
    coroner_testdata::setup::require_tools();
    let ours_in = coroner_testdata::qemu_elf("sysrq").expect("sysrq fixture");
    let theirs_in = coroner_testdata::qemu_elf_phfix("sysrq").expect("sysrq fixture");
    let kernel = Kernel::new(Dump::open(&ours_in).expect("open ELF")).expect("kernel");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut excluded_any = false;
    for level in LEVELS {
        let ours = filter(&kernel, DumpLevel::new(level).unwrap()).expect("filter");
        let (theirs, counts) = makedumpfile_bitmaps(&theirs_in, level, dir.path());
        compare(&ours, &theirs, level);
        let e = ours.excluded;
        assert_eq!(
            [e.cache, e.cache_private, e.user, e.free],
            counts,
            "-d {level}: pages excluded per category (cache, private cache, user, free)"
        );
        excluded_any |= ours.excluded.total() > 0;
        eprintln!("-d {level}: {e:?}");
        std::fs::remove_file(dir.path().join(format!("mdf-d{level}"))).ok();
    }
    assert!(
        excluded_any,
        "no level excluded anything: the test proves nothing"
    );
}

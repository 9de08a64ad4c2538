//! A dump cut short (full disk, reset) at several points, ours beside
//! makedumpfile's of the same input and codec: what `dmesg`, `triage` and `bt`
//! still give. Ours writes page tables, the kernel image and modules and the log
//! first, so they survive cuts that leave makedumpfile's output (pages in frame
//! order) without them.

use coroner_capture::kdump::{write, WriteOptions};
use coroner_capture::sink::FileSink;
use coroner_capture::{filter, DumpLevel};
use coroner_commands::{Registry, Session};
use coroner_dump::{Compression, Dump};
use coroner_kernel::Kernel;
use std::path::Path;

/// What still works on a cut file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Works {
    dmesg: bool,
    triage: bool,
    bt: bool,
}

fn run(registry: &Registry, session: &Session, words: &str) -> Option<(String, u8)> {
    let line: Vec<String> = words.split_whitespace().map(str::to_string).collect();
    let (output, format) = registry.run_line(session, &line).ok()?;
    let mut out = Vec::new();
    output.report.render(format, &mut out).ok()?;
    Some((String::from_utf8_lossy(&out).into_owned(), output.status))
}

fn check(file: &Path, want_log: &str) -> Works {
    let registry = Registry::builtin();
    let session = Session::new(file, None);
    let dmesg = run(&registry, &session, "dmesg").is_some_and(|(t, s)| s == 0 && t == want_log);
    let triage = run(&registry, &session, "triage")
        .is_some_and(|(t, s)| s == 0 && t.contains("sysrq triggered crash"));
    let bt = run(&registry, &session, "bt")
        .is_some_and(|(t, s)| s == 0 && t.contains("sysrq_handle_crash"));
    Works { dmesg, triage, bt }
}

#[test]
fn cut_dumps_keep_log_triage_and_backtrace() {
    let elf = coroner_testdata::qemu_elf("sysrq").expect("sysrq fixture");
    let fixture = coroner_testdata::crash_dir("sysrq");
    let theirs = fixture.join("vmcore.mdf-d31-zstd");
    let want_log = std::fs::read_to_string(fixture.join("dmesg.makedumpfile.txt")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours");
    let kernel = Kernel::new(Dump::open(&elf).unwrap()).unwrap();
    let filtered = filter(&kernel, DumpLevel(31)).unwrap();
    let opts = WriteOptions {
        compression: Compression::Zstd,
        level: DumpLevel(31),
        threads: 2,
        important_first: true,
    };
    let mut sink = FileSink::new(std::fs::File::create(&ours).unwrap());
    let outcome = write(&kernel, &filtered, &opts, &mut sink, &mut |_| {}).unwrap();
    assert!(outcome.complete());
    drop(sink);

    let mut table = Vec::new();
    for percent in [20u64, 35, 50, 65, 80, 95] {
        let mut row = Vec::new();
        for (who, file) in [("coroner", &ours), ("makedumpfile", &theirs)] {
            let bytes = std::fs::read(file).unwrap();
            let cut = dir.path().join(format!("{who}-cut{percent}"));
            std::fs::write(&cut, &bytes[..bytes.len() * percent as usize / 100]).unwrap();
            row.push(check(&cut, &want_log));
            std::fs::remove_file(&cut).unwrap();
        }
        eprintln!(
            "cut at {percent}%: coroner {:?}, makedumpfile {:?}",
            row[0], row[1]
        );
        table.push((percent, row[0], row[1]));
    }
    for &(percent, ours, theirs) in &table {
        assert!(
            ours.dmesg >= theirs.dmesg && ours.triage >= theirs.triage && ours.bt >= theirs.bt,
            "cut at {percent}%: ours {ours:?} lost what makedumpfile's kept {theirs:?}"
        );
    }
    // The log (written just after the page tables) survives every cut; past the
    // kernel's data, BTF and ORC, so does the backtrace.
    for &(percent, ours, _) in &table {
        assert!(ours.dmesg && ours.triage, "cut at {percent}%: {ours:?}");
    }
    for &(percent, ours, _) in table.iter().filter(|r| r.0 >= 50) {
        assert_eq!(
            ours,
            Works {
                dmesg: true,
                triage: true,
                bt: true
            },
            "cut at {percent}%"
        );
    }
    // And the sweep shows a difference: some cut breaks makedumpfile's but not ours.
    assert!(
        table.iter().any(|&(_, ours, theirs)| ours > theirs),
        "no cut separates the two writers: {table:?}"
    );
}

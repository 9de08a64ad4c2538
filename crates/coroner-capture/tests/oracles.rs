//! Our output in the reference tools: crash 8.0.2 prints for it what it printed for
//! the fixture (`sys`, `bt`, `log`), makedumpfile reads its log and refilters it,
//! `makedumpfile -R` reassembles our flattened stream into our file, and coroner's
//! own log reader gives makedumpfile's `--dump-dmesg` text.
//!
//! Input: the `fp-nobtf/sysrq` kdump file (its vmlinux is in the fixtures, so crash
//! can run on CI), refiltered at `-d 31` as `makedumpfile -d 31 IN OUT` would.

use coroner_capture::kdump::{write, WriteOptions};
use coroner_capture::sink::{FileSink, FlatSink};
use coroner_capture::{filter, DumpLevel};
use coroner_dump::{Compression, Dump, PageState, PhysMemory};
use coroner_kernel::Kernel;
use coroner_testdata::setup;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn fixture() -> PathBuf {
    coroner_testdata::fixtures_dir().join("fp-nobtf/sysrq/vmcore.mdf-d31-zlib")
}

fn refs() -> PathBuf {
    coroner_testdata::reference_dir("fp-nobtf/sysrq", Some(&fixture()))
}

fn capture(compression: Compression, out: &Path, flat: bool) {
    let kernel = Kernel::new(Dump::open(fixture()).unwrap()).unwrap();
    let filtered = filter(&kernel, DumpLevel(31)).unwrap();
    let opts = WriteOptions {
        compression,
        level: DumpLevel(31),
        threads: 2,
        important_first: true,
    };
    let file = std::fs::File::create(out).unwrap();
    let outcome = if flat {
        let mut sink = FlatSink::new(std::io::BufWriter::new(file));
        write(&kernel, &filtered, &opts, &mut sink, &mut |_| {}).unwrap()
    } else {
        let mut sink = FileSink::new(file);
        write(&kernel, &filtered, &opts, &mut sink, &mut |_| {}).unwrap()
    };
    assert!(outcome.complete(), "{outcome:?}");
}

/// crash's lines that two runs share, without the prompts the script echoes.
fn comparable(text: &str) -> Vec<String> {
    coroner_testdata::crash_comparable(text)
        .into_iter()
        .filter(|l| !l.trim().starts_with("crash>"))
        .map(str::to_string)
        .collect()
}

fn crash_output(dump: &Path, dir: &Path) -> String {
    let script = dir.join("cmds");
    std::fs::write(&script, "sys\nbt\nlog\nq\n").unwrap();
    let out = Command::new("timeout")
        .arg("300")
        .arg("crash")
        .args(["-s", "-i"])
        .arg(&script)
        .arg(coroner_testdata::fp_vmlinux())
        .arg(dump)
        .stdin(Stdio::null())
        .output()
        .expect("run crash");
    assert!(
        out.status.success(),
        "crash failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn crash_reads_every_codec_as_it_read_the_fixture() {
    setup::apt_install(&["crash"], &["crash"]).unwrap_or_else(|e| panic!("crash: {e}"));
    let r = refs();
    let expected: Vec<String> = ["crash-sys.txt", "crash-bt.txt", "crash-log.txt"]
        .iter()
        .flat_map(|f| comparable(&std::fs::read_to_string(r.join(f)).unwrap()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    for compression in Compression::ALL {
        let out = dir.path().join(format!("ours-{}", compression.name()));
        capture(compression, &out, false);
        let got = comparable(&crash_output(&out, dir.path()));
        assert!(
            got == expected,
            "crash on our {} output differs from the fixture's reference:\n{}",
            compression.name(),
            got.iter()
                .zip(&expected)
                .filter(|(a, b)| a != b)
                .take(5)
                .map(|(a, b)| format!("ours:  {a}\nref:   {b}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::fs::remove_file(&out).unwrap();
    }
}

#[test]
fn makedumpfile_reads_our_log_and_refilters_our_output() {
    setup::require_tools();
    let want = std::fs::read_to_string(fixture().parent().unwrap().join("dmesg.makedumpfile.txt"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Debian's makedumpfile reads zlib and LZO only.
    for compression in [Compression::Zlib, Compression::Lzo, Compression::None] {
        let ours = dir.path().join(format!("ours-{}", compression.name()));
        capture(compression, &ours, false);
        let log = dir.path().join("dmesg.txt");
        let run = Command::new("makedumpfile")
            .arg("--dump-dmesg")
            .arg(&ours)
            .arg(&log)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            want,
            "makedumpfile --dump-dmesg"
        );
        std::fs::remove_file(&log).unwrap();

        // coroner's reader on our file gives the same text.
        let kernel = Kernel::new(Dump::open(&ours).unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(coroner_capture::run::dmesg_text(&kernel).unwrap()).unwrap(),
            want,
            "coroner's log of our output"
        );

        // Refiltering our file: makedumpfile parses our headers, bitmaps and
        // descriptors, and keeps the same pages.
        let refiltered = dir.path().join("refiltered");
        let run = Command::new("makedumpfile")
            .args(["-c", "-d", "31"])
            .arg(&ours)
            .arg(&refiltered)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let a = Dump::open(&ours).unwrap();
        let b = Dump::open(&refiltered).unwrap();
        assert_eq!(a.info().max_pfn, b.info().max_pfn);
        let stored = |s: PageState| matches!(s, PageState::Present | PageState::Zero);
        let ps = a.page_size();
        let (mut x, mut y) = (vec![0u8; ps as usize], vec![0u8; ps as usize]);
        for pfn in 0..a.info().max_pfn {
            assert_eq!(
                stored(a.page_state(pfn)),
                stored(b.page_state(pfn)),
                "pfn {pfn:#x}"
            );
            if stored(a.page_state(pfn)) {
                a.read_phys(pfn * ps, &mut x).unwrap();
                b.read_phys(pfn * ps, &mut y).unwrap();
                assert!(x == y, "pfn {pfn:#x} differs after makedumpfile's refilter");
            }
        }
        std::fs::remove_file(&refiltered).unwrap();
        std::fs::remove_file(&ours).unwrap();
    }
}

#[test]
fn flattened_stream_reassembles_into_our_file() {
    setup::require_tools();
    let dir = tempfile::tempdir().unwrap();
    let direct = dir.path().join("direct");
    let flat = dir.path().join("flat");
    capture(Compression::Lzo, &direct, false);
    capture(Compression::Lzo, &flat, true);
    let by_mdf = dir.path().join("by-makedumpfile");
    let run = Command::new("makedumpfile")
        .arg("-R")
        .arg(&by_mdf)
        .stdin(std::fs::File::open(&flat).unwrap())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let by_us = dir.path().join("by-coroner");
    let out = std::fs::File::create(&by_us).unwrap();
    coroner_capture::reassemble::reassemble(&mut std::fs::File::open(&flat).unwrap(), &out)
        .unwrap();
    let direct = std::fs::read(&direct).unwrap();
    assert_eq!(std::fs::read(&by_mdf).unwrap(), direct, "makedumpfile -R");
    assert_eq!(std::fs::read(&by_us).unwrap(), direct, "coroner capture -R");
    // The stream itself opens in place.
    let dump = Dump::open(&flat).unwrap();
    assert!(
        dump.info().flattened && dump.info().warnings.is_empty(),
        "{:?}",
        dump.info().warnings
    );
    // A stream cut short is an error for -R, never a silent success.
    let bytes = std::fs::read(&flat).unwrap();
    let cut = &bytes[..bytes.len() / 2];
    let out = std::fs::File::create(dir.path().join("cut")).unwrap();
    assert!(coroner_capture::reassemble::reassemble(&mut &cut[..], &out).is_err());
}

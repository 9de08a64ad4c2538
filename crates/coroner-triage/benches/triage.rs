//! `cargo bench -p coroner-triage`: the speed targets, measured.
//! - the whole shared oops corpus (`../shared/corpus/oops`) in well under a second;
//! - at least 100 MB/s of log text on one core (a boot log with one crash at the
//!   end, plain and with syslog prefixes; and a log of nothing but crashes),
//!   beside `grep -F` looking for the same report headers in the same bytes, as a
//!   floor for "just scanning".
//!
//! Prints a table; not a test.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const LOG_BYTES: usize = 128 << 20;

fn main() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    println!("{:<44} {:>12} {:>12}", "input", "time", "throughput");
    corpus(&shared.join("corpus/oops"));
    let boot =
        std::fs::read(shared.join("fixtures/mod-null/console.log")).expect("fixture console log");
    let (head, crash) = split_at_crash(&boot);
    let plain = big_log(head, crash, None);
    let syslog = big_log(head, crash, Some("Jan 11 22:31:38 web07 kernel: "));
    // Worst case: nothing but crash reports (each one titled for `others`).
    let dense: Vec<u8> = crash.repeat(LOG_BYTES / 8 / crash.len());
    for (name, log) in [
        ("boot log + crash, 128 MiB", &plain),
        ("same with syslog prefixes, 128 MiB", &syslog),
        ("only crash reports, 16 MiB", &dense),
    ] {
        let took = best_of(3, || {
            let report = coroner_triage::analyse(log);
            assert!(report.crashed);
        });
        row(name, took, log.len());
        grep_reference(name, log);
    }
}

fn corpus(dir: &Path) {
    let logs: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .expect("../shared/corpus/oops")
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap();
            let body = bytes
                .windows(2)
                .position(|w| w == b"\n\n")
                .map_or(0, |p| p + 2);
            bytes[body..].to_vec()
        })
        .collect();
    let total: usize = logs.iter().map(Vec::len).sum();
    let took = best_of(10, || {
        for log in &logs {
            std::hint::black_box(coroner_triage::analyse(log));
        }
    });
    row(&format!("oops corpus, {} files", logs.len()), took, total);
}

/// The boot part of a console log and its crash (from the line before `BUG:`).
fn split_at_crash(log: &[u8]) -> (&[u8], &[u8]) {
    let at = log
        .windows(4)
        .position(|w| w == b"BUG:")
        .expect("a crash in the fixture");
    let line = log[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    (&log[..line], &log[line..])
}

/// The boot messages repeated to `LOG_BYTES`, then the crash.
fn big_log(boot: &[u8], crash: &[u8], prefix: Option<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(LOG_BYTES + crash.len() * 2);
    let lines: Vec<&[u8]> = boot
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    while out.len() < LOG_BYTES {
        for line in &lines {
            if let Some(prefix) = prefix {
                out.extend_from_slice(prefix.as_bytes());
            }
            out.extend_from_slice(line);
            out.push(b'\n');
        }
    }
    for line in crash.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if let Some(prefix) = prefix {
            out.extend_from_slice(prefix.as_bytes());
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

/// `grep -F -c` for a handful of the same headers, from a file in /tmp.
fn grep_reference(name: &str, log: &[u8]) {
    let path = std::env::temp_dir().join("coroner-triage-bench.log");
    if std::fs::write(&path, log).is_err() {
        return;
    }
    let headers = [
        "BUG:",
        "WARNING:",
        "INFO:",
        "Kernel panic",
        "general protection fault",
        "kernel BUG",
        "Unable to handle kernel",
    ];
    let took = best_of(3, || {
        let mut grep = Command::new("grep");
        grep.arg("-c").arg("-F");
        for h in headers {
            grep.arg("-e").arg(h);
        }
        let _ = grep.arg(&path).output();
    });
    let _ = std::fs::remove_file(&path);
    row(
        &format!(
            "  grep -F -c (7 headers), {}",
            name.split(',').next().unwrap_or(name)
        ),
        took,
        log.len(),
    );
}

fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap()
}

fn row(name: &str, took: Duration, bytes: usize) {
    let mbs = bytes as f64 / 1e6 / took.as_secs_f64();
    println!(
        "{name:<44} {:>9.1} ms {:>8.0} MB/s",
        took.as_secs_f64() * 1e3,
        mbs
    );
}

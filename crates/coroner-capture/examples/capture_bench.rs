//! Capture throughput, output size and memory beside makedumpfile, on one input in
//! one run: `-d 31` with each codec, one thread each (the capture kernel's usual
//! lot), plus coroner with two threads. Not a test: figures go in the README.
//!
//!     cargo run --release -p coroner-capture --example capture_bench -- \
//!         ELF [ELF_FOR_MAKEDUMPFILE] [OUTDIR]
//!
//! ELF is a vmcore coroner reads (bench/make-guest.sh makes one); makedumpfile
//! 1.7.2 needs the copy with program headers at 64 (`*-phfix`, made beside it).
//! Each capture runs as a child process; its peak resident and anonymous memory
//! are sampled from /proc. The input is read once first so both tools find it in
//! the page cache.

use coroner_capture::kdump::{write, WriteOptions};
use coroner_capture::sink::FileSink;
use coroner_capture::{filter, DumpLevel};
use coroner_dump::{Compression, Dump};
use coroner_kernel::Kernel;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn codec(name: &str) -> Compression {
    Compression::ALL
        .into_iter()
        .find(|c| c.name() == name)
        .expect("codec name")
}

/// Child mode: one capture, stage times on stderr.
fn one(name: &str, threads: usize, input: &Path, out: &Path) {
    let t = Instant::now();
    let kernel = Kernel::new(Dump::open(input).expect("open input")).expect("kernel");
    let opened = t.elapsed();
    let filtered = filter(&kernel, DumpLevel(31)).expect("filter");
    let filtered_at = t.elapsed();
    let opts = WriteOptions {
        compression: codec(name),
        level: DumpLevel(31),
        threads,
        important_first: true,
    };
    let mut sink = FileSink::new(std::fs::File::create(out).expect("create output"));
    let outcome = write(&kernel, &filtered, &opts, &mut sink, &mut |_| {}).expect("write");
    assert!(outcome.complete(), "{outcome:?}");
    eprintln!(
        "stages open={:.3} filter={:.3} write={:.3} pages={}",
        opened.as_secs_f64(),
        (filtered_at - opened).as_secs_f64(),
        (t.elapsed() - filtered_at).as_secs_f64(),
        outcome.stored
    );
}

struct Run {
    wall: f64,
    peak_rss_kib: u64,
    peak_anon_kib: u64,
    out_bytes: u64,
    stderr: String,
}

fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn measure(cmd: &mut Command, out: &Path) -> Run {
    let _ = std::fs::remove_file(out);
    let t = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let (mut rss, mut anon) = (0, 0);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        rss = rss.max(status_kib(pid, "VmHWM:").unwrap_or(0));
        anon = anon.max(status_kib(pid, "RssAnon:").unwrap_or(0));
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = t.elapsed().as_secs_f64();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .ok();
    assert!(status.success(), "{cmd:?} failed: {stderr}");
    let out_bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Run {
        wall,
        peak_rss_kib: rss,
        peak_anon_kib: anon,
        out_bytes,
        stderr,
    }
}

/// Runs per measurement: the machine is shared, so the fastest of three is the
/// least disturbed.
const RUNS: usize = 3;

fn best(mut run: impl FnMut() -> Run) -> Run {
    (0..RUNS)
        .map(|_| run())
        .min_by(|a, b| a.wall.total_cmp(&b.wall))
        .expect("at least one run")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--one") {
        let threads = args[3].parse().expect("threads");
        one(&args[2], threads, Path::new(&args[4]), Path::new(&args[5]));
        return;
    }
    let input = PathBuf::from(
        args.get(1)
            .expect("usage: capture_bench ELF [ELF_FOR_MAKEDUMPFILE] [OUTDIR]"),
    );
    let theirs_in = args
        .get(2)
        .map(PathBuf::from)
        .unwrap_or_else(|| input.clone());
    let dir = args
        .get(3)
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let size = std::fs::metadata(&input).expect("input").len();
    for f in [&input, &theirs_in] {
        std::io::copy(&mut std::fs::File::open(f).unwrap(), &mut std::io::sink()).unwrap();
    }
    let version = Command::new("makedumpfile")
        .arg("-v")
        .output()
        .expect("makedumpfile -v");
    let features = String::from_utf8_lossy(&version.stdout).into_owned();
    let has = |c: &str| {
        features
            .lines()
            .any(|l| l.starts_with(c) && l.contains("enabled"))
    };
    let me = std::env::current_exe().unwrap();
    let gib = size as f64 / (1u64 << 30) as f64;
    println!(
        "input {} ({:.2} GiB), -d 31, {}",
        input.display(),
        gib,
        features.lines().next().unwrap_or("")
    );
    println!(
        "| codec | tool | threads | seconds | GiB/s of input | output MB | peak RSS MiB | peak anon MiB | speed-up | size vs makedumpfile |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, flag) in [
        ("zlib", "-c"),
        ("lzo", "-l"),
        ("snappy", "-p"),
        ("zstd", "-z"),
        ("none", ""),
    ] {
        let mdf_out = dir.join(format!("bench-mdf-{name}"));
        // zlib is always built in; -p/-z only where makedumpfile says "enabled".
        let mdf = (matches!(name, "zlib" | "none") || has(name)).then(|| {
            best(|| {
                let mut c = Command::new("makedumpfile");
                c.args(["-d", "31"]);
                if !flag.is_empty() {
                    c.arg(flag);
                }
                measure(c.arg(&theirs_in).arg(&mdf_out), &mdf_out)
            })
        });
        let _ = std::fs::remove_file(&mdf_out);
        for threads in [1, 2] {
            let ours_out = dir.join(format!("bench-coroner-{name}"));
            let ours = best(|| {
                measure(
                    Command::new(&me)
                        .args(["--one", name, &threads.to_string()])
                        .arg(&input)
                        .arg(&ours_out),
                    &ours_out,
                )
            });
            let _ = std::fs::remove_file(&ours_out);
            if threads == 1 {
                if let Some(m) = &mdf {
                    row(name, "makedumpfile 1.7.2", 1, m, gib, None);
                }
            }
            row(name, "coroner", threads, &ours, gib, mdf.as_ref());
            eprintln!("{name} x{threads}: {}", ours.stderr.trim());
        }
    }
}

fn row(name: &str, tool: &str, threads: usize, r: &Run, gib: f64, vs: Option<&Run>) {
    let (speed, size) = match vs {
        Some(m) => (
            format!("{:.1}x", m.wall / r.wall),
            format!(
                "{:+.1}%",
                (r.out_bytes as f64 / m.out_bytes as f64 - 1.0) * 100.0
            ),
        ),
        None => ("".into(), "".into()),
    };
    println!(
        "| {name} | {tool} | {threads} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} | {speed} | {size} |",
        r.wall,
        gib / r.wall,
        r.out_bytes as f64 / 1e6,
        r.peak_rss_kib as f64 / 1024.0,
        r.peak_anon_kib as f64 / 1024.0,
    );
}

//! What types cost: decoding a whole kernel's BTF (the fixture kernel's, shipped in
//! tests/data, and this machine's /sys/kernel/btf/vmlinux when readable), a
//! module's split BTF on it, and the lookups callers make once it is decoded.
//! Run: `cargo bench -p coroner-types --bench btf`.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coroner_types::crash::{struct_offsets, Radix};
use coroner_types::{Btf, Namespace};

/// Fastest and median of `rounds` runs of `f` (the fastest is the steadier
/// figure on a shared machine).
fn fastest_and_median(rounds: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    (times[0], times[rounds / 2])
}

/// Mean time of one call, over enough calls to last ~0.2 s.
fn per_call(mut f: impl FnMut()) -> Duration {
    let mut calls = 1u32;
    loop {
        let started = Instant::now();
        for _ in 0..calls {
            f();
        }
        let spent = started.elapsed();
        if spent > Duration::from_millis(200) {
            return spent / calls;
        }
        calls *= 4;
    }
}

fn row(what: &str, time: Duration, extra: &str) {
    println!("{what:<52} {:>12.3?} {extra}", time);
}

fn kernel(label: &str, bytes: &[u8]) -> Arc<Btf> {
    let (fastest, median) = fastest_and_median(41, || {
        black_box(Btf::parse(black_box(bytes)).unwrap());
    });
    let mib = bytes.len() as f64 / (1 << 20) as f64;
    row(
        &format!("parse {label} BTF ({mib:.2} MiB)"),
        fastest,
        &format!(
            "{:.0} MiB/s; median {median:.3?}",
            mib / fastest.as_secs_f64()
        ),
    );
    let mut first_find: Vec<Duration> = (0..11)
        .map(|_| {
            let fresh = Btf::parse(bytes).unwrap();
            let started = Instant::now();
            black_box(fresh.types().find("task_struct"));
            started.elapsed()
        })
        .collect();
    first_find.sort();
    row("  first find (builds the name index)", first_find[0], "");
    let btf = Arc::new(Btf::parse(bytes).unwrap());
    let t = btf.types().clone();
    row(
        "  find(\"task_struct\")",
        per_call(|| {
            black_box(t.find(black_box("task_struct")));
        }),
        "",
    );
    row(
        "  lookup(Struct, \"task_struct\")",
        per_call(|| {
            black_box(t.lookup(Namespace::Struct, black_box("task_struct")));
        }),
        "",
    );
    row(
        "  offset_of(\"task_struct\", \"se.on_rq\")",
        per_call(|| {
            black_box(t.offset_of("task_struct", black_box("se.on_rq")));
        }),
        "",
    );
    row(
        "  offset_of(\"page\", \"compound_head\") (anonymous unions)",
        per_call(|| {
            black_box(t.offset_of("page", black_box("compound_head")));
        }),
        "",
    );
    let task = t.find("task_struct").unwrap();
    row(
        "  struct -o task_struct",
        per_call(|| {
            black_box(struct_offsets(&t, task, Radix::Decimal));
        }),
        "",
    );
    btf
}

fn main() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let packed = std::fs::read(data.join("vmlinux-6.1.0-56-amd64.btf.zst")).unwrap();
    let fixture = zstd::decode_all(packed.as_slice()).unwrap();
    println!("{:<52} {:>12}", "what", "fastest/mean");
    let base = kernel("6.1.0-56-amd64", &fixture);
    let module = std::fs::read(data.join("qemu_fw_cfg-6.1.0-56-amd64.btf")).unwrap();
    let (fastest, median) = fastest_and_median(1001, || {
        black_box(Btf::parse_split(&base, black_box(&module)).unwrap());
    });
    row(
        "parse split BTF of qemu_fw_cfg (1256 bytes) on it",
        fastest,
        &format!("median {median:.3?}"),
    );
    match std::fs::read("/sys/kernel/btf/vmlinux") {
        Ok(host) => {
            let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
            kernel(&format!("this machine's {}", release.trim()), &host);
        }
        Err(e) => println!("(no /sys/kernel/btf/vmlinux: {e})"),
    }
}

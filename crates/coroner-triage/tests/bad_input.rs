//! Bad input gives a clear "no crash" (or a best-effort report), never a panic, and
//! in time and memory bounded by the input: binary garbage, a 100 MB line,
//! invalid UTF-8, empty input, truncated reports. Also replays the fuzz seeds.

use coroner_testdata::CountingAllocator;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

/// Far beyond a normal run (well under a second): catches hangs, not slowness, so a
/// loaded CI machine cannot fail it.
const HANG: Duration = Duration::from_secs(120);

/// Tests measuring the heap run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Peak heap above the input while analysing it, and the time taken. The catalog's
/// patterns are compiled once per process, whichever test comes first: that is done
/// before measuring, so the figure is what the input costs.
fn measure(input: &[u8]) -> (coroner_triage::Report, usize, Duration) {
    let kb = coroner_triage::KnowledgeBase::builtin().unwrap();
    coroner_triage::triage(
        b"[ 1.0] BUG: kernel NULL pointer dereference, address: 0\n[ 1.0] RIP: 0010:f+0x1/0x2\n[ 1.0] Call Trace:\n[ 1.0]  g+0x1/0x2\n",
        &kb,
    );
    let mark = HEAP.mark();
    let start = Instant::now();
    let report = coroner_triage::triage(input, &kb);
    let took = start.elapsed();
    (report, HEAP.peak_since(mark), took)
}

/// xorshift: reproducible garbage without a dependency.
fn garbage(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

#[test]
fn binary_garbage_and_empty_input() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for input in [
        Vec::new(),
        vec![0u8; 1 << 20],
        garbage(8 << 20, 7),
        vec![b'\n'; 1 << 20],
    ] {
        let (report, peak, took) = measure(&input);
        assert!(!report.crashed);
        assert!(peak < (1 << 20), "peak heap {peak}");
        assert!(took < HANG, "{took:?}");
    }
}

#[test]
fn a_100_mb_line_is_bounded() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Headers everywhere in one endless line, then a real report after it.
    let mut input = b"BUG: soft lockup ".repeat(100 << 20 >> 4);
    input.extend_from_slice(b"\nkernel BUG at mm/slub.c:1!\nRIP: 0010:kfree+0x1/0x2\n");
    let (report, peak, took) = measure(&input);
    assert!(report.crashed);
    assert!(peak < (16 << 20), "peak heap {peak}");
    assert!(took < HANG, "{took:?}");

    let mut plain = vec![b'x'; 100 << 20];
    plain.extend_from_slice(b" WARNING: CPU: 0 PID: 1 at a.c:1 f+0x1/0x2\n");
    let (report, peak, _) = measure(&plain);
    assert!(
        !report.crashed,
        "a header past the line limit is not a report"
    );
    assert!(peak < (16 << 20), "peak heap {peak}");
}

#[test]
fn invalid_utf8_and_truncated_reports() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut input = b"[ 1.0] \xff\xfeBUG: kernel NULL pointer dereference, address: 0\n[ 1.0] RIP: 0010:\xc3(f+0x1/0x2\n".to_vec();
    let (report, _, _) = measure(&input);
    assert!(report.crashed);
    assert!(report.title.unwrap().is_ascii());
    // Every prefix of a real report is handled.
    input = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/mod-null/console.log"),
    )
    .unwrap();
    let start = input.windows(4).position(|w| w == b"BUG:").unwrap() - 15;
    for cut in (start..input.len()).step_by(37) {
        let (report, _, _) = measure(&input[..cut]);
        if cut > start + 20 {
            assert!(report.crashed, "cut at {cut}");
        }
    }
}

#[test]
fn fuzz_seeds_replay() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/triage");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/seeds/triage") {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let (_, peak, took) = measure(&bytes);
        assert!(
            peak < 8 * bytes.len() + (8 << 20),
            "{}: peak heap {peak}",
            path.display()
        );
        assert!(took < HANG, "{}: {took:?}", path.display());
        replayed += 1;
    }
    assert!(replayed >= 20, "only {replayed} seeds");
}

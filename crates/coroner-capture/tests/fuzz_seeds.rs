//! Replays the dump fuzz seeds through the convert fuzz target's entry (any dump
//! is a conversion's input), with a counting allocator: no panic, and heap in
//! proportion to the input.

use coroner_testdata::CountingAllocator;
use std::path::Path;

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

#[test]
fn every_dump_fuzz_seed_converts_in_bounded_memory() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let mut replayed = 0;
    let mut written = 0;
    for target in ["dump_kdump", "dump_elf", "dump_flat", "dump_vmware"] {
        for entry in std::fs::read_dir(seeds.join(target)).expect("seed folder exists") {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let mark = HEAP.mark();
            written += coroner_capture::convert::fuzz_convert(&bytes);
            let peak = HEAP.peak_since(mark);
            // The input is copied once; copy buffers and headers add a few MiB.
            assert!(
                peak < 2 * bytes.len() + (8 << 20),
                "{}: peak heap {peak}",
                path.display()
            );
            replayed += 1;
        }
    }
    assert!(replayed >= 12, "only {replayed} seeds");
    assert!(
        written > 1 << 20,
        "the seeds converted to only {written} bytes"
    );
}

//! Replays every fuzz seed (and the reproducers saved beside them) through the fuzz
//! targets' entry point, with a counting allocator: what once broke the parsers, by
//! a panic or by an allocation out of proportion to the input, stays fixed.

use coroner_testdata::CountingAllocator;
use std::path::Path;

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

#[test]
fn every_dump_fuzz_seed_is_handled_in_bounded_memory() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let mut replayed = 0;
    let mut pages = 0;
    for target in ["dump_kdump", "dump_elf", "dump_flat", "dump_vmware"] {
        for entry in std::fs::read_dir(seeds.join(target)).expect("seed folder exists") {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let mark = HEAP.mark();
            pages += coroner_dump::fuzz_open_and_read(&bytes);
            let peak = HEAP.peak_since(mark);
            // The input is copied once; indexes and caches add a few MiB at most.
            assert!(
                peak < 2 * bytes.len() + (8 << 20),
                "{}: peak heap {peak}",
                path.display()
            );
            replayed += 1;
        }
    }
    assert!(replayed >= 12, "only {replayed} seeds");
    // The seeds are real dump prefixes: they must open and yield pages.
    assert!(pages > 1000, "seeds yielded only {pages} pages");
}

//! Replays every fuzz seed (and the reproducers saved beside them) through the fuzz
//! targets' entry point, with a counting allocator: what once broke the parsers, by
//! a panic or by an allocation out of proportion to the input, stays fixed.

use coroner_testdata::{seeds, CountingAllocator};

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

#[test]
fn every_dump_fuzz_seed_is_handled_in_bounded_memory() {
    let (replayed, pages) = seeds::replay_dump_seeds(&HEAP, |bytes| {
        coroner_dump::fuzz_open_and_read(bytes) as u64
    });
    assert!(replayed >= 12, "only {replayed} seeds");
    // The seeds are real dump prefixes: they must open and yield pages.
    assert!(pages > 1000, "seeds yielded only {pages} pages");
}

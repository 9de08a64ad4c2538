//! Replays the dump fuzz seeds through the convert fuzz target's entry (any dump
//! is a conversion's input), with a counting allocator: no panic, and heap in
//! proportion to the input.

use coroner_testdata::{seeds, CountingAllocator};

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

#[test]
fn every_dump_fuzz_seed_converts_in_bounded_memory() {
    let (replayed, written) =
        seeds::replay_dump_seeds(&HEAP, coroner_capture::convert::fuzz_convert);
    assert!(replayed >= 12, "only {replayed} seeds");
    assert!(
        written > 1 << 20,
        "the seeds converted to only {written} bytes"
    );
}

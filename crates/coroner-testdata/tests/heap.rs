//! The counting allocator sees what is allocated, so the bounds other tests put on
//! its figures can fail.

use coroner_testdata::CountingAllocator;

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

#[test]
fn peak_counts_an_allocation_and_restarts_at_each_mark() {
    let mark = HEAP.mark();
    let big = vec![1u8; 1 << 20];
    assert!(HEAP.peak_since(mark) >= 1 << 20);
    drop(big);
    let mark = HEAP.mark();
    let small = vec![1u8; 1 << 10];
    let peak = HEAP.peak_since(mark);
    assert!((1 << 10..1 << 20).contains(&peak), "{peak}");
    drop(small);
}

//! A global allocator that counts live heap bytes and their peak, so bad-input and
//! fuzz-seed tests can check that memory stays proportional to the input. Each test
//! binary installs it: `#[global_allocator] static HEAP: CountingAllocator =
//! CountingAllocator::new();`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct CountingAllocator {
    live: AtomicUsize,
    peak: AtomicUsize,
}

/// The heap in use when a measurement started.
#[derive(Debug, Clone, Copy)]
pub struct HeapMark(usize);

impl CountingAllocator {
    pub const fn new() -> Self {
        CountingAllocator {
            live: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Starts a measurement: the peak restarts from the heap in use now.
    pub fn mark(&self) -> HeapMark {
        let base = self.live.load(Ordering::Relaxed);
        self.peak.store(base, Ordering::Relaxed);
        HeapMark(base)
    }

    /// The largest heap growth above `mark` since it was taken.
    pub fn peak_since(&self, mark: HeapMark) -> usize {
        self.peak.load(Ordering::Relaxed).saturating_sub(mark.0)
    }
}

impl Default for CountingAllocator {
    fn default() -> Self {
        Self::new()
    }
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = self.live.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        self.peak.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        self.live.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

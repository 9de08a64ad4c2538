//! A conversion's heap does not grow with the guest: a 512 MiB VMware guest (three
//! regions, memory in its `.vmem`) converts with a few MiB of heap (the copy
//! buffers and the headers), and the progress told covers every byte written.

use coroner_capture::convert::{convert, Options, OutputFormat, Progress};
use coroner_dump::Dump;
use coroner_testdata::vmware::{generate, Variant};
use coroner_testdata::CountingAllocator;
use std::cell::Cell;

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

#[derive(Default)]
struct Recorded {
    total: Cell<u64>,
    done: Cell<u64>,
    finished: Cell<bool>,
}

impl Progress for Recorded {
    fn start(&self, bytes: u64) {
        self.total.set(bytes);
    }
    fn advance(&self, bytes: u64) {
        self.done.set(self.done.get() + bytes);
    }
    fn finish(&self) {
        self.finished.set(true);
    }
}

#[test]
fn a_512_mib_guest_converts_in_a_few_mib_of_heap() {
    let input = generate("sysrq", Variant::VmsnHoles).unwrap();
    let dump = Dump::open(&input).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let output = tmp.path().join("guest.elf");
    let options = Options {
        format: OutputFormat::Elf,
        dump_level: 0,
        compression: None,
    };
    let progress = Recorded::default();
    let mark = HEAP.mark();
    let summary = convert(dump, &output, &options, &progress).unwrap();
    let peak = HEAP.peak_since(mark);
    let memory = summary.written.pages * 4096;
    assert!(memory >= 512 << 20, "{memory}");
    assert!(
        peak < 8 << 20,
        "peak heap {peak} bytes for {memory} bytes of memory"
    );
    assert_eq!(progress.total.get(), memory);
    assert_eq!(progress.done.get(), memory);
    assert!(progress.finished.get());
}

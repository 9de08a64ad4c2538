//! Measures reading a vmlinux's DWARF: `cargo run --release -p coroner-dwarf
//! --example dwarf_load -- VMLINUX`. Prints wall time and peak heap per step;
//! `/usr/bin/time -v` adds the resident set (which counts the mapped file).

use std::time::Instant;

use coroner_testdata::CountingAllocator;

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

fn main() {
    let path = std::env::args().nth(1).expect("usage: dwarf_load VMLINUX");
    let file = std::fs::File::open(&path).expect("open vmlinux");
    // SAFETY: the file is only read; nobody truncates it while we run.
    let data = unsafe { memmap2::Mmap::map(&file) }.expect("map vmlinux");
    let debuginfo = coroner_dwarf::Debuginfo::parse(&data).expect("parse ELF");
    let step = |what: &str, run: &mut dyn FnMut() -> String| {
        let mark = HEAP.mark();
        let start = Instant::now();
        let result = run();
        println!(
            "{what}: {result} in {:.2?}, peak heap {} MiB",
            start.elapsed(),
            HEAP.peak_since(mark) >> 20
        );
    };
    step("types", &mut || {
        let types = debuginfo.types().expect("read types");
        format!(
            "{} types, {} variables",
            types.types.len(),
            types.variables.len()
        )
    });
    step("symbols", &mut || {
        format!("{} symbols", debuginfo.symbols().expect("symbols").len())
    });
    step("cfi", &mut || {
        format!("{} FDEs", debuginfo.cfi().expect("cfi").len())
    });
    step("lines (open + 1000 lookups)", &mut || {
        let lines = debuginfo.lines().expect("lines");
        let symbols = debuginfo.symbols().expect("symbols");
        let found = symbols
            .iter()
            .filter(|s| s.letter == 'T')
            .step_by(16)
            .take(1000)
            .filter(|s| !lines.frames(s.address).expect("frames").is_empty())
            .count();
        format!("{found} found")
    });
}

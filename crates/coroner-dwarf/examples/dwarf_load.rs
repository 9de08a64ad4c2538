//! Measures loading a vmlinux's DWARF types: `cargo run --release -p coroner-dwarf
//! --example dwarf_load -- VMLINUX` (wrap in `/usr/bin/time -v` for peak memory).

use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: dwarf_load VMLINUX");
    let file = std::fs::File::open(&path).expect("open vmlinux");
    // SAFETY: the file is only read; nobody truncates it while we run.
    let data = unsafe { memmap2::Mmap::map(&file) }.expect("map vmlinux");
    let start = Instant::now();
    let debuginfo = coroner_dwarf::Debuginfo::parse(&data).expect("parse ELF");
    let types = debuginfo.types().expect("read types");
    println!(
        "types: {} types, {} variables in {:.2?}",
        types.types.len(),
        types.variables.len(),
        start.elapsed()
    );
}

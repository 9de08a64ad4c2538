//! The kdump-compressed writer: what it writes reads back as the source's pages,
//! byte for byte, with every codec; and the reference tools open it.

use coroner_capture::kdump::{write, WriteOptions};
use coroner_capture::sink::FileSink;
use coroner_capture::{filter, DumpLevel};
use coroner_dump::{Compression, Dump, PageState, PhysMemory};
use coroner_kernel::Kernel;
use std::path::Path;

fn capture(kernel: &Kernel, level: u8, compression: Compression, threads: usize, out: &Path) {
    let filtered = filter(kernel, DumpLevel::new(level).unwrap()).expect("filter");
    let file = std::fs::File::create(out).expect("create output");
    let mut sink = FileSink::new(file);
    let opts = WriteOptions {
        compression,
        level: DumpLevel(level),
        threads,
        important_first: true,
    };
    let outcome = write(kernel, &filtered, &opts, &mut sink, &mut |_| {}).expect("write");
    assert!(outcome.complete(), "{outcome:?}");
    assert!(
        outcome.important > 1000,
        "too few important frames: {outcome:?}"
    );
}

/// Every frame the output stores reads back exactly as in the source; excluded
/// and stored frames are those of the filter.
fn same_pages(source: &Dump, out: &Dump, level: u8) {
    let ps = source.page_size();
    let mut a = vec![0u8; ps as usize];
    let mut b = vec![0u8; ps as usize];
    let mut stored = 0;
    for pfn in 0..out.info().max_pfn {
        match out.page_state(pfn) {
            PageState::Present | PageState::Zero => {
                source.read_phys(pfn * ps, &mut a).unwrap();
                out.read_phys(pfn * ps, &mut b)
                    .unwrap_or_else(|e| panic!("-d {level}: pfn {pfn:#x}: {e}"));
                assert!(a == b, "-d {level}: pfn {pfn:#x} differs");
                stored += 1;
            }
            PageState::Excluded | PageState::NotInDump => {}
            other => panic!("-d {level}: pfn {pfn:#x} is {other:?}"),
        }
    }
    assert!(stored > 1000);
}

#[test]
fn every_codec_reads_back_byte_identical() {
    let elf = coroner_testdata::qemu_elf("sysrq").expect("sysrq fixture");
    let source = Dump::open(&elf).unwrap();
    let kernel = Kernel::new(Dump::open(&elf).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (compression, level, threads) in [
        (Compression::Zlib, 31, 1),
        (Compression::Lzo, 31, 2),
        (Compression::Snappy, 31, 1),
        (Compression::Zstd, 31, 2),
        (Compression::None, 31, 1),
        (Compression::Lzo, 0, 1),
        (Compression::Zstd, 16, 2),
    ] {
        let out = dir
            .path()
            .join(format!("out-{}-{level}", compression.name()));
        capture(&kernel, level, compression, threads, &out);
        let dump = Dump::open(&out).unwrap();
        assert!(
            dump.info().warnings.is_empty(),
            "{:?}",
            dump.info().warnings
        );
        let census = dump.census();
        if compression != Compression::None && level != 0 {
            assert!(census.compressions.contains(&compression), "{census:?}");
        }
        same_pages(&source, &dump, level);
        std::fs::remove_file(&out).unwrap();
    }
}

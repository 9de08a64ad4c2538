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

/// A disk that fills up after `room` bytes.
struct FullDisk {
    inner: FileSink,
    room: u64,
}

impl coroner_capture::sink::Sink for FullDisk {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        if offset + data.len() as u64 > self.room {
            return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
        }
        self.inner.write_at(offset, data)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
    fn reserve(&mut self, len: u64) -> std::io::Result<()> {
        self.inner.reserve(len)
    }
    fn finish(&mut self) -> std::io::Result<()> {
        self.inner.finish()
    }
    fn written(&self) -> u64 {
        self.inner.written()
    }
}

#[test]
fn a_full_disk_leaves_an_honest_incomplete_dump() {
    let elf = coroner_testdata::qemu_elf("sysrq").expect("sysrq fixture");
    let kernel = Kernel::new(Dump::open(&elf).unwrap()).unwrap();
    let filtered = filter(&kernel, DumpLevel(31)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cut");
    let mut sink = FullDisk {
        inner: FileSink::new(std::fs::File::create(&out).unwrap()),
        room: 12 << 20,
    };
    let opts = WriteOptions {
        compression: Compression::Zstd,
        level: DumpLevel(31),
        threads: 2,
        important_first: true,
    };
    let outcome = write(&kernel, &filtered, &opts, &mut sink, &mut |_| {}).unwrap();
    assert!(!outcome.complete(), "{outcome:?}");
    assert!(
        outcome
            .write_error
            .as_deref()
            .unwrap()
            .contains("No space left"),
        "{outcome:?}"
    );
    drop(sink);
    let dump = Dump::open(&out).unwrap();
    assert!(
        dump.info()
            .warnings
            .iter()
            .any(|w| w.contains("incomplete")),
        "the header must say incomplete: {:?}",
        dump.info().warnings
    );
    let census = dump.census();
    assert!(
        census.counts.missing > 0 && census.counts.present > 1000,
        "{census:?}"
    );
    // What was written first is there: the log reads in full.
    let kernel = Kernel::new(dump).unwrap();
    let want =
        std::fs::read(coroner_testdata::crash_dir("sysrq").join("dmesg.makedumpfile.txt")).unwrap();
    assert_eq!(coroner_capture::run::dmesg_text(&kernel).unwrap(), want);
}

//! The lockless ring of a real dump with pages of its bookkeeping unreadable: the
//! records come back from the text data ring, with their `printk_info` where it is
//! readable, and equal the intact log's.

use coroner_dump::Dump;
use coroner_kernel::dmesg::{self, Log, LogRecord};
use coroner_kernel::{Kernel, MemError, Memory};

/// Kernel memory with some virtual pages unreadable.
struct Holes<'a> {
    inner: &'a Kernel,
    pages: Vec<u64>,
}

impl Memory for Holes<'_> {
    fn read(&self, vaddr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let end = vaddr + buf.len() as u64;
        if let Some(&p) = self.pages.iter().find(|&&p| p < end && vaddr < p + 4096) {
            // Any error will do: reuse one the dump gives for an unmapped address.
            let _ = p;
            return self.inner.read(0x10, &mut [0u8; 1]);
        }
        self.inner.read(vaddr, buf)
    }
}

fn records(log: Log) -> Vec<LogRecord> {
    match log {
        Log::Records(r) => r,
        Log::Plain(_) => panic!("a lockless log"),
    }
}

fn open(crash: &str) -> Kernel {
    let path = coroner_testdata::crash_dir(crash).join("vmcore.mdf-d31-zlib");
    Kernel::new(Dump::open(&path).unwrap()).unwrap()
}

#[test]
fn the_log_survives_its_ring_struct_and_descriptors() {
    let kernel = open("mod-null");
    let info = kernel.vmcoreinfo();
    let intact = records(dmesg::read_log(&kernel, info).unwrap().log);
    assert!(intact.len() > 100);
    let prb = info.symbol("prb").unwrap();
    let ring = kernel.read_u64(prb).unwrap();
    let descs = kernel.read_u64(ring + 8).unwrap();
    let page = |a: u64| a & !0xfff;
    let cases: Vec<(&str, Vec<u64>)> = vec![
        ("the prb page", vec![page(prb)]),
        ("a descriptor page", vec![page(descs) + 4096]),
        (
            "the prb page and a descriptor page",
            vec![page(prb), page(descs) + 4096],
        ),
    ];
    for (what, pages) in cases {
        let damaged = Holes {
            inner: &kernel,
            pages: pages.clone(),
        };
        let read = dmesg::read_log(&damaged, info).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(!read.warnings.is_empty(), "{what}");
        let got = records(read.log);
        // Every record recovered is one of the intact log's, and most are there.
        let mut timed = 0;
        for r in &got {
            // A record without its printk_info may keep up to 7 stale bytes.
            let same = intact.iter().find(|i| {
                i.seq == r.seq && r.text.starts_with(&i.text) && r.text.len() - i.text.len() < 8
            });
            assert!(
                same.is_some(),
                "{what}: {:?}",
                String::from_utf8_lossy(&r.text)
            );
            if same.is_some_and(|i| i.text == r.text && i.ts_nsec == r.ts_nsec) {
                timed += 1;
            }
        }
        assert!(
            got.len() * 100 >= intact.len() * 95,
            "{what}: {} of {} records",
            got.len(),
            intact.len()
        );
        // Records whose printk_info lay on a lost page have no time stamp.
        assert!(
            timed + 50 * pages.len() >= got.len(),
            "{what}: {timed} whole of {}",
            got.len()
        );
        let panic = dmesg::panic::find(&Log::Records(got.clone()));
        assert!(panic.is_some(), "{what}: the panic is found");
        eprintln!(
            "{what}: {} of {} records, {timed} whole; {:?}",
            got.len(),
            intact.len(),
            read.warnings
        );
    }
}

//! Sequential physical-read throughput of every container variant, beside the floor
//! each should reach: the raw decompressor on the same pages (compressed dumps) or a
//! plain copy of the file's bytes (uncompressed ones). Also the page census (what
//! `info` pays) per variant. Run: `cargo bench -p coroner-dump --bench read`.

use coroner_dump::{Compression, Dump, PageState, PhysMemory};
use coroner_testdata::{derived, qemu_elf, shipped_dumps, Derived};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn timed(mut f: impl FnMut()) -> Duration {
    median(
        (0..ROUNDS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn stored_pages(dump: &Dump) -> Vec<u64> {
    let ps = dump.page_size();
    dump.stored_ranges()
        .iter()
        .flat_map(|&(s, e)| s / ps..e / ps)
        .filter(|&p| dump.page_state(p) == PageState::Present)
        .collect()
}

/// Compresses `pages` as the dump did and times decoding them with the library alone.
fn decompressor_floor(kind: Compression, pages: &[Vec<u8>]) -> Duration {
    let packed: Vec<Vec<u8>> = pages
        .iter()
        .map(|p| match kind {
            Compression::Zlib => {
                let mut z =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                z.write_all(p).unwrap();
                z.finish().unwrap()
            }
            Compression::Snappy => snap::raw::Encoder::new().compress_vec(p).unwrap(),
            Compression::Zstd => zstd::bulk::compress(p, 1).unwrap(), // makedumpfile's level
            _ => p.clone(),
        })
        .collect();
    let mut out = vec![0u8; 4096];
    // Contexts are reused across pages, as a reader of many pages would.
    let mut zlib = flate2::Decompress::new(true);
    let mut snappy = snap::raw::Decoder::new();
    let mut zstd = zstd::bulk::Decompressor::new().unwrap();
    timed(|| {
        for p in &packed {
            match kind {
                Compression::Zlib => {
                    zlib.reset(true);
                    zlib.decompress(p, &mut out, flate2::FlushDecompress::Finish)
                        .unwrap();
                }
                Compression::Snappy => {
                    snappy.decompress(p, &mut out).unwrap();
                }
                Compression::Zstd => {
                    zstd.decompress_to_buffer(p, &mut out).unwrap();
                }
                _ => out.copy_from_slice(p),
            }
        }
    })
}

fn bench(path: &Path) {
    let dump = Dump::open(path).unwrap();
    let census_time = timed(|| {
        std::hint::black_box(dump.census());
    });
    let kind = *dump
        .census()
        .compressions
        .iter()
        .next()
        .unwrap_or(&Compression::None);
    let pfns = stored_pages(&dump);
    let ps = dump.page_size();
    let mut buf = vec![0u8; ps as usize];
    let read_time = timed(|| {
        for &pfn in &pfns {
            dump.read_phys(pfn * ps, &mut buf).unwrap();
        }
    });
    let mib = (pfns.len() as f64 * ps as f64) / 1048576.0;
    let pages: Vec<Vec<u8>> = pfns
        .iter()
        .map(|&p| {
            let mut b = vec![0u8; ps as usize];
            dump.read_phys(p * ps, &mut b).unwrap();
            b
        })
        .collect();
    let floor = match kind {
        // LZO has no independent Rust library here to compare with; say so.
        Compression::Lzo => None,
        Compression::None => {
            let bytes = std::fs::read(path).unwrap();
            let mut sink = vec![0u8; bytes.len()];
            Some(
                timed(|| sink.copy_from_slice(&bytes))
                    .mul_f64(mib * 1048576.0 / bytes.len() as f64),
            )
        }
        k => Some(decompressor_floor(k, &pages)),
    };
    let rate = |d: Duration| mib / d.as_secs_f64();
    let name = path.file_name().unwrap().to_string_lossy();
    match floor {
        Some(f) => println!(
            "{name:32} {:7} census {:>7.2} ms | read {:>6.0} MiB/s | floor {:>6.0} MiB/s | {:>4.0}% of floor",
            kind.name(),
            census_time.as_secs_f64() * 1e3,
            rate(read_time),
            rate(f),
            100.0 * f.as_secs_f64() / read_time.as_secs_f64()
        ),
        None => println!(
            "{name:32} {:7} census {:>7.2} ms | read {:>6.0} MiB/s | floor n/a",
            kind.name(),
            census_time.as_secs_f64() * 1e3,
            rate(read_time)
        ),
    }
}

fn main() {
    let mut paths = shipped_dumps("sysrq");
    paths.push(qemu_elf("sysrq").unwrap());
    for v in [Derived::Elf, Derived::NoCompress, Derived::Reassembled] {
        paths.push(derived("sysrq", v).unwrap());
    }
    println!("median of {ROUNDS} rounds; reading every stored non-zero page in PFN order;");
    println!("floor: the raw decompressor on the same pages, or a memcpy of the whole file (uncompressed)");
    for p in &paths {
        bench(p);
    }
}

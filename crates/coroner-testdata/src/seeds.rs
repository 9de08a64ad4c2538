//! Fuzz seeds that tests generate: the committed files must be what the generator
//! makes today, so a change to a format's writer cannot leave stale seeds behind.

use crate::CountingAllocator;
use std::path::Path;

/// Asserts that every generated seed is committed in `dir` as generated; with
/// `UPDATE_SEEDS` set in the environment, writes them first.
pub fn assert_current(dir: &Path, generated: Vec<(&str, Vec<u8>)>) {
    let update = std::env::var_os("UPDATE_SEEDS").is_some();
    for (name, bytes) in generated {
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == bytes,
            "{} is stale: rerun with UPDATE_SEEDS=1",
            path.display()
        );
    }
}

/// Runs `f` on every committed seed of the dump fuzz targets (`fuzz/seeds/dump_*`):
/// no panic, and `heap` (the test's global allocator) peaks at most at twice the
/// input plus 8 MiB (the input copied once; indexes, caches and copy buffers).
/// Returns how many seeds ran and the sum of what `f` returned.
pub fn replay_dump_seeds(
    heap: &CountingAllocator,
    mut f: impl FnMut(&[u8]) -> u64,
) -> (usize, u64) {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let (mut replayed, mut total) = (0, 0);
    for target in ["dump_kdump", "dump_elf", "dump_flat", "dump_vmware"] {
        for entry in std::fs::read_dir(seeds.join(target)).expect("seed folder exists") {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let mark = heap.mark();
            total += f(&bytes);
            let peak = heap.peak_since(mark);
            assert!(
                peak < 2 * bytes.len() + (8 << 20),
                "{}: peak heap {peak}",
                path.display()
            );
            replayed += 1;
        }
    }
    (replayed, total)
}

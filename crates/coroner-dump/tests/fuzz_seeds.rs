//! Replays every fuzz seed (and any crash reproducer saved beside them) through the
//! fuzz targets' entry point: what once broke the parsers stays fixed.

use std::path::Path;

#[test]
fn every_dump_fuzz_seed_is_handled() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let mut replayed = 0;
    let mut pages = 0;
    for target in ["dump_kdump", "dump_elf", "dump_flat"] {
        for entry in std::fs::read_dir(seeds.join(target)).expect("seed folder exists") {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            pages += coroner_dump::fuzz_open_and_read(&bytes);
            replayed += 1;
        }
    }
    assert!(replayed >= 8, "only {replayed} seeds");
    // The seeds are real dump prefixes: they must open and yield pages.
    assert!(pages > 1000, "seeds yielded only {pages} pages");
}

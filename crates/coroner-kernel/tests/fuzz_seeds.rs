//! Replays the `dmesg` fuzz seeds (real logs recorded from the fixtures, and any
//! reproducers saved beside them) through the fuzz target's entry point, and checks
//! that a recorded seed still renders the same log as the dump it came from.

use coroner_dump::Dump;
use coroner_kernel::fuzzing::{fuzz_read_log, RecordingMemory, RegionMemory};
use coroner_kernel::{dmesg, Kernel};
use coroner_testdata::crash_dir;
use std::path::Path;

#[test]
fn every_dmesg_seed_is_handled() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/dmesg");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        fuzz_read_log(&bytes);
        replayed += 1;
    }
    assert!(replayed >= 2, "only {replayed} seeds in {}", dir.display());
}

#[test]
fn recorded_memory_replays_the_same_log() {
    let dump = crash_dir("mod-null").join("vmcore.mdf-d31-zlib");
    let kernel = Kernel::new(Dump::open(dump).unwrap()).unwrap();
    let recorder = RecordingMemory::new(&kernel);
    let live = dmesg::read_log(&recorder, kernel.vmcoreinfo()).unwrap();
    let seed = RegionMemory::encode(kernel.dump().vmcoreinfo().unwrap(), &recorder.into_pages());
    let (info, mem) = RegionMemory::decode(&seed);
    let replayed = dmesg::read_log(&mem, &info).unwrap();
    assert_eq!(replayed, live);
    // Cutting the seed short loses records, never panics.
    let cut = &seed[..seed.len() / 2];
    let (info, mem) = RegionMemory::decode(cut);
    if let Ok(partial) = dmesg::read_log(&mem, &info) {
        assert_ne!(partial, live);
    }
}

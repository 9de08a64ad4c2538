//! The `unwind` fuzz target's seeds are real unwinds: each CPU of each fixture,
//! recorded with every page it read. A recording replays to the trace the dump
//! gives, and so does the committed seed (rewrite them with
//! `CORONER_WRITE_SEEDS=1 cargo test -p coroner-program --test bt_seeds`).

use coroner_program::Program;
use coroner_testdata::{crash_dir, shipped_dumps, CRASHES};
use coroner_unwind::fuzzing::Scenario;
use std::path::Path;

#[test]
fn recorded_unwinds_replay_the_same_trace() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/unwind");
    let write = std::env::var_os("CORONER_WRITE_SEEDS").is_some();
    for crash in CRASHES {
        let dump = &shipped_dumps(crash)[0];
        assert!(dump.starts_with(crash_dir(crash)));
        let program = Program::open(dump, None).unwrap();
        let unwinder = program.stack_unwinder();
        for cpu in unwinder.cpus() {
            let (live, seed) = unwinder.record_cpu(cpu).unwrap();
            assert!(live.frames.len() > 5, "{crash} CPU {cpu}: {live:?}");
            let (scenario, pages) = Scenario::decode(&seed).unwrap();
            assert_eq!(scenario.unwind(&pages), live, "{crash} CPU {cpu}: replay");
            let path = seeds.join(format!("{crash}-cpu{cpu}"));
            if write {
                std::fs::create_dir_all(&seeds).unwrap();
                std::fs::write(&path, &seed).unwrap();
            }
            let committed = std::fs::read(&path).unwrap();
            let (scenario, pages) = Scenario::decode(&committed).unwrap();
            assert_eq!(scenario.unwind(&pages), live, "{}", path.display());
        }
    }
}

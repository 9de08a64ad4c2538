//! Replays the `unwind` fuzz seeds (real unwinds recorded from the fixtures, and
//! any reproducers saved beside them), then damages them the ways real dumps are
//! damaged: every stack word overwritten with zero, all-ones, its own address (a
//! loop), an address below it, or a return address; every truncation of the seed.
//! Each unwind must end, within the frame limit, without panicking.

use coroner_unwind::fuzzing::{fuzz_unwind, Scenario};
use coroner_unwind::{End, Start, MAX_FRAMES};
use std::path::Path;

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/unwind");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(path).unwrap())
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 6,
        "only {} seeds in {}",
        out.len(),
        dir.display()
    );
    out
}

#[test]
fn every_seed_is_handled_and_real_ones_unwind_fully() {
    for (name, bytes) in seeds() {
        fuzz_unwind(&bytes);
        if name.starts_with("regress") {
            continue;
        }
        let (scenario, pages) = Scenario::decode(&bytes).unwrap();
        let trace = scenario.unwind(&pages);
        assert!(trace.frames.len() > 5, "{name}: {trace:?}");
        assert!(
            matches!(trace.end, End::EndOfStack | End::UserMode),
            "{name}: {:?}",
            trace.end
        );
    }
}

#[test]
fn damaged_stacks_end_within_bounds() {
    for (name, bytes) in seeds()
        .into_iter()
        .filter(|(n, _)| !n.starts_with("regress"))
    {
        let (scenario, pages) = Scenario::decode(&bytes).unwrap();
        let Start::Registers(regs) = scenario.start else {
            continue;
        };
        let on_stack: Vec<u64> = pages
            .0
            .keys()
            .copied()
            .filter(|&p| scenario.stacks.find(p, 8).is_some())
            .collect();
        assert!(!on_stack.is_empty(), "{name}: no stack pages recorded");
        let mut damaged = 0;
        for page in on_stack {
            for word in (0..4096).step_by(8) {
                let at = page + word;
                for value in [0, u64::MAX, at, at - 8, regs.ip()] {
                    let mut pages = pages.clone();
                    let bytes = pages.0.get_mut(&page).unwrap();
                    bytes[word as usize..word as usize + 8].copy_from_slice(&value.to_le_bytes());
                    let trace = scenario.unwind(&pages);
                    assert!(
                        trace.frames.len() <= MAX_FRAMES,
                        "{name}: {at:#x} = {value:#x}"
                    );
                    damaged += 1;
                }
            }
        }
        assert!(damaged >= 512 * 5, "{name}");
    }
}

#[test]
fn every_truncation_is_handled() {
    for (_, bytes) in seeds() {
        for len in (0..bytes.len()).step_by(997) {
            fuzz_unwind(&bytes[..len]);
        }
    }
}

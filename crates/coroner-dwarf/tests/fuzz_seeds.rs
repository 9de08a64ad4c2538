//! Replays the seeds of the `dwarf` fuzz target (fuzz/seeds/dwarf/, reproducers
//! saved there too), then damages each in many deterministic ways — bytes
//! overwritten anywhere in the file, the file cut short — and requires every
//! variant to end in a result or an error, never a panic or a hang.

use std::path::PathBuf;

use coroner_dwarf::fuzzing::fuzz_dwarf;

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/dwarf");
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("fuzz/seeds/dwarf")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    seeds.sort();
    seeds
}

#[test]
fn seeds_read() {
    let seeds = seeds();
    assert!(seeds.len() >= 3);
    for (name, data) in &seeds {
        assert!(fuzz_dwarf(data) > 5, "{name} reads as types");
    }
}

#[test]
fn damaged_seeds_never_panic() {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    for (_, data) in seeds() {
        for len in (0..data.len()).step_by(97) {
            fuzz_dwarf(&data[..len]);
        }
        for _ in 0..1500 {
            let mut damaged = data.clone();
            for _ in 0..1 + next() % 4 {
                let at = next() as usize % damaged.len();
                damaged[at] = next() as u8;
            }
            fuzz_dwarf(&damaged);
        }
    }
}

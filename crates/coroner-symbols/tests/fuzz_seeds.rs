//! Replays the `kallsyms` fuzz seeds (fuzz/seeds/kallsyms/: the recipes below, and
//! any reproducers saved there) and the real Debian 5.10 case through the fuzz
//! target's entry point, with a counting allocator; and checks the generated seeds
//! are what their recipes make. `UPDATE_SEEDS=1 cargo test -p coroner-symbols --test
//! fuzz_seeds` rewrites them.

use coroner_symbols::fuzzing::{example, fuzz_kallsyms, Case, Layout};
use coroner_symbols::kallsyms;
use coroner_testdata::CountingAllocator;
use std::path::{Path, PathBuf};

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/kallsyms")
}

const FIVE_TEN: Layout = Layout {
    relative: true,
    absolute_percpu: true,
    wide_markers: false,
    seqs_of_names: false,
};

/// Small kernels in each form, laid out as scripts/kallsyms would.
fn generated() -> Vec<(&'static str, Vec<u8>)> {
    let case = |layout: Layout, functions| example(layout, functions).1.encode();
    vec![
        ("5.x-offsets", case(FIVE_TEN, 300)),
        (
            "4.x-offsets-wide-markers",
            case(
                Layout {
                    wide_markers: true,
                    ..FIVE_TEN
                },
                270,
            ),
        ),
        (
            "3.x-addresses",
            case(
                Layout {
                    relative: false,
                    absolute_percpu: false,
                    wide_markers: true,
                    ..FIVE_TEN
                },
                260,
            ),
        ),
        (
            "up-offsets",
            case(
                Layout {
                    absolute_percpu: false,
                    ..FIVE_TEN
                },
                250,
            ),
        ),
        (
            "6.1-seqs_of_names",
            case(
                Layout {
                    seqs_of_names: true,
                    ..FIVE_TEN
                },
                520,
            ),
        ),
    ]
}

#[test]
fn generated_seeds_are_current() {
    coroner_testdata::seeds::assert_current(&seed_dir(), generated());
}

#[test]
fn every_seed_is_handled_in_bounded_memory_and_generated_ones_are_found() {
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(seed_dir())
        .expect("seed folder exists")
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(path).unwrap())
        })
        .collect();
    let real =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/kallsyms-5.10.0-32-amd64.zst");
    let real = zstd::decode_all(std::fs::File::open(real).unwrap()).unwrap();
    seeds.push(("debian-5.10".into(), real));
    let generated: Vec<&str> = generated().iter().map(|(name, _)| *name).collect();
    for (name, bytes) in &seeds {
        let mark = HEAP.mark();
        let symbols = fuzz_kallsyms(bytes);
        let peak = HEAP.peak_since(mark);
        // Other tests here allocate meanwhile: room for them, not for a table's claims.
        assert!(
            peak < 40 * bytes.len() + (8 << 20),
            "{name}: peak heap {peak}"
        );
        if generated.contains(&name.as_str()) || name == "debian-5.10" {
            // Decoded where the case says, and found by the scan: twice the symbols.
            let case = Case::decode(bytes);
            let mut read = |addr: u64, buf: &mut [u8]| case.memory.read(addr, buf);
            let n = kallsyms::decode(&case.location, &mut read).unwrap().len();
            assert_eq!(symbols, 2 * n, "{name}");
        }
        for len in (0..bytes.len()).step_by(bytes.len() / 16 + 1) {
            fuzz_kallsyms(&bytes[..len]);
        }
    }
    assert!(seeds.len() > generated.len(), "{} seeds", seeds.len());
}

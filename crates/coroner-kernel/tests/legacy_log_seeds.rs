//! The `dmesg_legacy` fuzz seeds: generated pre-5.10 dumps reduced to the pages
//! the readers touch. Checks that the committed seeds are what the generator makes
//! now (`CORONER_UPDATE_SEEDS=1` rewrites them), that a seed replays to the same
//! log as its dump, and that every file in the folder (reproducers included) goes
//! through the fuzz target's body.

use coroner_dump::Dump;
use coroner_kernel::dmesg::{self, plain, structured, text};
use coroner_kernel::fuzzing::{RecordingMemory, RegionMemory};
use coroner_kernel::Kernel;
use coroner_testdata::legacy_log::{self, samples, Kernel as K, Log, Spec};
use std::path::{Path, PathBuf};

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/dmesg_legacy")
}

/// One dump of each kind the generator makes.
fn generated() -> Vec<(&'static str, Spec)> {
    let records = |kernel: K, buf_len, count| Log::Records {
        buf_len,
        records: samples::records(count, kernel.release(), kernel == K::V5_4),
    };
    let chars = |kernel: K, buf_len, earlier, lines| Log::Chars {
        buf_len,
        earlier,
        text: samples::text(lines, kernel.release()),
    };
    let spec = |kernel, log, boot_param_buffer| Spec {
        kernel,
        log,
        boot_param_buffer,
        phys_base: 0,
    };
    vec![
        (
            "4.18-wrapped",
            spec(K::V4_18, records(K::V4_18, 2048, 60), false),
        ),
        (
            "3.10-log",
            spec(K::V3_10, records(K::V3_10, 4096, 150), true),
        ),
        (
            "5.4-caller",
            spec(K::V5_4, records(K::V5_4, 2048, 120), false),
        ),
        (
            "2.6.32-plain",
            spec(K::V2_6_32, chars(K::V2_6_32, 2048, 0, 90), false),
        ),
        (
            "2.6.24-plain",
            spec(K::V2_6_24, chars(K::V2_6_24, 4096, 1 << 32, 10), true),
        ),
    ]
}

/// The fuzz target's body: both readers on the input, rendered.
fn fuzz_body(input: &[u8]) -> usize {
    let (info, mem) = RegionMemory::decode(input);
    [structured::read(&mem, &info), plain::read(&mem, &info)]
        .into_iter()
        .flatten()
        .map(|read| text::render(&read.log).len())
        .sum()
}

#[test]
fn seeds_are_the_generators_dumps_and_replay_their_logs() {
    let update = std::env::var_os("CORONER_UPDATE_SEEDS").is_some();
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("legacy-log-seeds");
    std::fs::create_dir_all(&work).unwrap();
    for (name, spec) in generated() {
        let path = work.join(format!("{name}.vmcore"));
        legacy_log::write(&path, &spec).unwrap();
        let kernel = Kernel::new(Dump::open(&path).unwrap()).unwrap();
        let recorder = RecordingMemory::new(&kernel);
        let live = dmesg::read_log(&recorder, kernel.vmcoreinfo()).unwrap();
        assert!(live.warnings.is_empty(), "{name}: {:?}", live.warnings);
        let seed =
            RegionMemory::encode(kernel.dump().vmcoreinfo().unwrap(), &recorder.into_pages());

        let (info, mem) = RegionMemory::decode(&seed);
        assert_eq!(
            dmesg::read_log(&mem, &info).unwrap(),
            live,
            "{name}: replay"
        );

        let file = seeds_dir().join(name);
        if update {
            std::fs::write(&file, &seed).unwrap();
        }
        let committed = std::fs::read(&file).unwrap_or_else(|e| {
            panic!("{}: {e} (CORONER_UPDATE_SEEDS=1 writes it)", file.display())
        });
        assert!(
            committed == seed,
            "{}: stale, the generator now makes another seed (CORONER_UPDATE_SEEDS=1 rewrites it)",
            file.display()
        );
    }
}

#[test]
fn every_seed_goes_through_the_fuzz_body() {
    let mut replayed = 0;
    for entry in std::fs::read_dir(seeds_dir()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        fuzz_body(&bytes);
        replayed += 1;
    }
    assert!(replayed >= generated().len(), "only {replayed} seeds");
}

//! Writes a `dmesg` fuzz seed from a real dump: its VMCOREINFO plus every page the
//! kernel-log reader touches, so the seed replays the real log in a few hundred KiB.
//!
//! usage: record_log_seed DUMP SEED_FILE

use coroner_dump::Dump;
use coroner_kernel::fuzzing::{RecordingMemory, RegionMemory};
use coroner_kernel::{dmesg, Kernel};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dump, seed] = args.as_slice() else {
        eprintln!("usage: record_log_seed DUMP SEED_FILE");
        std::process::exit(2);
    };
    let kernel = Kernel::new(Dump::open(dump).unwrap_or_else(|e| panic!("{e}"))).unwrap();
    let recorder = RecordingMemory::new(&kernel);
    let read = dmesg::read_log(&recorder, kernel.vmcoreinfo()).unwrap_or_else(|e| panic!("{e}"));
    let raw = kernel
        .dump()
        .vmcoreinfo()
        .expect("the dump has VMCOREINFO")
        .to_vec();
    let pages = recorder.into_pages();
    std::fs::write(seed, RegionMemory::encode(&raw, &pages)).expect("write seed");
    eprintln!("{} pages, {} warnings", pages.len(), read.warnings.len());
}

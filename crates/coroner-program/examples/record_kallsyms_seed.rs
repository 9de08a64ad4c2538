//! Writes a `kallsyms` fuzz case from a real dump: where its kallsyms tables are,
//! VMCOREINFO's `_stext`, and only the pages holding the tables and `linux_banner`,
//! so the scan and the decoder replay the real tables in a couple of MiB.
//!
//! usage: record_kallsyms_seed DUMP SEED_FILE

use coroner_kernel::Memory;
use coroner_program::{Program, SymbolSource};
use coroner_symbols::fuzzing::{Case, Regions};
use coroner_symbols::kallsyms::{Addresses, Location};

const PAGE: u64 = 4096;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dump, seed] = args.as_slice() else {
        eprintln!("usage: record_kallsyms_seed DUMP SEED_FILE");
        std::process::exit(2);
    };
    let program = Program::open(dump.as_ref(), None).unwrap_or_else(|e| panic!("{e}"));
    let location: Location = match program.symbol_source() {
        SymbolSource::KallsymsScanned(at) => *at,
        other => panic!("kallsyms not found by the scan ({other:?})"),
    };
    let first = match location.addresses {
        Addresses::Relative { offsets, .. } => offsets,
        Addresses::Absolute(addresses) => addresses,
    };
    let banner = program.address_of("linux_banner").expect("linux_banner");
    let mut memory = Regions::default();
    for (start, end) in [(first, location.token_index + 512), (banner, banner + 1)] {
        let start = start / PAGE * PAGE;
        let mut bytes = vec![0u8; (end.next_multiple_of(PAGE) - start) as usize];
        program
            .kernel()
            .read(start, &mut bytes)
            .unwrap_or_else(|e| panic!("{e}"));
        memory.0.insert(start, bytes);
    }
    let case = Case {
        text_start: program.kernel().vmcoreinfo().symbol("_stext"),
        location,
        memory,
    };
    std::fs::write(seed, case.encode()).expect("write seed");
    eprintln!("{location:x?}; {} symbols", program.symbols().len());
}

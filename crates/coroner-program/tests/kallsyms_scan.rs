//! The scan for kallsyms that serves kernels before 6.0, tried on the 6.1 fixtures
//! (kallsyms_seqs_of_names, big-symbol lengths): it must find exactly the tables
//! VMCOREINFO names, and decode the same symbols.

use coroner_program::{scan_kallsyms, Program, SymbolSource};
use coroner_symbols::kallsyms::{Addresses, Location};
use coroner_testdata::{all_variants, CRASHES};
use std::time::Instant;

#[test]
fn the_scan_finds_the_tables_vmcoreinfo_names() {
    for crash in CRASHES {
        for path in all_variants(crash) {
            let program = Program::open(&path, None).unwrap();
            assert_eq!(program.symbol_source(), &SymbolSource::Kallsyms);
            let info = program.kernel().vmcoreinfo();
            let sym = |name: &str| info.symbol(name).unwrap();
            let expected = Location {
                num_syms: sym("kallsyms_num_syms"),
                names: sym("kallsyms_names"),
                token_table: sym("kallsyms_token_table"),
                token_index: sym("kallsyms_token_index"),
                addresses: Addresses::Relative {
                    offsets: sym("kallsyms_offsets"),
                    base: sym("kallsyms_relative_base"),
                },
            };
            let started = Instant::now();
            let found = scan_kallsyms(program.kernel())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            eprintln!("{}: {:?}", path.display(), started.elapsed());
            assert_eq!(found.location, expected, "{}", path.display());
            // The table orders symbols at one address by name; kallsyms does not.
            let key = |s: &coroner_symbols::Symbol| (s.address, s.name.clone(), s.kind);
            let mut scanned: Vec<_> = found.symbols.iter().map(key).collect();
            scanned.sort();
            let mut table: Vec<_> = program
                .symbols()
                .iter()
                .filter(|s| s.module.is_none())
                .map(key)
                .collect();
            table.sort();
            assert!(scanned == table, "{}", path.display());
        }
    }
}

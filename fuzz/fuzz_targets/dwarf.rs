//! Fuzzes the DWARF reader: each input is an ELF file whose DWARF types, symbols
//! and lines are read and walked; seeds in fuzz/seeds/dwarf/.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    coroner_dwarf::fuzzing::fuzz_dwarf(data);
});

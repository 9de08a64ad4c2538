//! Fuzzes the kallsyms decoder and the scan that finds the tables by their shape,
//! over memory built from the input (layout in coroner_symbols::fuzzing); seeds in
//! fuzz/seeds/kallsyms/ are small kernels' tables in each form scripts/kallsyms
//! has written.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    coroner_symbols::fuzzing::fuzz_kallsyms(data);
});

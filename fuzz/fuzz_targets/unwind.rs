//! Fuzzes the ORC decoder, table lookups and the unwinder over recorded kernel
//! memory (layout in coroner_unwind::fuzzing); seeds in fuzz/seeds/unwind/ are
//! real unwinds recorded from the fixtures.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    coroner_unwind::fuzzing::fuzz_unwind(data);
});

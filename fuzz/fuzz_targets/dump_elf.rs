//! Fuzzes opening and reading a dump; seeds in fuzz/seeds/dump_elf/ steer it to the elf parser.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    coroner_dump::fuzz_open_and_read(data);
});

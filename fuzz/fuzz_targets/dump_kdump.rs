//! Fuzzes opening and reading a dump; seeds in fuzz/seeds/dump_kdump/ steer it to the kdump parser.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    coroner_dump::fuzz_open_and_read(data);
});

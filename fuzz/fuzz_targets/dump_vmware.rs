//! Fuzzes opening and reading a dump; seeds in fuzz/seeds/dump_vmware/ steer it to the VMware checkpoint parser.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    coroner_dump::fuzz_open_and_read(data);
});

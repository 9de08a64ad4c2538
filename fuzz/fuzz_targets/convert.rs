//! Fuzzes `convert`: any dump opened and written as an ELF vmcore (to nowhere);
//! run it on the dump seeds: `cargo fuzz run convert seeds/dump_elf seeds/dump_vmware ...`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    coroner_capture::convert::fuzz_convert(data);
});

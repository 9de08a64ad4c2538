//! Fuzzes the capture's input side: a vmcore's headers, notes, VMCOREINFO and
//! struct pages through the page filter and the kdump writer (output discarded).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    coroner_capture::fuzzing::fuzz_capture(data);
});

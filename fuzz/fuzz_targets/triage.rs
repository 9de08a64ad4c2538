//! Fuzzes crash triage of arbitrary log text, and both renderings of the result;
//! seeds in fuzz/seeds/triage/ are real kernel reports.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let report = coroner_triage::analyse(data);
    coroner_triage::text(&report);
    coroner_triage::markdown(&report);
});

//! Fuzzes VMCOREINFO parsing and the kernel-log readers over recorded kernel memory
//! (layout in coroner_kernel::fuzzing); seeds in fuzz/seeds/dmesg/ are real logs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    coroner_kernel::fuzzing::fuzz_read_log(data);
});

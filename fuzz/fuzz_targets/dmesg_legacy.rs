//! Fuzzes the pre-5.10 kernel-log readers, `struct printk_log` records and the plain
//! character buffer, over recorded kernel memory (layout in coroner_kernel::fuzzing).
//! Both readers see every input; seeds in fuzz/seeds/dmesg_legacy/ are dumps from
//! coroner-testdata's legacy_log generator (crates/coroner-kernel/tests/legacy_log_seeds.rs).
#![no_main]

use coroner_kernel::dmesg::{plain, structured, text};
use coroner_kernel::fuzzing::RegionMemory;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (info, mem) = RegionMemory::decode(data);
    for read in [structured::read(&mem, &info), plain::read(&mem, &info)]
        .into_iter()
        .flatten()
    {
        std::hint::black_box(text::render(&read.log));
    }
});

//! Fuzzes the BTF decoder and everything that walks its types: each input is tried
//! as a kernel's BTF and as a module's split BTF on the fixture kernel's (shipped
//! in crates/coroner-types/tests/data); seeds in fuzz/seeds/btf/.
#![no_main]

use std::sync::{Arc, LazyLock};

use coroner_types::Btf;

static BASE: LazyLock<Arc<Btf>> = LazyLock::new(|| {
    let packed: &[u8] =
        include_bytes!("../../crates/coroner-types/tests/data/vmlinux-6.1.0-56-amd64.btf.zst");
    let bytes = zstd::decode_all(packed).expect("the shipped kernel BTF unpacks");
    Arc::new(Btf::parse(&bytes).expect("the shipped kernel BTF decodes"))
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    coroner_types::fuzzing::fuzz_btf(data, &BASE);
});

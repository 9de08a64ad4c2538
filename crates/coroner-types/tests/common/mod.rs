//! The fixture kernel's BTF, shipped with the tests (see tests/data/README.md).
#![allow(dead_code)] // each test binary uses part of this

pub mod every_kind;
pub mod writer;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use coroner_types::Btf;

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The 6.1 kernel's BTF, as the dump holds it.
pub fn vmlinux_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let packed = std::fs::read(data_dir().join("vmlinux-6.1.0-56-amd64.btf.zst")).unwrap();
        zstd::decode_all(packed.as_slice()).unwrap()
    })
}

pub fn vmlinux() -> Arc<Btf> {
    static BTF: OnceLock<Arc<Btf>> = OnceLock::new();
    BTF.get_or_init(|| Arc::new(Btf::parse(vmlinux_bytes()).unwrap()))
        .clone()
}

pub fn module_bytes() -> Vec<u8> {
    std::fs::read(data_dir().join("qemu_fw_cfg-6.1.0-56-amd64.btf")).unwrap()
}

/// The split BTF of the module `kvm`, on the kernel's.
pub fn kvm() -> Btf {
    let packed = std::fs::read(data_dir().join("kvm-6.1.0-56-amd64.btf.zst")).unwrap();
    Btf::parse_split(&vmlinux(), &zstd::decode_all(packed.as_slice()).unwrap()).unwrap()
}

/// The split BTF of the module `qemu_fw_cfg`, on the kernel's.
pub fn module() -> Btf {
    Btf::parse_split(&vmlinux(), &module_bytes()).unwrap()
}

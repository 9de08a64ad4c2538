//! The fp-nobtf vmlinux, mapped once per test binary, and its DWARF types;
//! the oracles (gdb, binutils).
#![allow(dead_code)]

pub mod gdb;

use std::sync::OnceLock;

use coroner_dwarf::{Debuginfo, DwarfTypes};

pub fn vmlinux() -> &'static [u8] {
    static MAP: OnceLock<memmap2::Mmap> = OnceLock::new();
    MAP.get_or_init(|| {
        let file = std::fs::File::open(coroner_testdata::fp_vmlinux()).expect("open vmlinux");
        // SAFETY: the cached file is only ever replaced by rename, never truncated.
        unsafe { memmap2::Mmap::map(&file) }.expect("map vmlinux")
    })
}

pub fn types() -> &'static DwarfTypes {
    static TYPES: OnceLock<DwarfTypes> = OnceLock::new();
    TYPES.get_or_init(|| {
        Debuginfo::parse(vmlinux())
            .expect("parse vmlinux")
            .types()
            .expect("read DWARF types")
    })
}

/// Runs a tool that serves as the oracle, installed with apt-get first when it is
/// missing (as the other tests install theirs); when that cannot be done the test
/// fails, saying how to install it.
pub fn oracle(program: &str, package: &str, args: &[&str]) -> String {
    if let Err(why) = coroner_testdata::setup::apt_install(&[program], &[package]) {
        panic!("{program} is the oracle of this test: {why}");
    }
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} is the oracle of this test and could not run ({e}): apt-get install {package}")
        });
    assert!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("oracle output is UTF-8")
}

/// Kernel structs and unions the oracle tests compare, each a different shape
/// (bitfields, anonymous members, unions, big and small).
pub const KERNEL_TYPES: [&str; 13] = [
    "struct task_struct",
    "struct mm_struct",
    "struct page",
    "struct list_head",
    "struct file",
    "struct inode",
    "struct module",
    "struct rq",
    "struct kmem_cache",
    "struct sk_buff",
    "struct zone",
    "union fpregs_state",
    "union bpf_attr",
];

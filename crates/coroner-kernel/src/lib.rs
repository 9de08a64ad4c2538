//! The kernel's view of a dump's physical memory: VMCOREINFO, and (built on it)
//! address translation and kernel objects. Independent of the container format.

pub mod dmesg;
pub mod memory;
pub mod vmcoreinfo;

pub use memory::{KernelMemory, VirtError};
pub use vmcoreinfo::VmcoreInfo;

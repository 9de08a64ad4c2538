//! The kernel's view of a dump's physical memory: VMCOREINFO, and (built on it)
//! address translation and kernel objects. Independent of the container format.

pub mod vmcoreinfo;

pub use vmcoreinfo::VmcoreInfo;

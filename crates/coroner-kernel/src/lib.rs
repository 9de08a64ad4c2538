//! The kernel's view of a dump's physical memory: VMCOREINFO, and (built on it)
//! address translation and kernel objects. Independent of the container format.

pub mod arch;
pub mod dmesg;
#[doc(hidden)]
pub mod fuzzing;
mod kernel;
pub mod memory;
pub mod vmcoreinfo;

pub use kernel::{Kernel, KernelError};
pub use memory::{MemError, Memory, VirtError};
pub use vmcoreinfo::VmcoreInfo;

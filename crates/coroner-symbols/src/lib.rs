//! Kernel symbol formats, decoded from bytes: the kallsyms tables a kernel keeps in
//! its own memory and `System.map` text (types are `coroner-types`, ORC is
//! `coroner-unwind`). Nothing here knows how memory is read: callers pass a read
//! function, so the same decoders serve dumps, live kernels and tests.

#[doc(hidden)]
pub mod fuzzing;
pub mod kallsyms;
pub mod kallsyms_scan;
pub mod symbols;
pub mod system_map;

pub use symbols::{Symbol, SymbolTable};

pub use coroner_mem::MemError;

/// Reads `buf.len()` bytes of kernel virtual memory at an address.
pub type ReadFn<'a> = &'a mut dyn FnMut(u64, &mut [u8]) -> Result<(), MemError>;

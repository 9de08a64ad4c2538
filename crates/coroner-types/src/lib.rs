//! Kernel types: a type model independent of where types come from, the BTF
//! decoder that fills it (from vmlinux, from a dump's `__start_BTF..__stop_BTF`,
//! and split BTF of modules), and crash's `struct -o` rendering of it.
//!
//! ```text
//! BTF bytes ──► btf::Btf ──► TypesBuilder ──► Types ──► layout (sizes, members by path)
//!  (DWARF later) ─────────────────┘                └──► gdb / crash (C declarations, struct -o)
//! ```
//!
//! ```
//! use std::sync::Arc;
//! use coroner_types::{crash, Btf, BtfError};
//!
//! fn show(kernel_btf: &[u8], module_btf: &[u8]) -> Result<(), BtfError> {
//!     let kernel = Arc::new(Btf::parse(kernel_btf)?);
//!     let types = kernel.types();
//!     let pid = types.offset_of("task_struct", "pid");
//!     let state = types.member(types.find("task_struct").unwrap(), "__state");
//!     let page = types.find("struct page").unwrap();
//!     print!("{}", crash::struct_offsets(types, page, crash::Radix::Decimal).unwrap());
//!     // A module's types see the kernel's.
//!     let module = Btf::parse_split(&kernel, module_btf)?;
//!     let _ = (pid, state, module.types().find("list_head"));
//!     Ok(())
//! }
//! ```

pub mod btf;
mod builder;
pub mod crash;
pub mod fuzzing;
pub mod gdb;
mod index;
mod layout;
mod model;
mod text;

pub use btf::{Btf, BtfDamage, BtfError};
pub use builder::{ModelError, TypesBuilder, MAX_NESTING};
pub use layout::{Field, Found};
pub use model::{
    Array, Composite, Enum, Enumerator, Float, Forward, ForwardKind, Function, Int, IntEncoding,
    Member, Name, Namespace, Param, Qualifier, Type, TypeId, Typedef, Types,
};

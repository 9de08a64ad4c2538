//! Kernel types: a type model independent of where types come from, the BTF
//! decoder that fills it (from vmlinux, from a dump's `__start_BTF..__stop_BTF`,
//! and split BTF of modules), and crash's `struct -o` rendering of it.
//!
//! ```text
//! BTF bytes ──► btf::Btf ──► TypesBuilder ──► Types ──► layout (sizes, members by path)
//!  (DWARF later) ─────────────────┘                └──► gdb / crash (C declarations, struct -o)
//! ```

pub mod btf;
mod builder;
pub mod crash;
pub mod fuzzing;
pub mod gdb;
mod layout;
mod model;
mod text;

pub use btf::{Btf, BtfError};
pub use builder::{ModelError, TypesBuilder, MAX_NESTING};
pub use layout::{Field, Found};
pub use model::{
    Array, Composite, Enum, Enumerator, Float, Forward, ForwardKind, Function, Int, IntEncoding,
    Member, Name, Namespace, Param, Qualifier, Type, TypeId, Typedef, Types,
};

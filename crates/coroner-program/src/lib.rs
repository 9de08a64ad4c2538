//! The crashed kernel as a program, the one object model every analysis command and
//! the triage pipeline share: [`Program`] (memory, symbols and, as they land, types,
//! tasks and stacks), opened from a dump with no debuginfo.

mod error;
pub mod expr;
mod list;
mod module_types;
mod modules;
mod object;
mod percpu;
mod program;
mod stack;
mod symbols;
mod system;
mod tasks;
mod types;
mod value;
mod vmlinux;

pub use error::AnalysisError;
pub use modules::Module;
pub use object::{Object, ObjectError, MAX_VALUES};
pub use program::{FoundType, OpenOptions, Program, ProgramError};
pub use stack::{
    End, FoundBy, Ist, Registers, SavedRegs, StackFrame, StackKind, StackRange, StackTrace,
    StackUnwinder,
};
pub use symbols::{scan_kallsyms, SymbolSource};
pub use system::SystemInfo;
pub use tasks::{Task, TasksRead};
pub use value::{Field, PointedString, Pointer, Text, Value, PRINT_MAX};
pub use vmlinux::Vmlinux;

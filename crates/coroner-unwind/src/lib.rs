//! x86-64 kernel stack unwinding from kernel memory alone: the ORC tables the
//! kernel carries (vmlinux's and each module's), frame pointers where ORC has no
//! entry, register frames saved by exception, interrupt and syscall entry, and the
//! switches between task, IRQ and exception stacks.
//!
//! Nothing here knows dumps or symbols: callers say where the tables, code and
//! stacks are ([`Code`], [`Stacks`]) and give a [`Memory`] to read through.

pub mod code;
pub mod entry;
#[doc(hidden)]
pub mod fuzzing;
pub mod regs;
pub mod stacks;
pub mod table;
pub mod unwind;

pub use code::{Code, Functions, Lookup, LookupError, ModuleCode};
pub use coroner_mem::{MemError, Memory};
pub use entry::{OrcEntry, OrcFormat, OrcVersion};
pub use regs::Registers;
pub use stacks::{Ist, StackKind, StackRange, Stacks};
pub use table::{FastLookup, OrcTable, TableError};
pub use unwind::{End, FoundBy, Frame, SavedRegs, Start, SwitchFrame, Trace, Unwinder, MAX_FRAMES};

//! Where kernel code lives and which ORC table describes it: vmlinux text (with
//! its table and fast lookup), and each module's text (with its own table when
//! known).

use crate::entry::{OrcEntry, OrcFormat};
use crate::table::OrcTable;
use coroner_mem::{MemError, Memory};
use std::ops::Range;

/// A loaded module's code and, when known, its ORC table (`mod->arch`).
#[derive(Debug, Clone)]
pub struct ModuleCode {
    pub name: String,
    pub text: Range<u64>,
    pub orc: Option<OrcTable>,
}

/// The kernel's code, as the unwinder needs it.
#[derive(Debug, Clone)]
pub struct Code {
    pub format: OrcFormat,
    /// vmlinux text: `_stext.._etext` and `_sinittext.._einittext`.
    pub kernel_text: Vec<Range<u64>>,
    /// vmlinux's ORC table; `None` for a kernel built without ORC.
    pub kernel_orc: Option<OrcTable>,
    pub modules: Vec<ModuleCode>,
}

/// Where functions start (from a symbol table): how the unwinder finds the
/// caller of code that has no unwind data.
pub trait Functions {
    /// The start of the function holding `ip`.
    fn start_of(&self, ip: u64) -> Option<u64>;
}

/// Sorted function start addresses.
impl Functions for Vec<u64> {
    fn start_of(&self, ip: u64) -> Option<u64> {
        let i = self.partition_point(|&s| s <= ip);
        self.get(i.checked_sub(1)?).copied()
    }
}

/// What the ORC data says about a code address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Found(OrcEntry),
    /// Code with no ORC table covering it (a module without one, generated code).
    NoTable,
}

/// The ORC data for an address could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupError {
    pub ip: u64,
    pub source: MemError,
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ORC data for {:#x}: {}", self.ip, self.source)
    }
}

impl std::error::Error for LookupError {}

impl Code {
    /// Kernel or module code.
    pub fn is_text(&self, addr: u64) -> bool {
        self.kernel_text.iter().any(|r| r.contains(&addr))
            || self.modules.iter().any(|m| m.text.contains(&addr))
    }

    /// The ORC entry for a code address; read errors say which table failed.
    pub fn lookup(&self, mem: &dyn Memory, ip: u64) -> Result<Lookup, LookupError> {
        let table = if self.kernel_text.iter().any(|r| r.contains(&ip)) {
            self.kernel_orc.as_ref()
        } else {
            self.modules
                .iter()
                .find(|m| m.text.contains(&ip))
                .and_then(|m| m.orc.as_ref())
        };
        let Some(table) = table else {
            return Ok(Lookup::NoTable);
        };
        let read_err = |source| LookupError { ip, source };
        match table.find(mem, ip).map_err(read_err)? {
            Some(i) => Ok(Lookup::Found(
                table.entry(mem, i, self.format.version).map_err(read_err)?,
            )),
            None => Ok(Lookup::NoTable),
        }
    }
}

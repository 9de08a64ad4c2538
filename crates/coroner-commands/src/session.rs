//! What the commands run on: one input and what has been opened of it.

use crate::error::CommandError;
use coroner_dump::{Dump, Format};
use coroner_kernel::Kernel;
use coroner_program::{OpenOptions, Program};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// What the input was found to be, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A dump in a container coroner reads.
    Dump,
    /// Anything else: taken as kernel log text (for `triage`).
    Log,
    /// Standard input (`-`): always log text.
    Stdin,
}

/// Finds the vmlinux of a build-id (lower-case hex).
pub type VmlinuxFinder = Box<dyn Fn(&str) -> Option<PathBuf> + Send + Sync>;

/// One input and its program, opened once and shared by every command run on it.
/// Dropping it frees the program; a one-shot front end may exit without dropping
/// (the OS takes back 200k symbol and type allocations faster than freeing them).
pub struct Session {
    path: PathBuf,
    input: Input,
    /// A System.map to use instead of the kallsyms in the dump.
    system_map: Option<PathBuf>,
    /// A vmlinux with DWARF, for the types of a dump without BTF.
    vmlinux: Option<PathBuf>,
    /// Where to look for the vmlinux of a build-id when none was given (a
    /// debuginfo store; the front end decides which).
    finder: Option<VmlinuxFinder>,
    program: OnceLock<Program>,
    /// Held while the program opens, so that two lines arriving together (the
    /// shell opens it in the background while the first line runs) open it once.
    opening: Mutex<()>,
    /// The task `set` chose, which `bt` and `set` default to (crash's context).
    context: Mutex<Option<u64>>,
    /// gdb's value-history numbers given out so far (`p` prints `$N = `).
    values: AtomicU32,
}

impl Session {
    /// Takes `path` (`-`: standard input) and decides what it is; opens nothing yet.
    pub fn new(path: impl Into<PathBuf>, system_map: Option<PathBuf>) -> Session {
        let path = path.into();
        let input = if path.as_os_str() == "-" {
            Input::Stdin
        } else if looks_like_dump(&path) {
            Input::Dump
        } else {
            Input::Log
        };
        Session {
            path,
            input,
            system_map,
            vmlinux: None,
            finder: None,
            program: OnceLock::new(),
            opening: Mutex::new(()),
            context: Mutex::new(None),
            values: AtomicU32::new(0),
        }
    }

    /// Uses `vmlinux`'s DWARF for the types a dump without BTF lacks.
    pub fn with_vmlinux(mut self, vmlinux: Option<PathBuf>) -> Session {
        self.vmlinux = vmlinux;
        self
    }

    /// Looks a vmlinux up by the dump's build-id (VMCOREINFO `BUILD-ID`) when
    /// none is given.
    pub fn with_vmlinux_finder(mut self, finder: VmlinuxFinder) -> Session {
        self.finder = Some(finder);
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn input(&self) -> Input {
        self.input
    }

    /// The context task (`set`), if one was chosen.
    pub fn context(&self) -> Option<u64> {
        *self.context.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_context(&self, task: u64) {
        *self.context.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }

    /// The next value-history number (`$1` first), without taking it.
    pub fn next_value_number(&self) -> u32 {
        self.values.load(Ordering::Relaxed) + 1
    }

    /// Takes `count` value-history numbers.
    pub fn take_value_numbers(&self, count: u32) {
        self.values.fetch_add(count, Ordering::Relaxed);
    }

    /// The context task: the one `set` chose, else the task that panicked.
    pub fn context_or_panic(&self) -> Option<u64> {
        self.context()
            .or_else(|| coroner_report::tasks::panic_task(self.program().ok()?))
    }

    /// The dump as a program (symbols, types, modules), opened on first use.
    pub fn program(&self) -> Result<&Program, CommandError> {
        if let Some(program) = self.program.get() {
            return Ok(program);
        }
        let _opening = self.opening.lock().unwrap_or_else(|p| p.into_inner());
        // Whoever held the lock before may have opened it.
        if let Some(program) = self.program.get() {
            return Ok(program);
        }
        self.require_dump()?;
        let found = match (&self.vmlinux, &self.finder) {
            (None, Some(finder)) => self.with_kernel(|kernel| {
                let id = kernel.vmcoreinfo().build_id()?;
                finder(id)
            })?,
            _ => None,
        };
        let options = OpenOptions {
            system_map: self.system_map.as_deref(),
            vmlinux: self.vmlinux.as_deref().or(found.as_deref()),
        };
        let program = Program::open_with(&self.path, &options)?;
        Ok(self.program.get_or_init(|| program))
    }

    /// Runs `f` on the kernel view: the program's when it is open, else a kernel
    /// opened for this call alone (the log and `info` need no symbols, and opening
    /// them is most of what a program costs).
    pub fn with_kernel<T>(&self, f: impl FnOnce(&Kernel) -> T) -> Result<T, CommandError> {
        if let Some(program) = self.program.get() {
            return Ok(f(program.kernel()));
        }
        self.require_dump()?;
        let kernel = Kernel::new(Dump::open(&self.path)?)?;
        Ok(f(&kernel))
    }

    /// The input's bytes as log text (standard input is read once, here).
    pub fn log_text(&self) -> Result<Vec<u8>, CommandError> {
        let mut text = Vec::new();
        match self.input {
            Input::Stdin => std::io::stdin()
                .read_to_end(&mut text)
                .map(|_| text)
                .map_err(|e| CommandError::Input(format!("standard input: {e}"))),
            _ => std::fs::read(&self.path)
                .map_err(|e| CommandError::Input(format!("{}: {e}", self.path.display()))),
        }
    }

    fn require_dump(&self) -> Result<(), CommandError> {
        match self.input {
            Input::Dump => Ok(()),
            // Opening says best why a file is no dump (missing, unreadable, ...).
            Input::Log => Dump::open(&self.path).map(drop).map_err(CommandError::from),
            Input::Stdin => Err(CommandError::Input(
                "standard input is read as a kernel log; this command needs a dump".into(),
            )),
        }
    }
}

/// Dump magic numbers (or a VMware `.vmem`, known by name): such a file that does
/// not open is a damaged dump, whose error says more than triaging its bytes as text
/// would.
fn looks_like_dump(path: &Path) -> bool {
    Format::sniff_file(path).is_some()
}

//! Each command's arguments (without the input's path) and how it runs: parse,
//! ask coroner-report for the report, pick the exit status.

use crate::command::{Output, Query};
use crate::error::CommandError;
use crate::session::{Input, Session};
use coroner_report::backtrace::{self, BtQuery, Selection};
use coroner_report::memory::{self, RdQuery};
use coroner_report::percpu_struct;
use coroner_report::structure::{self, StructError, StructQuery};
use coroner_report::{
    files, hang, info, log, log_time, modules, symbols, system, tasks, triage, vm, Stage, Warning,
};
use coroner_triage::KnowledgeBase;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Info {}

impl Query for Info {
    const NAME: &'static str = "info";
    const ABOUT: &'static str = "Say what a dump is: format, kernel, memory, pages.";
    const NEEDS_PROGRAM: bool = false;

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let report = session.with_kernel(|kernel| info::info(kernel.dump()))?;
        Ok(Output::found(report))
    }
}

#[derive(clap::Args)]
pub struct Dmesg {
    /// Prefix each line with the caller id (`[     T42] `), as makedumpfile 1.7.5
    /// and later do when the kernel records it; 1.7.2's output has no prefix.
    #[arg(long)]
    caller: bool,
    /// Each record's time of day instead of its timestamp (crash's `log -T`).
    #[arg(short = 'T', conflicts_with = "caller")]
    time_of_day: bool,
}

impl Query for Dmesg {
    const NAME: &'static str = "dmesg";
    const ALIASES: &'static [&'static str] = &["log"];
    const ABOUT: &'static str =
        "Print the kernel log (as `makedumpfile --dump-dmesg`), no debuginfo needed.";
    // Only for -T (the uptime and clock come from kernel data): the log alone
    // opens just the kernel view.
    const NEEDS_PROGRAM: bool = true;

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        if self.time_of_day {
            let report = log_time::timed_log(session.program()?)
                .map_err(|e| CommandError::Input(e.to_string()))?;
            return Ok(Output::found(report));
        }
        let report = session
            .with_kernel(|kernel| log::log(kernel, self.caller))?
            .map_err(|e| {
                CommandError::Input(format!(
                    "{}: cannot read the kernel log: {e}",
                    session.path().display()
                ))
            })?;
        Ok(Output::found(report))
    }
}

#[derive(clap::Args)]
pub struct Sym {
    /// Addresses (hex) or symbol names (`name` or `name+offset`).
    #[arg(required = true)]
    targets: Vec<String>,
}

impl Query for Sym {
    const NAME: &'static str = "sym";
    const ABOUT: &'static str = "Look up symbols by address or name (kallsyms from the dump).";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let report = symbols::sym(session.program()?, &self.targets);
        let found = report.misses.is_empty();
        Ok(Output::with_status(report, found))
    }
}

#[derive(clap::Args)]
pub struct Rd {
    /// Kernel virtual address (hex), symbol, or `symbol+offset`.
    address: String,
    /// How many words to show.
    #[arg(default_value_t = 1)]
    count: u64,
    /// Word size in bits: 8, 16, 32 or 64.
    #[arg(long, default_value_t = 64, value_parser = word_bits)]
    size: u32,
    /// The address is physical.
    #[arg(short, long)]
    physical: bool,
}

fn word_bits(text: &str) -> Result<u32, String> {
    match text {
        "8" => Ok(8),
        "16" => Ok(16),
        "32" => Ok(32),
        "64" => Ok(64),
        _ => Err("word size is 8, 16, 32 or 64".into()),
    }
}

impl Query for Rd {
    const NAME: &'static str = "rd";
    const ABOUT: &'static str = "Show memory as hex words and ASCII, like crash's `rd`.";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let program = session.program()?;
        let address = symbols::resolve(program, &self.address)
            .map_err(|e| CommandError::Input(e.to_string()))?;
        let query = RdQuery {
            address,
            count: self.count,
            word_bytes: self.size / 8,
            physical: self.physical,
        };
        let report = memory::rd(program, query).map_err(|e| CommandError::Input(e.to_string()))?;
        Ok(Output::found(report))
    }
}

#[derive(clap::Args)]
pub struct Ps {}

impl Query for Ps {
    const NAME: &'static str = "ps";
    const ABOUT: &'static str = "List every task, like crash's `ps` (from BTF; no vmlinux needed).";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let report = tasks::ps(session.program()?)?;
        Ok(Output::found(report))
    }
}

#[derive(clap::Args)]
pub struct Mod {}

impl Query for Mod {
    const NAME: &'static str = "mod";
    const ABOUT: &'static str = "List loaded modules, like crash's `mod`.";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        Ok(Output::found(modules::modules(session.program()?)))
    }
}

#[derive(clap::Args)]
pub struct Sys {}

impl Query for Sys {
    const NAME: &'static str = "sys";
    const ABOUT: &'static str =
        "System summary, like crash's `sys` (kernel data read with kallsyms and BTF).";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        Ok(Output::found(system::sys(session.program()?)))
    }
}

#[derive(clap::Args)]
pub struct Triage {
    /// A directory of knowledge-base rules (`*.toml`) to use beside the built-in
    /// ones; may be given several times.
    #[arg(long, value_name = "DIR")]
    kb: Vec<PathBuf>,
}

impl Query for Triage {
    const NAME: &'static str = "triage";
    const ABOUT: &'static str =
        "Say what crashed, where, and whether it is a known issue (from a dump or a log).";
    const NEEDS_PROGRAM: bool = false;

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let mut kb = KnowledgeBase::builtin().map_err(|e| CommandError::Input(e.to_string()))?;
        for dir in &self.kb {
            kb.load_dir(dir)
                .map_err(|e| CommandError::Input(e.to_string()))?;
        }
        let name = session.path().display().to_string();
        let report = match session.input() {
            Input::Dump => {
                let mut report = session
                    .with_kernel(|kernel| triage::from_kernel(&name, kernel, &kb))?
                    .map_err(|e| {
                        CommandError::Input(format!("{name}: cannot read the kernel log: {e}"))
                    })?;
                // No crash in the log: say what the machine was stuck on, if
                // the dump's tasks and stacks can be read.
                if !report.report.crashed {
                    if let Ok(program) = session.program() {
                        report.add_hang(hang::hang(program));
                    }
                }
                report
            }
            Input::Log | Input::Stdin => triage::from_text(&name, &session.log_text()?, &kb),
        };
        let found = report.found();
        Ok(Output::with_status(report, found))
    }
}

#[derive(clap::Args)]
pub struct Bt {
    /// A task (PID, or task_struct address in hex); default: the panic task.
    task: Option<String>,
    /// The active task of every CPU.
    #[arg(short = 'a', long = "all", conflicts_with = "task")]
    all: bool,
    /// Also the stack words of each frame.
    #[arg(short = 'f', long = "full")]
    full: bool,
    /// The source file and line of each frame, and the calls inlined there
    /// (needs --vmlinux).
    #[arg(short = 'l', long = "lines")]
    lines: bool,
}

impl Query for Bt {
    const NAME: &'static str = "bt";
    const ABOUT: &'static str =
        "Backtraces, like crash's `bt` (ORC unwind data from the dump; no vmlinux needed).";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let select = match (self.task, self.all, session.context()) {
            (Some(task), _, _) => Selection::Task(task),
            (None, true, _) => Selection::AllCpus,
            (None, false, Some(task)) => Selection::TaskAt(task),
            (None, false, None) => Selection::Panic,
        };
        backtraces(session, select, self.full, self.lines)
    }
}

/// `bt` and `foreach bt`: the stacks `select` picks, with `-f`'s words if `words`,
/// `-l`'s source lines if `lines`.
fn backtraces(
    session: &Session,
    select: Selection,
    words: bool,
    lines: bool,
) -> Result<Output, CommandError> {
    let query = BtQuery { select, words };
    let program = session.program()?;
    let mut report =
        backtrace::bt(program, &query).map_err(|e| CommandError::Input(e.to_string()))?;
    report.show_lines = lines;
    if lines && program.vmlinux().is_none() {
        report.warnings.push(Warning::new(
            Stage::Debuginfo,
            "bt -l: source lines need the kernel's vmlinux with DWARF (--vmlinux)",
        ));
    }
    Ok(Output::found(report))
}

#[derive(clap::Args)]
pub struct Set {
    /// The task (PID, or task_struct address in hex) later commands default to;
    /// without it, the context task (at first, the panic task).
    task: Option<String>,
}

impl Query for Set {
    const NAME: &'static str = "set";
    const ABOUT: &'static str =
        "Set or show the context task that bt defaults to, like crash's `set`.";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let program = session.program()?;
        // Gathering the CPUs' stacks to find it is not free: once.
        let panic = tasks::panic_task(program);
        let task = match &self.task {
            Some(wanted) => tasks::find_task(program, wanted)
                .ok_or_else(|| CommandError::Input(format!("{wanted}: no such task")))?,
            None => session
                .context()
                .or(panic)
                .ok_or_else(|| CommandError::Input("no task was panicking: set PID".into()))?,
        };
        let report = tasks::context(program, task, panic)?;
        session.set_context(task);
        Ok(Output::found(report))
    }
}

#[derive(clap::Args)]
pub struct Foreach {
    /// What to run for every task: `bt`, `files`, `vm`, or `ps` (one line a
    /// task, under one header: the same as `ps`).
    #[arg(value_parser = ["bt", "files", "ps", "vm"])]
    command: String,
    /// Also the stack words of each frame (`bt -f`).
    #[arg(short = 'f', long = "full")]
    full: bool,
}

impl Query for Foreach {
    const NAME: &'static str = "foreach";
    const ABOUT: &'static str =
        "Run bt (or files, vm, ps) for every task, like crash's `foreach bt`.";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        if self.command == "ps" {
            return Ok(Output::found(tasks::ps(session.program()?)?));
        }
        if self.command == "files" {
            let program = session.program()?;
            let all: Vec<_> = (program.tasks()?.into_iter().enumerate())
                .map(|(i, t)| {
                    let spacing = files::Spacing {
                        blank_before: i > 0,
                        blank_after: false,
                    };
                    (t, spacing)
                })
                .collect();
            return Ok(Output::found(files::files(program, &all)?));
        }
        if self.command == "vm" {
            let program = session.program()?;
            let all = program.tasks()?;
            return Ok(Output::found(vm::vm(program, &all, &all)?));
        }
        backtraces(session, Selection::AllTasks, self.full, false)
    }
}

#[derive(clap::Args)]
pub struct Struct {
    /// A struct or union (`task_struct`, `struct page`, a typedef such as
    /// `cpumask_t`), optionally with members: `task_struct.pid`,
    /// `task_struct.comm,pid`, `task_struct.se.on_rq` (paths need ADDR).
    target: String,
    /// Where the object is: hex, a symbol, or `symbol+offset`.
    address: Option<String>,
    /// Show member offsets (with ADDR: member addresses) instead of values.
    #[arg(short = 'o')]
    offsets: bool,
    /// Numbers in hex (offsets, sizes, integer values).
    #[arg(short = 'x')]
    hex: bool,
    /// Look the type up in this module's BTF (when several modules define it).
    #[arg(short = 'm', long = "module", value_name = "MODULE")]
    module: Option<String>,
}

impl Query for Struct {
    const NAME: &'static str = "struct";
    const ALIASES: &'static [&'static str] = &["union"];
    const ABOUT: &'static str = "A struct or union: its declaration, member offsets (-o), or its value at ADDR, like crash's `struct` (from BTF).";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let query = StructQuery {
            target: self.target,
            address: self.address,
            offsets: self.offsets,
            hex: self.hex,
            module: self.module,
        };
        let program = session.program()?;
        // `SYMBOL:CPUS`: each CPU's instance of a per-CPU variable.
        let context_cpu = || {
            session
                .context_or_panic()
                .and_then(|t| program.task_at(t).ok())
                .map(|t| t.cpu)
        };
        let per_cpu = query
            .address
            .as_deref()
            .is_some_and(|a| a.contains(':'))
            .then(|| percpu_struct::per_cpu_structure(program, &query, context_cpu()))
            .flatten();
        let result = match per_cpu {
            Some(Ok(report)) => return Ok(Output::found(report)),
            Some(Err(e)) => Err(e),
            None => structure::structure(program, &query),
        };
        match result {
            Ok(report) => Ok(Output::found(report)),
            Err(StructError::Lookup(message)) => Err(CommandError::NotFound {
                command: "struct",
                message,
            }),
            Err(StructError::Failed(message)) => {
                Err(CommandError::Input(format!("struct: {message}")))
            }
        }
    }
}

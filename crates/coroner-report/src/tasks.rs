//! `ps`: every task, as crash's `ps` lists them (active tasks marked `>`, kernel
//! threads in brackets).

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use coroner_program::{AnalysisError, Program, Task};
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Clone, Serialize)]
pub struct TaskRow {
    pub pid: u32,
    pub ppid: u32,
    pub tgid: u32,
    pub cpu: u32,
    /// The `task_struct`.
    pub task: Addr,
    /// crash's two-letter state (RU, IN, UN, ...).
    pub state: &'static str,
    pub comm: String,
    pub active: bool,
    pub kernel_thread: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PsReport {
    pub tasks: Vec<TaskRow>,
    pub warnings: Vec<Warning>,
}

/// crash's two-letter state names for the kernel's state letters.
pub fn crash_state(state: char) -> &'static str {
    match state {
        'R' => "RU",
        'S' => "IN",
        'D' => "UN",
        'T' => "ST",
        't' => "TR",
        'X' => "DE",
        'Z' => "ZO",
        'P' => "PA",
        'I' => "ID",
        _ => "??",
    }
}

impl From<&Task> for TaskRow {
    fn from(t: &Task) -> Self {
        TaskRow {
            pid: t.pid,
            ppid: t.ppid,
            tgid: t.tgid,
            cpu: t.cpu,
            task: Addr(t.address),
            state: crash_state(t.state),
            comm: t.comm.clone(),
            active: t.active,
            kernel_thread: t.kernel_thread,
        }
    }
}

/// The kernel's name of a task state, as crash's `sys` and `set` print it.
pub fn state_name(state: char) -> &'static str {
    match state {
        'R' => "TASK_RUNNING",
        'S' => "TASK_INTERRUPTIBLE",
        'D' => "TASK_UNINTERRUPTIBLE",
        'I' => "TASK_IDLE",
        'Z' => "EXIT_ZOMBIE",
        _ => "TASK_STOPPED",
    }
}

/// A task by PID, else by `task_struct` address (hex, `0x` optional); an address
/// no task list holds is taken as it is (the list may be damaged).
pub fn find_task(program: &Program, wanted: &str) -> Option<u64> {
    let tasks = program.tasks_read().map(|r| r.tasks).unwrap_or_default();
    let by_pid = wanted.parse::<u32>().ok();
    let by_address = u64::from_str_radix(wanted.trim_start_matches("0x"), 16).ok();
    tasks
        .iter()
        .find(|t| Some(t.pid) == by_pid)
        .or_else(|| tasks.iter().find(|t| Some(t.address) == by_address))
        .map(|t| t.address)
        .or(by_address.filter(|_| by_pid.is_none()))
}

/// The task that panicked: the active task of the CPU in `panic_cpu` (set by
/// panic() and crash_kexec()), else of the CPU whose stack passes through them.
pub fn panic_task(program: &Program) -> Option<u64> {
    let cpu = program.stack_unwinder().panic_cpu()?;
    program.current_task(cpu)
}

/// crash's `set`: the context task a session's commands default to.
#[derive(Debug, Clone, Serialize)]
pub struct ContextReport {
    pub pid: u32,
    pub command: String,
    pub task: Addr,
    pub cpu: u32,
    /// The kernel's state name (`TASK_RUNNING`).
    pub state: &'static str,
    /// The task that panicked.
    pub panic: bool,
    pub warnings: Vec<Warning>,
}

/// `panic` is [`panic_task`]'s answer, which the caller has already needed.
pub fn context(
    program: &Program,
    task: u64,
    panic: Option<u64>,
) -> Result<ContextReport, AnalysisError> {
    let t = program.task_at(task)?;
    Ok(ContextReport {
        pid: t.pid,
        command: t.comm,
        task: Addr(task),
        cpu: t.cpu,
        state: state_name(t.state),
        panic: panic == Some(task),
        warnings: Warning::all(Stage::Program, program.warnings()),
    })
}

impl Render for ContextReport {
    fn schema(&self) -> &'static str {
        "coroner.set/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let panic = if self.panic { " (PANIC)" } else { "" };
        writeln!(out, "    PID: {}", self.pid)?;
        writeln!(out, "COMMAND: \"{}\"", self.command)?;
        writeln!(
            out,
            "   TASK: {:x}  [THREAD_INFO: {:x}]",
            self.task.0, self.task.0
        )?;
        writeln!(out, "    CPU: {}", self.cpu)?;
        writeln!(out, "  STATE: {}{panic}", self.state)
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        write_document(out, self.schema(), self)
    }

    fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

/// Every task that can be read; a damaged task or list costs only what it holds
/// (the warnings say how many were lost).
pub fn ps(program: &Program) -> Result<PsReport, AnalysisError> {
    let read = program.tasks_read()?;
    let mut warnings = Warning::all(Stage::Program, program.warnings());
    warnings.extend(Warning::all(Stage::Tasks, &read.warnings));
    Ok(PsReport {
        tasks: read.tasks.iter().map(TaskRow::from).collect(),
        warnings,
    })
}

impl Render for PsReport {
    fn schema(&self) -> &'static str {
        "coroner.ps/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "      PID    PPID  CPU       TASK        ST  COMM")?;
        for r in &self.tasks {
            let comm = if r.kernel_thread {
                format!("[{}]", r.comm)
            } else {
                r.comm.clone()
            };
            writeln!(
                out,
                "{} {:>7} {:>7} {:>3}  {:016x}  {}  {comm}",
                if r.active { '>' } else { ' ' },
                r.pid,
                r.ppid,
                r.cpu,
                r.task.0,
                r.state
            )?;
        }
        Ok(())
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        write_document(out, self.schema(), self)
    }

    fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

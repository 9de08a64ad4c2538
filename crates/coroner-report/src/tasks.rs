//! `ps`: every task, as crash's `ps` lists them (active tasks marked `>`, kernel
//! threads in brackets).

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use coroner_program::{Program, Task};
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

pub fn ps(program: &Program) -> Result<PsReport, String> {
    let tasks = program.tasks()?;
    Ok(PsReport {
        tasks: tasks.iter().map(TaskRow::from).collect(),
        warnings: Warning::all(Stage::Program, program.warnings()),
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

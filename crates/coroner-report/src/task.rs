//! `task`: crash's print of a task's `task_struct` (all of it, or the members
//! `-R` names) and, when the task has one, its `thread_info`, under the task's
//! header line.

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use crate::structure::{structure, StructBody, StructError, StructQuery};
use coroner_program::Program;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Clone, Serialize)]
pub struct TaskBlock {
    pub pid: u32,
    pub task: Addr,
    pub cpu: u32,
    pub command: String,
    pub task_struct: StructBody,
    pub thread_info: Option<StructBody>,
    #[serde(skip)]
    text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    pub tasks: Vec<TaskBlock>,
    pub warnings: Vec<Warning>,
}

impl Render for TaskReport {
    fn schema(&self) -> &'static str {
        "coroner.task/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        for t in &self.tasks {
            writeln!(
                out,
                "PID: {:<8} TASK: {:<16x}  CPU: {:<4} COMMAND: \"{}\"",
                t.pid, t.task.0, t.cpu, t.command
            )?;
            out.write_all(t.text.as_bytes())?;
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

/// `tasks` are `task_struct` addresses; `members` are `-R`'s (all when empty).
pub fn task(
    program: &Program,
    tasks: &[u64],
    members: &[String],
    hex: bool,
) -> Result<TaskReport, StructError> {
    let mut blocks = Vec::new();
    for &address in tasks {
        let t = program
            .task_at(address)
            .map_err(|e| StructError::Failed(format!("task {address:x}: {e}")))?;
        let show = |target: String, at: u64| {
            structure(
                program,
                &StructQuery {
                    target,
                    address: Some(format!("{at:#x}")),
                    hex,
                    ..StructQuery::default()
                },
            )
        };
        let (task_struct, thread_info, text) = if members.is_empty() {
            let whole = show("task_struct".into(), address)?;
            let mut text = format!("{}\n", whole.text);
            // Since 4.9 (THREAD_INFO_IN_TASK) the thread_info is the task's first
            // member; before, it sits at the bottom of the task's stack.
            let types = program.types()?;
            let info_at = match types.offset_of("task_struct", "thread_info") {
                Some(offset) => Some(address + offset),
                None => program
                    .read_u64(address + types.offset_of("task_struct", "stack").unwrap_or(0))
                    .ok(),
            };
            let info = match info_at {
                Some(at) => {
                    let shown = show("thread_info".into(), at)?;
                    text.push_str(&shown.text);
                    text.push('\n');
                    Some(shown.body)
                }
                None => None,
            };
            (whole.body, info, text)
        } else {
            let shown = show(format!("task_struct.{}", members.join(",")), address)?;
            let text = format!("{}\n", shown.text);
            (shown.body, None, text)
        };
        blocks.push(TaskBlock {
            pid: t.pid,
            task: Addr(address),
            cpu: t.cpu,
            command: t.comm,
            task_struct,
            thread_info,
            text,
        });
    }
    Ok(TaskReport {
        tasks: blocks,
        warnings: Warning::all(Stage::Program, program.warnings()),
    })
}

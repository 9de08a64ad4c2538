//! `files`: a task's root, working directory and open files.

use crate::command::{Output, Query};
use crate::error::CommandError;
use crate::session::Session;
use coroner_program::{Program, Task};
use coroner_report::files::{self, Spacing};
use coroner_report::tasks::find_task;

#[derive(clap::Args)]
pub struct Files {
    /// Tasks (PID, or task_struct address in hex); default: the context task.
    tasks: Vec<String>,
}

impl Query for Files {
    const NAME: &'static str = "files";
    const ABOUT: &'static str =
        "A task's root and working directories and its open files, like crash's `files`.";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let program = session.program()?;
        let mut shown = Vec::new();
        if self.tasks.is_empty() {
            let context = session
                .context_or_panic()
                .ok_or_else(|| CommandError::Input("files: no context task: name one".into()))?;
            shown.push((program.task_at(context)?, Spacing::default()));
        }
        let all = program.tasks()?;
        for (i, wanted) in self.tasks.iter().enumerate() {
            let (tasks, by_pid) = tasks_named(program, &all, wanted, "files")?;
            // As crash: each task named by PID is followed by a blank line.
            let spacing = Spacing {
                blank_before: i > 0,
                blank_after: by_pid,
            };
            shown.extend(tasks.into_iter().map(|t| (t, spacing)));
        }
        Ok(Output::found(files::files(program, &shown)?))
    }
}

/// The tasks one argument names, as crash reads it: a PID names every task with
/// it (PID 0: each CPU's idle task), else a `task_struct` address names one.
/// The flag says it was a PID.
pub(crate) fn tasks_named(
    program: &Program,
    all: &[Task],
    wanted: &str,
    command: &str,
) -> Result<(Vec<Task>, bool), CommandError> {
    if let Ok(pid) = wanted.parse::<u32>() {
        let by_pid: Vec<Task> = all.iter().filter(|t| t.pid == pid).cloned().collect();
        if !by_pid.is_empty() {
            return Ok((by_pid, true));
        }
    }
    let address = find_task(program, wanted)
        .ok_or_else(|| CommandError::Input(format!("{command}: {wanted}: no such task")))?;
    Ok((vec![program.task_at(address)?], false))
}

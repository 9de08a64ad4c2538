//! `files`: a task's root, working directory and open files.

use crate::command::{Output, Query};
use crate::error::CommandError;
use crate::session::Session;
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
            // As crash: a PID names every task with it (PID 0: each CPU's idle
            // task), each followed by a blank line; an address, one task.
            let by_pid: Vec<_> = match wanted.parse::<u32>() {
                Ok(pid) => all.iter().filter(|t| t.pid == pid).cloned().collect(),
                Err(_) => Vec::new(),
            };
            let blank_before = i > 0;
            if by_pid.is_empty() {
                let address = find_task(program, wanted)
                    .ok_or_else(|| CommandError::Input(format!("files: {wanted}: no such task")))?;
                let spacing = Spacing {
                    blank_before,
                    blank_after: false,
                };
                shown.push((program.task_at(address)?, spacing));
            }
            for t in by_pid {
                let spacing = Spacing {
                    blank_before,
                    blank_after: true,
                };
                shown.push((t, spacing));
            }
        }
        Ok(Output::found(files::files(program, &shown)?))
    }
}

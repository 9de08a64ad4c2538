//! `vm`: a task's address space and its VMAs.

use crate::command::{Output, Query};
use crate::error::CommandError;
use crate::files::tasks_named;
use crate::session::Session;
use coroner_report::vm;

#[derive(clap::Args)]
pub struct Vm {
    /// Tasks (PID, or task_struct address in hex); default: the context task.
    tasks: Vec<String>,
}

impl Query for Vm {
    const NAME: &'static str = "vm";
    const ABOUT: &'static str =
        "A task's mm_struct, page directory, RSS and size, and its VMAs, like crash's `vm`.";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let program = session.program()?;
        let all = program.tasks()?;
        let mut tasks = Vec::new();
        if self.tasks.is_empty() {
            let context = session
                .context_or_panic()
                .ok_or_else(|| CommandError::Input("vm: no context task: name one".into()))?;
            tasks.push(program.task_at(context)?);
        }
        for wanted in &self.tasks {
            tasks.extend(tasks_named(program, &all, wanted, "vm")?.0);
        }
        Ok(Output::found(vm::vm(program, &tasks, &all)?))
    }
}

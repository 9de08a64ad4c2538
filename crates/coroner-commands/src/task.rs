//! `task`: a task's `task_struct`, as crash's `task` prints it.

use crate::command::{Output, Query};
use crate::error::CommandError;
use crate::session::Session;
use coroner_report::structure::StructError;
use coroner_report::task;
use coroner_report::tasks::find_task;

#[derive(clap::Args)]
pub struct Task {
    /// Tasks (PID, or task_struct address in hex); default: the context task.
    tasks: Vec<String>,
    /// Only these members: `pid,comm,se.on_rq` (may be given several times).
    #[arg(short = 'R', value_name = "MEMBER[,MEMBER]")]
    members: Vec<String>,
    /// Numbers in hex.
    #[arg(short = 'x')]
    hex: bool,
}

impl Query for Task {
    const NAME: &'static str = "task";
    const ABOUT: &'static str =
        "A task's task_struct and thread_info, like crash's `task` (-R: some members).";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let program = session.program()?;
        let tasks = if self.tasks.is_empty() {
            let context = session
                .context_or_panic()
                .ok_or_else(|| CommandError::Input("task: no context task: name one".into()))?;
            vec![context]
        } else {
            self.tasks
                .iter()
                .map(|t| {
                    find_task(program, t)
                        .ok_or_else(|| CommandError::Input(format!("task: {t}: no such task")))
                })
                .collect::<Result<_, _>>()?
        };
        let members: Vec<String> = self
            .members
            .iter()
            .flat_map(|m| m.split(','))
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect();
        match task::task(program, &tasks, &members, self.hex) {
            Ok(report) => Ok(Output::found(report)),
            Err(StructError::Lookup(message)) => Err(CommandError::NotFound {
                command: "task",
                message,
            }),
            Err(StructError::Failed(message)) => Err(CommandError::Input(message)),
        }
    }
}

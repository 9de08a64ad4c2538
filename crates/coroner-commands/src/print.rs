//! `p`, `px`, `pd`: crash's print of a variable or C expression.

use crate::command::{Output, Query};
use crate::error::CommandError;
use crate::session::Session;
use coroner_report::print::{self, PrintError, PrintQuery};

#[derive(clap::Args)]
pub struct P {
    /// A variable or C expression: `jiffies`, `init_task.comm`,
    /// `*(struct file *)0xffff8c300105f700`, `&init_task`; a per-CPU variable
    /// takes crash's `:cpu` suffix (`runqueues:1`, `runqueues:a`, `runqueues:0-1`).
    #[arg(required = true, num_args = 1..)]
    expression: Vec<String>,
    /// Numbers in hex.
    #[arg(short = 'x', conflicts_with = "decimal")]
    hex: bool,
    /// Numbers in decimal (the default).
    #[arg(short = 'd')]
    decimal: bool,
}

#[derive(clap::Args)]
pub struct Px {
    #[command(flatten)]
    inner: P,
}

#[derive(clap::Args)]
pub struct Pd {
    #[command(flatten)]
    inner: P,
}

fn run(p: P, hex: bool, session: &Session) -> Result<Output, CommandError> {
    let program = session.program()?;
    let context_cpu = session
        .context_or_panic()
        .and_then(|task| program.task_at(task).ok())
        .map(|t| t.cpu);
    let query = PrintQuery {
        words: p.expression,
        hex: (hex || p.hex) && !p.decimal,
        first_number: session.next_value_number(),
        context_cpu,
    };
    match print::print(program, &query) {
        Ok(report) => {
            session.take_value_numbers(report.numbers_used());
            Ok(Output::found(report))
        }
        Err(PrintError::Failed(why)) => Err(CommandError::Input(format!("p: {why}"))),
        Err(PrintError::Analysis(e)) => Err(e.into()),
    }
}

impl Query for P {
    const NAME: &'static str = "p";
    const ALIASES: &'static [&'static str] = &["print"];
    const ABOUT: &'static str =
        "Print a kernel variable or C expression as crash's `p` does (gdb's format).";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        run(self, false, session)
    }
}

impl Query for Px {
    const NAME: &'static str = "px";
    const ABOUT: &'static str = "`p -x`: print with numbers in hex.";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        run(self.inner, true, session)
    }
}

impl Query for Pd {
    const NAME: &'static str = "pd";
    const ABOUT: &'static str = "`p -d`: print with numbers in decimal.";

    fn run(self, session: &Session) -> Result<Output, CommandError> {
        let mut inner = self.inner;
        inner.decimal = true;
        run(inner, false, session)
    }
}

//! What a command is to the registry, and what running one gives.

use crate::error::CommandError;
use crate::session::Session;
use coroner_report::Render;

/// A command's answer: the report, and the exit status a front end gives it.
pub struct Output {
    pub report: Box<dyn Render + Send>,
    /// 0 found; 1 nothing found (a symbol, a type, a crash in a log), as grep's.
    pub status: u8,
}

impl Output {
    pub fn found(report: impl Render + Send + 'static) -> Output {
        Output {
            report: Box::new(report),
            status: 0,
        }
    }

    pub fn with_status(report: impl Render + Send + 'static, found: bool) -> Output {
        Output {
            report: Box::new(report),
            status: if found { 0 } else { 1 },
        }
    }
}

/// One command of the registry.
pub trait Command: Sync {
    fn name(&self) -> &'static str;
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    fn about(&self) -> &'static str;
    /// Whether it opens the dump as a program (and so takes `--symbols`).
    fn needs_program(&self) -> bool;
    /// Its own arguments, added to `cmd`.
    fn arguments(&self, cmd: clap::Command) -> clap::Command;
    fn run(&self, args: &clap::ArgMatches, session: &Session) -> Result<Output, CommandError>;
}

/// A command written as a clap `Args` struct that runs itself: the registry's
/// usual way to hold one.
pub trait Query: clap::Args + clap::FromArgMatches {
    const NAME: &'static str;
    const ALIASES: &'static [&'static str] = &[];
    const ABOUT: &'static str;
    const NEEDS_PROGRAM: bool = true;
    fn run(self, session: &Session) -> Result<Output, CommandError>;
}

/// Holds a [`Query`] type as a [`Command`].
pub(crate) struct QueryCommand<Q>(std::marker::PhantomData<fn() -> Q>);

impl<Q> QueryCommand<Q> {
    pub(crate) const fn new() -> Self {
        QueryCommand(std::marker::PhantomData)
    }
}

impl<Q: Query> Command for QueryCommand<Q> {
    fn name(&self) -> &'static str {
        Q::NAME
    }

    fn aliases(&self) -> &'static [&'static str] {
        Q::ALIASES
    }

    fn about(&self) -> &'static str {
        Q::ABOUT
    }

    fn needs_program(&self) -> bool {
        Q::NEEDS_PROGRAM
    }

    fn arguments(&self, cmd: clap::Command) -> clap::Command {
        Q::augment_args(cmd)
    }

    fn run(&self, args: &clap::ArgMatches, session: &Session) -> Result<Output, CommandError> {
        let query = Q::from_arg_matches(args).map_err(|e| CommandError::Usage(e.to_string()))?;
        query.run(session)
    }
}

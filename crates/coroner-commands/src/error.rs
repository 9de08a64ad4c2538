//! Why a command gave no report, and the exit status that says so.

/// Why a command gave no report.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// What was asked for does not exist (a type, a member): exit status 1.
    #[error("{command}: {message}")]
    NotFound {
        command: &'static str,
        message: String,
    },
    /// The input could not be opened or read as needed.
    #[error(transparent)]
    Open(#[from] coroner_program::ProgramError),
    #[error(transparent)]
    Dump(#[from] coroner_dump::DumpError),
    #[error(transparent)]
    Kernel(#[from] coroner_kernel::KernelError),
    /// The program could not answer: no types, damaged memory, a missing module.
    #[error(transparent)]
    Analysis(#[from] coroner_program::AnalysisError),
    /// The input is not what the command needs, or an argument names nothing usable.
    #[error("{0}")]
    Input(String),
    /// The command's arguments do not parse (its usage is in the text).
    #[error("{0}")]
    Usage(String),
}

impl CommandError {
    /// The exit status a front end gives this error.
    pub fn status(&self) -> u8 {
        match self {
            CommandError::NotFound { .. } => 1,
            CommandError::Analysis(coroner_program::AnalysisError::NotFound(_)) => 1,
            _ => 2,
        }
    }
}

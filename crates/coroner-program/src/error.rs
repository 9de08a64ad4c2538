//! Why the program could not answer a question about the kernel, by kind: a
//! front end picks its exit status, and the server records a stage's reason, from
//! the kind, never from the text.

use coroner_mem::MemError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalysisError {
    /// The kernel's types are not available: the dump has no BTF, or it did not
    /// decode (the text says why).
    #[error("{0}")]
    NoTypes(String),
    /// The types lack a struct or member this reader needs (another kernel
    /// generation, or types lost to damage).
    #[error("BTF has no {0}")]
    Layout(String),
    /// A symbol this reader needs is not among the symbols.
    #[error("no {0} symbol")]
    NoSymbol(&'static str),
    /// Memory this reader needs could not be read.
    #[error("{0}")]
    Memory(#[from] MemError),
    /// What was asked for does not exist (a module that is not loaded).
    #[error("{0}")]
    NotFound(String),
    /// The kernel's data says something impossible.
    #[error("{0}")]
    Corrupt(String),
}

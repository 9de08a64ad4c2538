//! Errors: opening a dump (the container is wrong) and reading memory (one page is).

use std::path::PathBuf;

/// A dump that cannot be opened: every variant names the file and, where it applies,
/// the byte offset and what was expected there.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: at offset {offset:#x}: {what}")]
    Format {
        path: PathBuf,
        offset: u64,
        what: String,
    },
    #[error("{path}: not a kernel crash dump: {why}")]
    NotADump { path: PathBuf, why: String },
}

/// Why a physical read failed. Reads never return made-up bytes: an excluded or
/// missing page is an error the caller can see and report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("physical address {paddr:#x} is not in the dump")]
    NotInDump { paddr: u64 },
    #[error("physical address {paddr:#x} is in a page the dump excluded (filtered out)")]
    Excluded { paddr: u64 },
    #[error("physical address {paddr:#x} is in a page missing from this incomplete dump")]
    Missing { paddr: u64 },
    #[error("page at physical address {paddr:#x} is corrupt: {why}")]
    Corrupt { paddr: u64, why: String },
    #[error("reading page at physical address {paddr:#x}: {why}")]
    Io { paddr: u64, why: String },
}

impl From<ReadError> for coroner_mem::MemError {
    fn from(e: ReadError) -> Self {
        use coroner_mem::MemErrorKind as Kind;
        let (paddr, kind) = match &e {
            ReadError::NotInDump { paddr } => (*paddr, Kind::NotInDump),
            ReadError::Excluded { paddr } => (*paddr, Kind::Excluded),
            ReadError::Missing { paddr } => (*paddr, Kind::Missing),
            ReadError::Corrupt { paddr, .. } => (*paddr, Kind::Corrupt),
            ReadError::Io { paddr, .. } => (*paddr, Kind::Io),
        };
        coroner_mem::MemError::new(paddr, coroner_mem::Space::Physical, kind, e.to_string())
    }
}

/// Where a container parser is and which file it reads: turns a short description of
/// what went wrong into a [`DumpError::Format`].
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub path: PathBuf,
}

impl Context {
    pub fn format(&self, offset: u64, what: impl Into<String>) -> DumpError {
        DumpError::Format {
            path: self.path.clone(),
            offset,
            what: what.into(),
        }
    }

    pub fn io(&self, source: std::io::Error) -> DumpError {
        DumpError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

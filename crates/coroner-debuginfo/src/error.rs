//! What went wrong adding to or reading the store, naming the file.

#[derive(Debug, thiserror::Error)]
pub enum DebuginfoError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The input is not what it claims or looks like.
    #[error("{path}: {what}")]
    Format { path: String, what: String },
    /// Nothing in the input is a kernel's debuginfo.
    #[error("{0}: no vmlinux with DWARF and a build-id found in it")]
    NothingFound(String),
}

impl DebuginfoError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> DebuginfoError {
        DebuginfoError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub(crate) fn format(path: &std::path::Path, what: impl Into<String>) -> DebuginfoError {
        DebuginfoError::Format {
            path: path.display().to_string(),
            what: what.into(),
        }
    }
}

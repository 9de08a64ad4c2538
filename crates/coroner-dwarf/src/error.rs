//! One error type for the crate: what went wrong, and where in which section, so a
//! malformed vmlinux can be inspected with `readelf --debug-dump` at that offset.

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{section} at offset {offset:#x}: {what}")]
pub struct DwarfError {
    /// `.debug_info`, `.symtab`, or `ELF` for the file as a whole.
    pub section: &'static str,
    /// From the start of that section (or of the file).
    pub offset: u64,
    pub what: String,
}

impl DwarfError {
    pub(crate) fn new(section: &'static str, offset: u64, what: impl Into<String>) -> DwarfError {
        DwarfError {
            section,
            offset,
            what: what.into(),
        }
    }

    /// An error of gimli's while reading `.debug_info` near `offset`.
    pub(crate) fn info(offset: u64, error: gimli::Error) -> DwarfError {
        DwarfError::new(".debug_info", offset, error.to_string())
    }
}

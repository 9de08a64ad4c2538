//! One way to read memory, and one error that says where and why a read failed,
//! for every reader above the containers: the kernel view, the unwinder, the
//! symbol decoders. A caller can tell "the dump filtered this page out" from "this
//! address is not mapped" from "the dump is cut short here" without parsing text,
//! which is what lets a damaged dump cost only what it damaged, and what the
//! server records as data.

use std::fmt;

/// The address space an address is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    Physical,
    Virtual,
}

/// Why a read failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemErrorKind {
    /// No translation for a virtual address (page tables, fixed mappings).
    NotMapped,
    /// The physical address is outside what the dump covers.
    NotInDump,
    /// The dump's filter left the page out (makedumpfile's dump level).
    Excluded,
    /// The page should be there but the dump was cut short before it.
    Missing,
    /// The page is there but does not decode.
    Corrupt,
    /// Reading the file failed.
    Io,
    /// Outside the memory a reader was given (a test's or a fuzz input's pages).
    Unrecorded,
}

impl MemErrorKind {
    pub fn name(self) -> &'static str {
        match self {
            MemErrorKind::NotMapped => "not-mapped",
            MemErrorKind::NotInDump => "not-in-dump",
            MemErrorKind::Excluded => "excluded",
            MemErrorKind::Missing => "missing",
            MemErrorKind::Corrupt => "corrupt",
            MemErrorKind::Io => "io",
            MemErrorKind::Unrecorded => "unrecorded",
        }
    }
}

/// A failed read: the address asked for, its space, the kind, and the layer's
/// own words (which physical page, which decoder), printed as they always were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemError {
    pub addr: u64,
    pub space: Space,
    pub kind: MemErrorKind,
    pub text: String,
}

impl MemError {
    pub fn new(addr: u64, space: Space, kind: MemErrorKind, text: impl Into<String>) -> Self {
        MemError {
            addr,
            space,
            kind,
            text: text.into(),
        }
    }
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for MemError {}

/// Reads memory: kernel virtual memory for the unwinder and the symbol decoders.
pub trait Memory {
    /// Fills `buf` from `addr`, or says why it cannot (never partial results).
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError>;

    fn read_u64(&self, addr: u64) -> Result<u64, MemError> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn read_u32(&self, addr: u64) -> Result<u32, MemError> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn read_u16(&self, addr: u64) -> Result<u16, MemError> {
        let mut b = [0u8; 2];
        self.read(addr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    fn read_u8(&self, addr: u64) -> Result<u8, MemError> {
        let mut b = [0u8; 1];
        self.read(addr, &mut b)?;
        Ok(b[0])
    }
}

impl<F: Fn(u64, &mut [u8]) -> Result<(), MemError>> Memory for F {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        self(addr, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closure_is_memory_and_errors_keep_their_kind() {
        let mem = |addr: u64, buf: &mut [u8]| {
            if addr < 0x1000 {
                buf.fill(0xab);
                Ok(())
            } else {
                Err(MemError::new(
                    addr,
                    Space::Virtual,
                    MemErrorKind::NotMapped,
                    format!("virtual address {addr:#x} is not mapped"),
                ))
            }
        };
        assert_eq!(mem.read_u32(0x10).unwrap(), 0xabababab);
        let e = mem.read_u64(0x2000).unwrap_err();
        assert_eq!((e.addr, e.kind), (0x2000, MemErrorKind::NotMapped));
        assert_eq!(e.to_string(), "virtual address 0x2000 is not mapped");
    }
}

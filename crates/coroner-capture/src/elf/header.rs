//! ELF64 core file structures as bytes (little-endian: the dumps coroner reads).

use crate::convert::ConvertError;
use coroner_dump::Note;

pub const EHDR_SIZE: u64 = 64;
pub const PHDR_SIZE: u64 = 56;
const ET_CORE: u16 = 4;
const EV_CURRENT: u8 = 1;
const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const PF_RWX: u32 = 7;

/// `e_machine` for the input's architecture, as the readers name it.
pub fn machine(arch: Option<&str>) -> Result<u16, ConvertError> {
    Ok(match arch {
        Some("x86_64") => 62,
        Some("aarch64") => 183,
        Some("ppc64") => 21,
        Some("s390x") => 22,
        Some("riscv64") => 243,
        other => {
            return Err(ConvertError::Unsupported(format!(
                "no ELF machine for architecture {}",
                other.unwrap_or("unknown")
            )))
        }
    })
}

pub struct Elf64Header {
    pub machine: u16,
    pub phnum: u16,
}

impl Elf64Header {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(EHDR_SIZE as usize);
        v.extend(b"\x7fELF");
        v.extend([2, 1, EV_CURRENT, 0]); // ELFCLASS64, little-endian, version, SysV ABI
        v.extend([0; 8]);
        v.extend(ET_CORE.to_le_bytes());
        v.extend(self.machine.to_le_bytes());
        v.extend(u32::from(EV_CURRENT).to_le_bytes());
        v.extend(0u64.to_le_bytes()); // e_entry
        v.extend(EHDR_SIZE.to_le_bytes()); // e_phoff: right after this header
        v.extend(0u64.to_le_bytes()); // e_shoff: no sections
        v.extend(0u32.to_le_bytes()); // e_flags
        v.extend((EHDR_SIZE as u16).to_le_bytes());
        v.extend((PHDR_SIZE as u16).to_le_bytes());
        v.extend(self.phnum.to_le_bytes());
        v.extend([0; 6]); // e_shentsize, e_shnum, e_shstrndx
        v
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramHeader {
    kind: u32,
    offset: u64,
    vaddr: u64,
    paddr: u64,
    filesz: u64,
    memsz: u64,
}

impl ProgramHeader {
    pub fn note(offset: u64, size: u64) -> ProgramHeader {
        ProgramHeader {
            kind: PT_NOTE,
            offset,
            vaddr: 0,
            paddr: 0,
            filesz: size,
            memsz: size,
        }
    }

    pub fn load(vaddr: u64, paddr: u64, offset: u64, filesz: u64, memsz: u64) -> ProgramHeader {
        ProgramHeader {
            kind: PT_LOAD,
            offset,
            vaddr,
            paddr,
            filesz,
            memsz,
        }
    }

    /// `p_align` is 0, as kexec-tools and the kernel write it: crash takes a
    /// PT_LOAD with `p_align` 0 for a kdump ELF rather than an old netdump.
    pub fn to_bytes(self) -> Vec<u8> {
        let flags = if self.kind == PT_LOAD { PF_RWX } else { 0 };
        let mut v = Vec::with_capacity(PHDR_SIZE as usize);
        v.extend(self.kind.to_le_bytes());
        v.extend(flags.to_le_bytes());
        for w in [
            self.offset,
            self.vaddr,
            self.paddr,
            self.filesz,
            self.memsz,
            0,
        ] {
            v.extend(w.to_le_bytes());
        }
        v
    }
}

/// The notes as one PT_NOTE payload: each name NUL-terminated, name and
/// description padded to 4 bytes.
pub fn notes(notes: &[Note]) -> Vec<u8> {
    let mut v = Vec::new();
    for n in notes {
        let namesz = n.name.len() + 1;
        v.extend((namesz as u32).to_le_bytes());
        v.extend((n.desc.len() as u32).to_le_bytes());
        v.extend(n.kind.to_le_bytes());
        v.extend(n.name.as_bytes());
        v.push(0);
        v.resize(v.len().next_multiple_of(4), 0);
        v.extend(&n.desc);
        v.resize(v.len().next_multiple_of(4), 0);
    }
    v
}

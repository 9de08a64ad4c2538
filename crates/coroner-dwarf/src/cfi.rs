//! Call frame information from `.debug_frame`: for a pc, where the caller's
//! frame (CFA) is and where each register was saved — what an unwinder needs
//! when ORC is absent (RHEL 7, Ubuntu's frame-pointer kernels). gimli's own
//! lookup scans every FDE; the FDEs are parsed and sorted once here instead.

use gimli::{CfaRule, RegisterRule, UnwindSection};

use crate::{Debuginfo, DwarfError, Reader};

/// Where the canonical frame address is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cfa {
    /// A register's value plus an offset (DWARF register numbers: `rsp` = 7,
    /// `rbp` = 6).
    RegisterOffset { register: u16, offset: i64 },
    /// A DWARF expression (rare: hand-written assembly).
    Expression,
}

/// Where a register's value in the caller is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    /// Unchanged from this frame.
    SameValue,
    /// In memory at CFA + offset.
    AtCfa(i64),
    /// Is CFA + offset.
    CfaPlus(i64),
    /// In another register.
    InRegister(u16),
    /// An expression, or an architecture-specific rule.
    Other,
}

/// The unwind rules valid for the pcs `start..end`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnwindRow {
    pub start: u64,
    pub end: u64,
    pub cfa: Cfa,
    /// Registers with a rule, by DWARF number; a register not listed has none
    /// (its value in the caller is unknown).
    pub registers: Vec<(u16, Saved)>,
    /// The column of the return address (16 on x86-64).
    pub return_address: u16,
}

/// `.debug_frame` with its FDEs sorted by address.
pub struct Cfi<'data> {
    section: gimli::DebugFrame<Reader<'data>>,
    bases: gimli::BaseAddresses,
    fdes: Vec<gimli::FrameDescriptionEntry<Reader<'data>>>,
}

impl<'data> Debuginfo<'data> {
    /// Parses every CIE and FDE of `.debug_frame` (empty when it is absent).
    pub fn cfi(&self) -> Result<Cfi<'data>, DwarfError> {
        let mut section = gimli::DebugFrame::from(self.section(".debug_frame")?);
        section.set_address_size(8);
        let bases = gimli::BaseAddresses::default();
        let mut fdes = Vec::new();
        let mut entries = section.entries(&bases);
        let fail = |e: gimli::Error| DwarfError::new(".debug_frame", 0, e.to_string());
        while let Some(entry) = entries.next().map_err(fail)? {
            if let gimli::CieOrFde::Fde(partial) = entry {
                let fde = partial
                    .parse(|section, bases, offset| section.cie_from_offset(bases, offset))
                    .map_err(fail)?;
                fdes.push(fde);
            }
        }
        fdes.sort_by_key(|f| f.initial_address());
        Ok(Cfi {
            section,
            bases,
            fdes,
        })
    }
}

impl Cfi<'_> {
    /// How many FDEs (functions or code ranges) have rules.
    pub fn len(&self) -> usize {
        self.fdes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fdes.is_empty()
    }

    /// The rules at `pc` (as linked); `None` when no FDE covers it. For a return
    /// address, look up the address minus one (the call instruction).
    pub fn row(&self, pc: u64) -> Result<Option<UnwindRow>, DwarfError> {
        let after = self.fdes.partition_point(|f| f.initial_address() <= pc);
        let Some(fde) = after.checked_sub(1).map(|i| &self.fdes[i]) else {
            return Ok(None);
        };
        if pc >= fde.end_address() {
            return Ok(None);
        }
        let mut context = gimli::UnwindContext::new();
        let row = match fde.unwind_info_for_address(&self.section, &self.bases, &mut context, pc) {
            Ok(row) => row,
            Err(gimli::Error::NoUnwindInfoForAddress) => return Ok(None),
            Err(e) => {
                return Err(DwarfError::new(
                    ".debug_frame",
                    0,
                    format!("rules at {pc:#x}: {e}"),
                ))
            }
        };
        let cfa = match *row.cfa() {
            CfaRule::RegisterAndOffset { register, offset } => Cfa::RegisterOffset {
                register: register.0,
                offset,
            },
            CfaRule::Expression(_) => Cfa::Expression,
        };
        let registers = row
            .registers()
            .filter_map(|(register, rule)| {
                let saved = match *rule {
                    RegisterRule::Undefined => return None,
                    RegisterRule::SameValue => Saved::SameValue,
                    RegisterRule::Offset(o) => Saved::AtCfa(o),
                    RegisterRule::ValOffset(o) => Saved::CfaPlus(o),
                    RegisterRule::Register(r) => Saved::InRegister(r.0),
                    _ => Saved::Other,
                };
                Some((register.0, saved))
            })
            .collect();
        Ok(Some(UnwindRow {
            start: row.start_address(),
            end: row.end_address(),
            cfa,
            registers,
            return_address: fde.cie().return_address_register().0,
        }))
    }
}

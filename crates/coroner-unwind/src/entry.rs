//! One ORC entry: how to find the caller's stack pointer, frame pointer and return
//! address at a code address. `struct orc_entry` is 6 bytes (`s16 sp_offset`,
//! `s16 bp_offset`, 16 bits of flags) and its flag bits have had three layouts.

/// Size of one `struct orc_entry`.
pub const ENTRY_SIZE: usize = 6;

/// The layout of `struct orc_entry`'s flag bits (the numbering is ours, not the
/// kernel's; drgn uses the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcVersion {
    /// Linux 4.14 to 6.2: `sp_reg:4 bp_reg:4 type:2 end:1`; CALL=0, REGS=1,
    /// REGS_PARTIAL=2; an undefined `sp_reg` is the end of the stack when `end` is set.
    V1,
    /// Linux 6.3 (commit ffb1b4a41016): `sp_reg:4 bp_reg:4 type:2 signal:1 end:1`.
    V2,
    /// Linux 6.4 on (commit fb799447ae29): `sp_reg:4 bp_reg:4 type:3 signal:1`;
    /// UNDEFINED=0, END_OF_STACK=1, CALL=2, REGS=3, REGS_PARTIAL=4.
    V3,
}

/// `.orc_header` (Linux 6.4, backported to 6.3.10) holds a hash of orc_types.h.
const HASH_V3: [u8; 20] = [
    0xfe, 0x5d, 0x32, 0xbf, 0x58, 0x1b, 0xd6, 0x3b, 0x2c, 0xa9, 0xa5, 0xc6, 0x5b, 0xa5, 0xa6, 0x25,
    0xea, 0xb3, 0xfe, 0x24,
];
const HASH_V2: [u8; 20] = [
    0xdb, 0x84, 0xae, 0xd4, 0x10, 0x3b, 0x31, 0xdd, 0x51, 0xe0, 0x17, 0xf8, 0xf7, 0x97, 0x83, 0xca,
    0x98, 0x5c, 0x2c, 0x51,
];

/// How a kernel's ORC data reads: the entry layout, and the meaning of
/// `ORC_REG_SP_INDIRECT`, which Linux 5.12 (commit 87ccc826bf1c) changed from
/// `*(sp + offset)` to `*sp + offset` for the inline IRQ-stack switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrcFormat {
    pub version: OrcVersion,
    pub sp_indirect_offset_after_deref: bool,
}

impl OrcFormat {
    /// The newest format: what a kernel of unknown release most likely uses.
    pub const LATEST: OrcFormat = OrcFormat {
        version: OrcVersion::V3,
        sp_indirect_offset_after_deref: true,
    };

    /// The format of a kernel release such as `6.1.0-56-amd64`.
    pub fn for_release(release: &str) -> Option<OrcFormat> {
        let mut parts = release.split(|c: char| !c.is_ascii_digit());
        let major: u32 = parts.next()?.parse().ok()?;
        let minor: u32 = parts.next()?.parse().ok()?;
        let at_least = |maj: u32, min: u32| (major, minor) >= (maj, min);
        let version = if at_least(6, 4) {
            OrcVersion::V3
        } else if at_least(6, 3) {
            OrcVersion::V2
        } else {
            OrcVersion::V1
        };
        Some(OrcFormat {
            version,
            sp_indirect_offset_after_deref: at_least(5, 12),
        })
    }

    /// The format named by an `.orc_header` hash, which wins over the release
    /// (distributions backport ORC changes).
    pub fn for_header(hash: &[u8]) -> Option<OrcFormat> {
        let version = if hash == HASH_V3 {
            OrcVersion::V3
        } else if hash == HASH_V2 {
            OrcVersion::V2
        } else {
            return None;
        };
        Some(OrcFormat {
            version,
            sp_indirect_offset_after_deref: true,
        })
    }
}

/// A base register (`ORC_REG_*`): where a previous SP or BP is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reg {
    Undefined,
    PrevSp,
    Dx,
    Di,
    Bp,
    Sp,
    R10,
    R13,
    BpIndirect,
    SpIndirect,
    Unknown(u8),
}

impl Reg {
    fn from_bits(bits: u16) -> Reg {
        match bits {
            0 => Reg::Undefined,
            1 => Reg::PrevSp,
            2 => Reg::Dx,
            3 => Reg::Di,
            4 => Reg::Bp,
            5 => Reg::Sp,
            6 => Reg::R10,
            7 => Reg::R13,
            8 => Reg::BpIndirect,
            9 => Reg::SpIndirect,
            other => Reg::Unknown(other as u8),
        }
    }
}

/// What kind of frame the code address is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No unwind data (e.g. a section terminator or unannotated code).
    Undefined,
    /// The bottom of a kernel stack (kernel thread or CPU entry point).
    EndOfStack,
    /// An ordinary call frame: the return address sits just below the previous SP.
    Call,
    /// A full `struct pt_regs` sits at the previous SP.
    Regs,
    /// Only the hardware IRET frame (ip, cs, flags, sp, ss) sits at the previous SP.
    RegsPartial,
    Unknown(u8),
}

/// A decoded `struct orc_entry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrcEntry {
    pub sp_offset: i16,
    pub bp_offset: i16,
    pub sp_reg: Reg,
    pub bp_reg: Reg,
    pub kind: Kind,
    /// The frame this entry unwinds to was interrupted, not called: its ip is
    /// the exact instruction, so it is looked up as is rather than as `ip - 1`.
    pub signal: bool,
}

impl OrcEntry {
    pub fn decode(raw: [u8; ENTRY_SIZE], version: OrcVersion) -> OrcEntry {
        let flags = u16::from_le_bytes([raw[4], raw[5]]);
        let bit = |n: u32| flags >> n & 1 == 1;
        let sp_reg = Reg::from_bits(flags & 0xf);
        let (kind, signal) = match version {
            OrcVersion::V3 => {
                let kind = match flags >> 8 & 7 {
                    0 => Kind::Undefined,
                    1 => Kind::EndOfStack,
                    2 => Kind::Call,
                    3 => Kind::Regs,
                    4 => Kind::RegsPartial,
                    other => Kind::Unknown(other as u8),
                };
                (kind, bit(11))
            }
            OrcVersion::V1 | OrcVersion::V2 => {
                let end = bit(if version == OrcVersion::V1 { 10 } else { 11 });
                // Before 6.4 an undefined SP register marks both "no data" and the
                // end of the stack, whatever the type bits say.
                let kind = match (sp_reg, flags >> 8 & 3) {
                    (Reg::Undefined, _) if end => Kind::EndOfStack,
                    (Reg::Undefined, _) => Kind::Undefined,
                    (_, 0) => Kind::Call,
                    (_, 1) => Kind::Regs,
                    (_, 2) => Kind::RegsPartial,
                    (_, other) => Kind::Unknown(other as u8),
                };
                // Version 1 has no signal bit: register frames imply it.
                let signal = if version == OrcVersion::V2 {
                    bit(10)
                } else {
                    matches!(kind, Kind::Regs | Kind::RegsPartial)
                };
                (kind, signal)
            }
        };
        OrcEntry {
            sp_offset: i16::from_le_bytes([raw[0], raw[1]]),
            bp_offset: i16::from_le_bytes([raw[2], raw[3]]),
            sp_reg,
            bp_reg: Reg::from_bits(flags >> 4 & 0xf),
            kind,
            signal,
        }
    }

    /// The kernel's entry for ip 0: a call through a NULL function pointer, whose
    /// caller's return address is on top of the stack.
    pub const NULL_CALL: OrcEntry = OrcEntry {
        sp_offset: 8,
        bp_offset: 0,
        sp_reg: Reg::Sp,
        bp_reg: Reg::Undefined,
        kind: Kind::Call,
        signal: false,
    };

    /// The kernel's guess for code without ORC data (generated code, BPF): a
    /// standard frame-pointer frame.
    pub const FRAME_POINTER: OrcEntry = OrcEntry {
        sp_offset: 16,
        bp_offset: -16,
        sp_reg: Reg::Bp,
        bp_reg: Reg::PrevSp,
        kind: Kind::Call,
        signal: false,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(sp: i16, bp: i16, flags: u16) -> [u8; 6] {
        let mut r = [0u8; 6];
        r[..2].copy_from_slice(&sp.to_le_bytes());
        r[2..4].copy_from_slice(&bp.to_le_bytes());
        r[4..].copy_from_slice(&flags.to_le_bytes());
        r
    }

    #[test]
    fn version_1_layout() {
        // sp_reg=SP(5) bp_reg=PREV_SP(1) type=CALL(0)
        let e = OrcEntry::decode(raw(16, -16, 0x15), OrcVersion::V1);
        assert_eq!((e.sp_offset, e.bp_offset), (16, -16));
        assert_eq!(
            (e.sp_reg, e.bp_reg, e.kind, e.signal),
            (Reg::Sp, Reg::PrevSp, Kind::Call, false)
        );
        let regs = OrcEntry::decode(raw(0, 0, 0x105), OrcVersion::V1);
        assert_eq!((regs.kind, regs.signal), (Kind::Regs, true));
        let partial = OrcEntry::decode(raw(0, 0, 0x205), OrcVersion::V1);
        assert_eq!(partial.kind, Kind::RegsPartial);
        assert_eq!(
            OrcEntry::decode(raw(0, 0, 0x400), OrcVersion::V1).kind,
            Kind::EndOfStack
        );
        assert_eq!(
            OrcEntry::decode(raw(0, 0, 0x000), OrcVersion::V1).kind,
            Kind::Undefined
        );
    }

    #[test]
    fn version_2_moves_end_and_adds_signal() {
        assert_eq!(
            OrcEntry::decode(raw(0, 0, 0x800), OrcVersion::V2).kind,
            Kind::EndOfStack
        );
        assert_eq!(
            OrcEntry::decode(raw(0, 0, 0x400), OrcVersion::V2).kind,
            Kind::Undefined
        );
        let call_signal = OrcEntry::decode(raw(8, 0, 0x405), OrcVersion::V2);
        assert_eq!((call_signal.kind, call_signal.signal), (Kind::Call, true));
    }

    #[test]
    fn version_3_has_explicit_types() {
        let call = OrcEntry::decode(raw(8, 0, 0x205), OrcVersion::V3);
        assert_eq!((call.kind, call.signal), (Kind::Call, false));
        let regs = OrcEntry::decode(raw(0, 0, 0xb05), OrcVersion::V3);
        assert_eq!((regs.kind, regs.signal), (Kind::Regs, true));
        assert_eq!(
            OrcEntry::decode(raw(0, 0, 0x100), OrcVersion::V3).kind,
            Kind::EndOfStack
        );
        assert_eq!(
            OrcEntry::decode(raw(0, 0, 0x400), OrcVersion::V3).kind,
            Kind::RegsPartial
        );
        assert_eq!(
            OrcEntry::decode(raw(0, 0, 0x700), OrcVersion::V3).kind,
            Kind::Unknown(7)
        );
        assert_eq!(
            OrcEntry::decode(raw(0, 0, 0x0e), OrcVersion::V3).sp_reg,
            Reg::Unknown(14)
        );
    }

    #[test]
    fn format_from_release_and_header() {
        let f =
            |r| OrcFormat::for_release(r).map(|f| (f.version, f.sp_indirect_offset_after_deref));
        assert_eq!(f("6.1.0-56-amd64"), Some((OrcVersion::V1, true)));
        assert_eq!(f("5.10.0-30-amd64"), Some((OrcVersion::V1, false)));
        assert_eq!(f("6.3.13"), Some((OrcVersion::V2, true)));
        assert_eq!(f("6.12.107+deb13-amd64"), Some((OrcVersion::V3, true)));
        assert_eq!(f("7.0"), Some((OrcVersion::V3, true)));
        assert_eq!(f("linux"), None);
        assert_eq!(
            OrcFormat::for_header(&HASH_V2).map(|f| f.version),
            Some(OrcVersion::V2)
        );
        assert_eq!(OrcFormat::for_header(&[0; 20]), None);
    }
}

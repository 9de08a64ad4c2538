//! x86-64 general registers in `struct pt_regs` order, which is also the order of
//! the first 21 words of `user_regs_struct` in an ELF `NT_PRSTATUS` note.

/// Register names, in `pt_regs` order, as crash prints them.
pub const NAMES: [&str; 21] = [
    "R15", "R14", "R13", "R12", "RBP", "RBX", "R11", "R10", "R9", "R8", "RAX", "RCX", "RDX", "RSI",
    "RDI", "ORIG_RAX", "RIP", "CS", "RFLAGS", "RSP", "SS",
];

/// Word indexes into [`Registers`].
pub mod index {
    pub const R13: usize = 2;
    pub const RBP: usize = 4;
    pub const R10: usize = 7;
    pub const RDX: usize = 12;
    pub const RDI: usize = 14;
    pub const RIP: usize = 16;
    pub const CS: usize = 17;
    pub const RSP: usize = 19;
}

/// Offset of `pr_reg` in x86-64 `struct elf_prstatus`.
const PRSTATUS_REGS: usize = 112;

/// A `struct pt_regs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registers(pub [u64; 21]);

impl Registers {
    /// `sizeof(struct pt_regs)`.
    pub const SIZE: usize = 168;
    /// Offset of the hardware IRET frame (ip, cs, flags, sp, ss) in `pt_regs`.
    pub const IRET_OFFSET: usize = 128;
    /// Size of the IRET frame.
    pub const IRET_SIZE: usize = 40;

    /// Registers from the start of `bytes` (at least [`Registers::SIZE`] long).
    pub fn from_bytes(bytes: &[u8]) -> Option<Registers> {
        let bytes = bytes.get(..Self::SIZE)?;
        let mut words = [0u64; 21];
        for (w, b) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            *w = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        }
        Some(Registers(words))
    }

    /// Only the IRET frame is known: every other register reads as zero.
    pub fn from_iret_frame(bytes: &[u8]) -> Option<Registers> {
        let bytes = bytes.get(..Self::IRET_SIZE)?;
        let mut words = [0u64; 21];
        for (w, b) in words[index::RIP..].iter_mut().zip(bytes.chunks_exact(8)) {
            *w = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        }
        Some(Registers(words))
    }

    /// The registers of an x86-64 `NT_PRSTATUS` note's payload.
    pub fn from_prstatus(desc: &[u8]) -> Option<Registers> {
        Registers::from_bytes(desc.get(PRSTATUS_REGS..)?)
    }

    pub fn ip(&self) -> u64 {
        self.0[index::RIP]
    }

    pub fn sp(&self) -> u64 {
        self.0[index::RSP]
    }

    pub fn bp(&self) -> u64 {
        self.0[index::RBP]
    }

    /// Interrupted in user mode (CPL 3).
    pub fn user_mode(&self) -> bool {
        self.0[index::CS] & 3 == 3
    }

    /// `(name, value)` in `pt_regs` order.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        NAMES.iter().copied().zip(self.0.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prstatus_and_iret_frames() {
        let mut desc = vec![0u8; PRSTATUS_REGS];
        for i in 0..27u64 {
            desc.extend((i + 1).to_le_bytes());
        }
        let r = Registers::from_prstatus(&desc).unwrap();
        assert_eq!((r.0[0], r.ip(), r.sp(), r.bp()), (1, 17, 20, 5));
        assert!(!r.user_mode(), "cs 18 is CPL 2, not user mode");
        let mut user = r;
        user.0[index::CS] = 0x33;
        assert!(user.user_mode());
        assert!(Registers::from_prstatus(&desc[..200]).is_none());
        let iret: Vec<u8> = [
            0xffff_ffff_8100_0000u64,
            0x10,
            0x246,
            0xffff_c900_0000_3f00,
            0x18,
        ]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
        let p = Registers::from_iret_frame(&iret).unwrap();
        assert_eq!(
            (p.ip(), p.sp(), p.bp()),
            (0xffff_ffff_8100_0000, 0xffff_c900_0000_3f00, 0)
        );
        assert!(!p.user_mode());
        assert_eq!(p.named().nth(17), Some(("CS", 0x10)));
    }
}

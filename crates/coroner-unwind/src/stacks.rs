//! The stacks one CPU or task may run on: its task stack, the CPU's IRQ stack and
//! its exception (IST) stacks. The unwinder reads only inside them, and crosses
//! from one to another only forward (never back to a stack it has left).

/// The exception stacks of `struct cea_exception_stacks`, in its order (also the
/// TSS IST index order: DF 0, NMI 1, DB 2, MCE 3, VC 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ist {
    DoubleFault,
    Nmi,
    Debug,
    MachineCheck,
    Vc,
    Vc2,
}

impl Ist {
    pub const ALL: [Ist; 6] = [
        Ist::DoubleFault,
        Ist::Nmi,
        Ist::Debug,
        Ist::MachineCheck,
        Ist::Vc,
        Ist::Vc2,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StackKind {
    Task,
    Irq,
    Exception(Ist),
}

/// `[start, end)` of one stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackRange {
    pub kind: StackKind,
    pub start: u64,
    pub end: u64,
}

impl StackRange {
    pub fn contains(&self, addr: u64, len: u64) -> bool {
        addr >= self.start && addr.checked_add(len).is_some_and(|e| e <= self.end)
    }
}

/// The known stacks. With none known, every readable address counts as stack
/// (bounded then only by the frame limit and the upward-moving stack pointer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stacks {
    ranges: Vec<StackRange>,
}

impl Stacks {
    pub fn new(ranges: Vec<StackRange>) -> Stacks {
        Stacks { ranges }
    }

    pub fn ranges(&self) -> &[StackRange] {
        &self.ranges
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The stack holding `len` bytes at `addr`.
    pub fn find(&self, addr: u64, len: u64) -> Option<&StackRange> {
        self.ranges.iter().find(|r| r.contains(addr, len))
    }
}

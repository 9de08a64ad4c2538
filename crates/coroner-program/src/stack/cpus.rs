//! Each CPU's registers at the dump, from its `NT_PRSTATUS` note. Notes come in
//! CPU order, but a kdump leaves out CPUs that were offline, so a note goes to the
//! CPU whose stacks hold its stack pointer when exactly one CPU's do, else to the
//! CPU of its position.

use coroner_unwind::{Registers, Stacks};

pub(crate) fn assign(notes: &[Registers], stacks: &[Stacks]) -> Vec<(u32, Registers)> {
    let mut out: Vec<(u32, Registers)> = Vec::new();
    for (position, regs) in notes.iter().enumerate() {
        let holders: Vec<usize> = stacks
            .iter()
            .enumerate()
            .filter(|(_, s)| s.find(regs.sp(), 8).is_some())
            .map(|(cpu, _)| cpu)
            .collect();
        let cpu = match holders[..] {
            [only] => only,
            _ => position,
        } as u32;
        if out.iter().all(|(c, _)| *c != cpu) {
            out.push((cpu, *regs));
        }
    }
    out.sort_by_key(|(cpu, _)| *cpu);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use coroner_unwind::{StackKind, StackRange};

    fn regs(sp: u64) -> Registers {
        let mut r = [0u64; 21];
        r[19] = sp;
        Registers(r)
    }

    fn stack(start: u64) -> Stacks {
        Stacks::new(vec![StackRange {
            kind: StackKind::Task,
            start,
            end: start + 0x4000,
        }])
    }

    #[test]
    fn notes_go_to_the_cpu_whose_stack_holds_them() {
        let stacks = [stack(0x10000), stack(0x20000), stack(0x30000)];
        // CPU 1 was offline: two notes, for CPUs 0 and 2.
        let got = assign(&[regs(0x10100), regs(0x30100)], &stacks);
        assert_eq!(got.iter().map(|(c, _)| *c).collect::<Vec<_>>(), [0, 2]);
        // A user-mode stack pointer is on no CPU's stacks: position decides.
        let got = assign(&[regs(0x7ffd_0000), regs(0x20100)], &stacks);
        assert_eq!(got.iter().map(|(c, _)| *c).collect::<Vec<_>>(), [0, 1]);
    }
}

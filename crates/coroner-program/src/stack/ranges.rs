//! Where each stack is: a CPU's task stack (`cpu_current_top_of_stack`, or the
//! TSS's `sp1` where older kernels keep it), IRQ
//! stack (`hardirq_stack_ptr`) and exception stacks (the TSS's IST pointers, the
//! hardware's own record of each stack's top), or a switched-out task's stack.
//! Sizes come from the kernel itself (the init task's stack, BTF) where it says,
//! else the x86-64 defaults.

use crate::Program;
use coroner_unwind::{Ist, StackKind, StackRange, Stacks};

/// THREAD_SIZE and IRQ_STACK_SIZE on x86-64 without KASAN.
const DEFAULT_THREAD_SIZE: u64 = 16 << 10;
const DEFAULT_IRQ_STACK_SIZE: u64 = 16 << 10;
/// EXCEPTION_STKSZ on x86-64 without KASAN (Linux 5.x on).
const DEFAULT_EXCEPTION_STACK_SIZE: u64 = 8 << 10;
/// Offsets of `sp1` and `ist[]` in `struct tss_struct` (its first member is the
/// hardware `struct x86_hw_tss`: u32 reserved, u64 sp0..sp2, u64 reserved, u64 ist[7]).
const TSS_SP1: u64 = 12;
const TSS_IST: u64 = 36;
/// The stacks with an IST slot, in IST index order.
const IST_SLOTS: [Ist; 5] = [
    Ist::DoubleFault,
    Ist::Nmi,
    Ist::Debug,
    Ist::MachineCheck,
    Ist::Vc,
];
/// `struct cea_exception_stacks` members, in IST slot order.
const IST_MEMBERS: [&str; 5] = ["DF_stack", "NMI_stack", "DB_stack", "MCE_stack", "VC_stack"];

/// Stack sizes of this kernel.
pub(crate) struct Sizes {
    pub thread: u64,
    irq: u64,
    exception: [u64; 5],
}

impl Sizes {
    pub fn of(program: &Program) -> Sizes {
        let btf = program.types().ok();
        // The init task's stack is THREAD_SIZE bytes, bounded by linker symbols.
        let thread = program
            .address_of("__end_init_task")
            .zip(program.address_of("__start_init_task"))
            .and_then(|(end, start)| end.checked_sub(start))
            .filter(|s| s.is_power_of_two())
            .unwrap_or(DEFAULT_THREAD_SIZE);
        let irq = btf
            .and_then(|b| b.size_of(b.find("irq_stack")?))
            .unwrap_or(DEFAULT_IRQ_STACK_SIZE);
        let exception = IST_MEMBERS.map(|m| {
            btf.and_then(|b| {
                let field = b.member(b.find("cea_exception_stacks")?, m)?;
                b.size_of(field.ty)
            })
            .unwrap_or(DEFAULT_EXCEPTION_STACK_SIZE)
        });
        Sizes {
            thread,
            irq,
            exception,
        }
    }
}

/// A per-CPU pointer: its own symbol (Linux up to 6.1, and 6.15 on), or a
/// member of `pcpu_hot` (6.2 to 6.14) placed by BTF.
fn per_cpu_word(program: &Program, cpu: u32, symbol: &str, hot_member: &str) -> Option<u64> {
    let at = match program.address_of(symbol) {
        Some(_) => program.per_cpu_address(symbol, cpu)?,
        None => {
            let off = program.types().ok()?.offset_of("pcpu_hot", hot_member)?;
            program.per_cpu_address("pcpu_hot", cpu)? + off
        }
    };
    program.read_u64(at).ok().filter(|&v| v != 0)
}

/// The stacks CPU `cpu` may be running on.
pub(crate) fn cpu_stacks(program: &Program, cpu: u32, sizes: &Sizes) -> Stacks {
    let mut ranges = Vec::new();
    let tss = program.per_cpu_address("cpu_tss_rw", cpu);
    // Older kernels (5.10 among them) keep the current task's stack top in the
    // TSS's sp1.
    let tss_sp1 = || program.read_u64(tss? + TSS_SP1).ok().filter(|&v| v != 0);
    let task_top =
        per_cpu_word(program, cpu, "cpu_current_top_of_stack", "top_of_stack").or_else(tss_sp1);
    if let Some(top) = task_top {
        ranges.push(range(StackKind::Task, top, sizes.thread));
    }
    // hardirq_stack_ptr points at the IRQ stack's top word (top - 8), where the
    // interrupted stack pointer is saved on the switch.
    if let Some(ptr) = per_cpu_word(program, cpu, "hardirq_stack_ptr", "hardirq_stack_ptr") {
        ranges.push(range(StackKind::Irq, ptr.wrapping_add(8), sizes.irq));
    }
    if let Some(tss) = tss {
        for (slot, (&ist, &size)) in IST_SLOTS.iter().zip(&sizes.exception).enumerate() {
            let top = program.read_u64(tss + TSS_IST + 8 * slot as u64).ok();
            if let Some(top) = top.filter(|&t| t != 0 && size > 0) {
                ranges.push(range(StackKind::Exception(ist), top, size));
            }
        }
    }
    Stacks::new(ranges)
}

/// The stack of a switched-out task: from its base (`task->stack`), or the
/// THREAD_SIZE-aligned block holding its saved stack pointer (task stacks are
/// THREAD_SIZE-aligned).
pub(crate) fn task_stack(sp: u64, base: Option<u64>, sizes: &Sizes) -> Stacks {
    let start = base.unwrap_or(sp & !(sizes.thread - 1));
    Stacks::new(vec![StackRange {
        kind: StackKind::Task,
        start,
        end: start.wrapping_add(sizes.thread),
    }])
}

fn range(kind: StackKind, top: u64, size: u64) -> StackRange {
    StackRange {
        kind,
        start: top.wrapping_sub(size),
        end: top,
    }
}

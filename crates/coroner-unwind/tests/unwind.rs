//! The unwinder on small synthetic kernels: an ORC table, a few functions, a task
//! stack and an IRQ stack laid out in recorded pages, exercising each entry type
//! and base register, and the ways bad data must end a trace.

use coroner_unwind::fuzzing::Pages;
use coroner_unwind::{
    Code, End, FoundBy, ModuleCode, OrcFormat, OrcTable, Registers, StackKind, StackRange, Stacks,
    Start, SwitchFrame, Trace, Unwinder,
};

const TEXT: u64 = 0xffff_ffff_8100_0000;
const ORC: u64 = 0xffff_ffff_8200_0000;
const TASK_STACK: u64 = 0xffff_c900_0001_0000;
const IRQ_STACK: u64 = 0xffff_c900_0002_0000;
const MODULE: u64 = 0xffff_ffff_c000_0000;

// ORC_REG_* and version-3 ORC_TYPE_* numbers.
const UNDEF: u16 = 0;
const PREV_SP: u16 = 1;
const BP: u16 = 4;
const SP: u16 = 5;
const SP_INDIRECT: u16 = 9;
const T_UNDEFINED: u16 = 0;
const T_END: u16 = 1;
const T_CALL: u16 = 2;
const T_REGS: u16 = 3;

struct Kernel {
    pages: Pages,
    rows: Vec<(u64, i16, i16, u16)>,
    functions: Vec<u64>,
}

impl Kernel {
    fn new() -> Kernel {
        Kernel {
            pages: Pages::default(),
            rows: Vec::new(),
            functions: Vec::new(),
        }
    }

    fn poke(&mut self, addr: u64, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            let at = addr + i as u64;
            let page = self
                .pages
                .0
                .entry(at & !0xfff)
                .or_insert_with(|| vec![0; 4096]);
            page[(at & 0xfff) as usize] = *b;
        }
    }

    fn word(&mut self, addr: u64, value: u64) {
        self.poke(addr, &value.to_le_bytes());
    }

    /// An ORC row: from `ip` on, `kind` with the caller's SP at `sp_reg + sp_off`.
    fn orc(&mut self, ip: u64, sp_reg: u16, sp_off: i16, bp_reg: u16, bp_off: i16, kind: u16) {
        let signal = u16::from(kind == T_REGS);
        self.rows.push((
            ip,
            sp_off,
            bp_off,
            sp_reg | bp_reg << 4 | kind << 8 | signal << 11,
        ));
    }

    /// Writes the ORC rows into memory as `.orc_unwind_ip` and `.orc_unwind`.
    fn code(&mut self) -> Code {
        self.rows.sort_by_key(|r| r.0);
        let n = self.rows.len() as u64;
        let entries = ORC + 0x10000;
        for (i, &(ip, sp_off, bp_off, flags)) in self.rows.clone().iter().enumerate() {
            let at = ORC + 4 * i as u64;
            self.poke(at, &((ip as i64 - at as i64) as i32).to_le_bytes());
            let mut e = sp_off.to_le_bytes().to_vec();
            e.extend(bp_off.to_le_bytes());
            e.extend(flags.to_le_bytes());
            self.poke(entries + 6 * i as u64, &e);
        }
        Code {
            format: OrcFormat::LATEST,
            kernel_text: std::iter::once(TEXT..TEXT + 0x10000).collect(),
            kernel_orc: Some(OrcTable::new(ORC, entries, n).unwrap()),
            modules: vec![ModuleCode {
                name: "m".into(),
                text: MODULE..MODULE + 0x1000,
                orc: None,
            }],
        }
    }

    fn unwind(&mut self, start: Start) -> Trace {
        let code = self.code();
        let stacks = stacks();
        Unwinder {
            memory: &self.pages,
            code: &code,
            functions: &self.functions,
            stacks: &stacks,
            max_frames: 64,
        }
        .unwind(start)
    }
}

fn stacks() -> Stacks {
    Stacks::new(vec![
        StackRange {
            kind: StackKind::Task,
            start: TASK_STACK,
            end: TASK_STACK + 0x4000,
        },
        StackRange {
            kind: StackKind::Irq,
            start: IRQ_STACK,
            end: IRQ_STACK + 0x4000,
        },
    ])
}

fn regs(ip: u64, sp: u64, bp: u64) -> Registers {
    let mut r = [0u64; 21];
    r[16] = ip;
    r[17] = 0x10;
    r[19] = sp;
    r[4] = bp;
    Registers(r)
}

fn pcs(t: &Trace) -> Vec<u64> {
    t.frames.iter().map(|f| f.pc).collect()
}

/// f_a (TEXT+0x100, a frame-pointer prologue), f_b (TEXT+0x200, 16 bytes of
/// locals), an entry stub (TEXT+0x300) whose pt_regs sit at its caller's SP, and
/// the bottom of the stack at TEXT+0x400.
fn standard_kernel(k: &mut Kernel) {
    k.orc(TEXT, UNDEF, 0, UNDEF, 0, T_UNDEFINED);
    k.orc(TEXT + 0x100, SP, 8, UNDEF, 0, T_CALL);
    k.orc(TEXT + 0x104, SP, 16, PREV_SP, -16, T_CALL);
    k.orc(TEXT + 0x200, SP, 24, UNDEF, 0, T_CALL);
    k.orc(TEXT + 0x300, SP, 0, UNDEF, 0, T_REGS);
    k.orc(TEXT + 0x400, UNDEF, 0, UNDEF, 0, T_END);
    k.orc(TEXT + 0x500, UNDEF, 0, UNDEF, 0, T_UNDEFINED);
}

#[test]
fn call_frames_then_saved_registers_then_the_bottom() {
    let mut k = Kernel::new();
    standard_kernel(&mut k);
    let sp = TASK_STACK + 0x3000;
    k.word(sp, 0x1234); // f_a's saved rbp
    k.word(sp + 8, TEXT + 0x210); // return into f_b
    k.word(sp + 0x20, TEXT + 0x310); // f_b's return into the entry stub
    let mut saved = regs(TEXT + 0x410, TASK_STACK + 0x3400, 0x5678);
    saved.0[0] = 0xf15;
    let bytes: Vec<u8> = saved.0.iter().flat_map(|v| v.to_le_bytes()).collect();
    k.poke(sp + 0x28, &bytes);
    let t = k.unwind(Start::Registers(regs(TEXT + 0x110, sp, 0)));
    assert_eq!(t.end, End::EndOfStack);
    assert_eq!(
        pcs(&t),
        [TEXT + 0x110, TEXT + 0x210, TEXT + 0x310, TEXT + 0x410]
    );
    let sps: Vec<u64> = t.frames.iter().map(|f| f.sp).collect();
    assert_eq!(sps, [sp, sp + 8, sp + 0x20, TASK_STACK + 0x3400]);
    assert_eq!(
        t.frames.iter().map(|f| f.exact).collect::<Vec<_>>(),
        [true, false, false, true]
    );
    let at_entry = t.frames[2]
        .regs
        .expect("the entry frame carries its pt_regs");
    assert_eq!(
        (at_entry.address, at_entry.regs.0[0], at_entry.partial),
        (sp + 0x28, 0xf15, false)
    );
    assert!(t.frames.iter().all(|f| f.stack == Some(StackKind::Task)));
    assert_eq!(t.frames[1].found_by, FoundBy::Orc);
}

#[test]
fn user_mode_registers_end_the_trace() {
    let mut k = Kernel::new();
    standard_kernel(&mut k);
    let sp = TASK_STACK + 0x3f00;
    k.word(sp + 0x10, TEXT + 0x310);
    let mut user = regs(0x47b7a0, 0x7ffd_0000_0000, 0);
    user.0[17] = 0x33;
    let bytes: Vec<u8> = user.0.iter().flat_map(|v| v.to_le_bytes()).collect();
    k.poke(sp + 0x18, &bytes);
    let t = k.unwind(Start::Registers(regs(TEXT + 0x208, sp, 0)));
    assert_eq!(t.end, End::UserMode);
    assert_eq!(pcs(&t), [TEXT + 0x208, TEXT + 0x310]);
    assert_eq!(t.frames[1].regs.unwrap().regs.ip(), 0x47b7a0);
}

#[test]
fn user_mode_start_has_no_kernel_frames() {
    let mut k = Kernel::new();
    standard_kernel(&mut k);
    let mut user = regs(0x400000, 0x7ffd_0000_0000, 0);
    user.0[17] = 0x33;
    let t = k.unwind(Start::Registers(user));
    assert!(t.frames.is_empty());
    assert_eq!(t.end, End::UserMode);
}

#[test]
fn irq_stack_switch_through_an_indirect_stack_pointer() {
    let mut k = Kernel::new();
    standard_kernel(&mut k);
    // TEXT+0x600: the code after `call` on the IRQ stack: the previous SP is the
    // word at SP (call_on_irqstack's saved stack pointer), plus 8.
    k.orc(TEXT + 0x600, SP_INDIRECT, 8, UNDEF, 0, T_CALL);
    k.orc(TEXT + 0x700, UNDEF, 0, UNDEF, 0, T_UNDEFINED);
    let irq_top = IRQ_STACK + 0x4000 - 8; // hardirq_stack_ptr
    let task_sp = TASK_STACK + 0x2000;
    k.word(irq_top, task_sp); // saved task stack pointer at the IRQ stack's top
    k.word(irq_top - 8, TEXT + 0x610); // f_b returns into the switching code
    k.word(task_sp, TEXT + 0x410); // which returns to the bottom
    let t = k.unwind(Start::Registers(regs(TEXT + 0x208, irq_top - 24, 0)));
    assert_eq!(t.end, End::EndOfStack, "{t:?}");
    assert_eq!(pcs(&t), [TEXT + 0x208, TEXT + 0x610, TEXT + 0x410]);
    let kinds: Vec<_> = t.frames.iter().map(|f| f.stack).collect();
    assert_eq!(
        kinds,
        [
            Some(StackKind::Irq),
            Some(StackKind::Irq),
            Some(StackKind::Task)
        ]
    );
}

#[test]
fn going_back_to_a_stack_already_left_stops() {
    let mut k = Kernel::new();
    standard_kernel(&mut k);
    k.orc(TEXT + 0x600, SP_INDIRECT, 8, UNDEF, 0, T_CALL);
    k.orc(TEXT + 0x700, UNDEF, 0, UNDEF, 0, T_UNDEFINED);
    let irq_top = IRQ_STACK + 0x4000 - 8; // hardirq_stack_ptr
    let task_sp = TASK_STACK + 0x2000;
    k.word(irq_top, task_sp);
    k.word(irq_top - 8, TEXT + 0x610);
    // The task stack "returns" into the switch code again, pointing back at the
    // IRQ stack: a loop between stacks.
    k.word(task_sp, TEXT + 0x610);
    k.word(task_sp + 8, IRQ_STACK + 0x100);
    k.word(IRQ_STACK + 0x100, TEXT + 0x210);
    let t = k.unwind(Start::Registers(regs(TEXT + 0x208, irq_top - 24, 0)));
    assert!(
        matches!(&t.end, End::Stopped(why) if why.contains("goes back")),
        "{t:?}"
    );
}

#[test]
fn a_stack_pointer_that_does_not_rise_stops() {
    let mut k = Kernel::new();
    // A function whose caller's SP is its own SP: the same frame forever.
    k.orc(TEXT, SP, 0, UNDEF, 0, T_CALL);
    k.orc(TEXT + 0x100, UNDEF, 0, UNDEF, 0, T_UNDEFINED);
    let sp = TASK_STACK + 0x1000;
    k.word(sp - 8, TEXT + 0x10);
    let t = k.unwind(Start::Registers(regs(TEXT + 0x10, sp, 0)));
    assert!(
        matches!(&t.end, End::Stopped(why) if why.contains("not above")),
        "{t:?}"
    );
    assert_eq!(t.frames.len(), 1);
}

#[test]
fn deep_recursion_is_cut_at_the_frame_limit() {
    let mut k = Kernel::new();
    k.orc(TEXT, SP, 8, UNDEF, 0, T_CALL);
    k.orc(TEXT + 0x100, UNDEF, 0, UNDEF, 0, T_UNDEFINED);
    let sp = TASK_STACK + 0x100;
    for i in 0..0x700u64 {
        k.word(sp + 8 * i, TEXT + 0x10);
    }
    let t = k.unwind(Start::Registers(regs(TEXT + 0x10, sp, 0)));
    assert_eq!(t.end, End::TooManyFrames);
    assert_eq!(t.frames.len(), 64);
}

#[test]
fn garbage_return_addresses_and_missing_pages_stop_with_a_reason() {
    let mut k = Kernel::new();
    standard_kernel(&mut k);
    let sp = TASK_STACK + 0x3000;
    k.word(sp + 8, 0xdead_beef);
    let t = k.unwind(Start::Registers(regs(TEXT + 0x110, sp, 0)));
    assert!(
        matches!(&t.end, End::Stopped(why) if why.contains("not kernel code")),
        "{t:?}"
    );

    let mut k = Kernel::new();
    standard_kernel(&mut k);
    let t = k.unwind(Start::Registers(regs(TEXT + 0x110, TASK_STACK + 0x3000, 0)));
    assert!(
        matches!(&t.end, End::Stopped(why) if why.contains("not recorded")),
        "{t:?}"
    );

    let mut k = Kernel::new();
    standard_kernel(&mut k);
    let t = k.unwind(Start::Registers(regs(TEXT + 0x110, 0x1000, 0)));
    assert!(
        matches!(&t.end, End::Stopped(why) if why.contains("not on a known stack")),
        "{t:?}"
    );
}

#[test]
fn code_without_orc_data_falls_back_to_frame_pointers() {
    let mut k = Kernel::new();
    standard_kernel(&mut k);
    let sp = TASK_STACK + 0x2000;
    let bp = sp + 0x40;
    k.word(bp, TASK_STACK + 0x2100); // caller's rbp
    k.word(bp + 8, TEXT + 0x210); // return into f_b
    k.word(bp + 0x10 + 0x10, TEXT + 0x410); // f_b's caller: the bottom
    let t = k.unwind(Start::Registers(regs(MODULE + 0x20, sp, bp)));
    assert_eq!(t.end, End::EndOfStack, "{t:?}");
    assert_eq!(pcs(&t), [MODULE + 0x20, TEXT + 0x210, TEXT + 0x410]);
    assert_eq!(t.frames[1].found_by, FoundBy::FramePointer);
    assert_eq!(t.frames[2].found_by, FoundBy::Orc);
}

#[test]
fn a_switched_out_task_starts_from_its_saved_frame() {
    let mut k = Kernel::new();
    standard_kernel(&mut k);
    let thread_sp = TASK_STACK + 0x3e00;
    // inactive_task_frame: r15 r14 r13 r12 bx bp ret_addr
    k.word(thread_sp + 40, 0xbbbb);
    k.word(thread_sp + 48, TEXT + 0x210);
    k.word(thread_sp + 56 + 0x10, TEXT + 0x410);
    let t = k.unwind(Start::Switched {
        sp: thread_sp,
        frame: SwitchFrame::X86_64,
    });
    assert_eq!(t.end, End::EndOfStack, "{t:?}");
    assert_eq!(pcs(&t), [TEXT + 0x210, TEXT + 0x410]);
    assert_eq!(t.frames[0].sp, thread_sp + 48);
    assert!(!t.frames[0].exact);

    // A task that never ran "returns" to ret_from_fork, which is looked up as is.
    let mut k = Kernel::new();
    standard_kernel(&mut k);
    k.word(thread_sp + 48, TEXT + 0x400);
    let frame = SwitchFrame {
        fork_entry: Some(TEXT + 0x400),
        ..SwitchFrame::X86_64
    };
    let t = k.unwind(Start::Switched {
        sp: thread_sp,
        frame,
    });
    assert_eq!(t.end, End::EndOfStack, "{t:?}");
    assert!(t.frames[0].exact);
}

#[test]
fn code_without_unwind_data_returns_to_the_call_into_its_function() {
    let mut k = Kernel::new();
    standard_kernel(&mut k);
    k.functions = vec![TEXT, TEXT + 0x100, TEXT + 0x200, TEXT + 0x300, TEXT + 0x400];
    // f_b calls the function at TEXT (ORC undefined) from TEXT+0x21b.
    let rel = (TEXT as i64 - (TEXT + 0x220) as i64) as i32;
    k.poke(TEXT + 0x21b, &[0xe8]);
    k.poke(TEXT + 0x21c, &rel.to_le_bytes());
    let sp = TASK_STACK + 0x2000;
    k.word(sp + 8, TEXT + 0x310); // code, but not after a call to TEXT: skipped
    k.word(sp + 0x18, TEXT + 0x220);
    k.word(sp + 0x30, TEXT + 0x410);
    let t = k.unwind(Start::Registers(regs(TEXT + 0x50, sp, 0)));
    assert_eq!(t.end, End::EndOfStack, "{t:?}");
    assert_eq!(pcs(&t), [TEXT + 0x50, TEXT + 0x220, TEXT + 0x410]);
    assert_eq!(
        (t.frames[1].sp, t.frames[1].found_by),
        (sp + 0x18, FoundBy::StackScan)
    );

    // With no such call on the stack, the trace stops and says why.
    k.word(sp + 0x18, 0);
    let t = k.unwind(Start::Registers(regs(TEXT + 0x50, sp, 0)));
    assert!(
        matches!(&t.end, End::Stopped(why) if why.contains("no call")),
        "{t:?}"
    );
}

#[test]
fn undefined_orc_data_stops() {
    let mut k = Kernel::new();
    standard_kernel(&mut k);
    let t = k.unwind(Start::Registers(regs(TEXT + 0x50, TASK_STACK + 0x100, 0)));
    assert!(
        matches!(&t.end, End::Stopped(why) if why.contains("no unwind data")),
        "{t:?}"
    );
}

#[test]
fn bp_based_frames() {
    let mut k = Kernel::new();
    standard_kernel(&mut k);
    // TEXT+0x800: a realigned-stack function: the caller's SP is rbp + 16 and
    // the caller's rbp is saved at rbp.
    k.orc(TEXT + 0x800, BP, 16, BP, 0, T_CALL);
    k.orc(TEXT + 0x900, UNDEF, 0, UNDEF, 0, T_UNDEFINED);
    let sp = TASK_STACK + 0x1000;
    let bp = sp + 0x80;
    k.word(bp, 0x7777);
    k.word(bp + 8, TEXT + 0x410);
    let t = k.unwind(Start::Registers(regs(TEXT + 0x820, sp, bp)));
    assert_eq!(t.end, End::EndOfStack, "{t:?}");
    assert_eq!(pcs(&t), [TEXT + 0x820, TEXT + 0x410]);
}

//! The unwinder: the kernel's own ORC algorithm (arch/x86/kernel/unwind_orc.c)
//! run over a dump. From a CPU's registers or a switched-out task's saved frame it
//! finds each caller's stack pointer, frame pointer and return address; register
//! frames (`pt_regs` saved by exception, interrupt and syscall entry) carry the
//! interrupted context, which may be on another stack (IRQ, exception) or in user
//! mode, where the kernel stack ends.
//!
//! Bad data cannot make it loop or run away: reads stay on the known stacks, the
//! stack pointer must rise while on one stack, a stack once left is never
//! re-entered, and at most `max_frames` frames are produced.

use crate::code::{Code, Functions, Lookup};
use crate::entry::{Kind, OrcEntry, Reg};
use crate::regs::{index, Registers};
use crate::stacks::{StackKind, StackRange, Stacks};
use coroner_mem::Memory;

/// Deeper than any real kernel stack (a 16 KiB stack holds ~100 frames).
pub const MAX_FRAMES: usize = 256;
/// Bytes of stack searched for the call into a function without unwind data.
const SCAN_LIMIT: u64 = 4096;
/// `call rel32`.
const CALL_REL32: u8 = 0xe8;

/// Layout of `struct inactive_task_frame`, which `__switch_to_asm` leaves at a
/// switched-out task's `thread.sp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchFrame {
    pub size: u64,
    /// Offsets of its `bp` and `ret_addr` members.
    pub bp: u64,
    pub ret_addr: u64,
    /// `ret_from_fork` (`ret_from_fork_asm` since 6.7): a task that has never
    /// run "returns" to its first instruction, which is looked up as is.
    pub fork_entry: Option<u64>,
}

impl SwitchFrame {
    /// Linux 4.9 to 6.x on x86-64: r15 r14 r13 r12 bx bp ret_addr.
    pub const X86_64: SwitchFrame = SwitchFrame {
        size: 56,
        bp: 40,
        ret_addr: 48,
        fork_entry: None,
    };
}

/// Where an unwind starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A CPU's registers (from its `NT_PRSTATUS` note).
    Registers(Registers),
    /// A switched-out task: its `thread.sp`.
    Switched { sp: u64, frame: SwitchFrame },
}

/// How a frame was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundBy {
    /// The starting registers.
    Registers,
    /// The saved frame of a switched-out task.
    SwitchFrame,
    /// ORC data (including registers saved on the stack that ORC pointed to).
    Orc,
    /// A frame-pointer guess: the code it returned from had no ORC data.
    FramePointer,
    /// The code it returned from has ORC entries that say nothing (functions
    /// objtool skips, such as `__crash_kexec`): the nearest return address on
    /// the stack whose call instruction calls that code's function.
    StackScan,
}

/// Registers saved on the stack by an entry path (`struct pt_regs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedRegs {
    /// Address of the `pt_regs`.
    pub address: u64,
    pub regs: Registers,
    /// Only the hardware IRET frame was saved; other registers read as zero.
    pub partial: bool,
}

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub pc: u64,
    /// crash's frame address: where the return address `pc` was read, or the
    /// stack pointer when `pc` came from registers.
    pub sp: u64,
    /// `pc` is the exact instruction (from registers), not a return address; a
    /// return address belongs to the call before it, so it is named from `pc - 1`.
    pub exact: bool,
    pub stack: Option<StackKind>,
    pub found_by: FoundBy,
    /// Registers an entry path saved, read while unwinding out of this frame:
    /// the next frame is the interrupted code (or user mode, which ends the trace).
    pub regs: Option<SavedRegs>,
}

/// Why a trace ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// ORC marks the bottom of the stack (a kernel thread's or CPU's entry point).
    EndOfStack,
    /// The next context is user mode: its registers are on the last frame.
    UserMode,
    /// The unwind could go no further, and why.
    Stopped(String),
    /// [`Unwinder::max_frames`] frames were produced.
    TooManyFrames,
}

/// A stack trace, innermost frame first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub frames: Vec<Frame>,
    pub end: End,
}

/// Everything one unwind needs.
pub struct Unwinder<'a> {
    pub memory: &'a dyn Memory,
    pub code: &'a Code,
    pub functions: &'a dyn Functions,
    pub stacks: &'a Stacks,
    pub max_frames: usize,
}

struct State {
    ip: u64,
    sp: u64,
    bp: u64,
    /// Look `ip` up as is (interrupted code), not as `ip - 1` (a return address).
    signal: bool,
    regs: Option<Registers>,
    full_regs: bool,
    /// Full registers seen before a partial set (an NMI in early entry code).
    prev_regs: Option<Registers>,
    stack: Option<StackRange>,
    visited: Vec<StackKind>,
}

enum Step {
    Call(Frame),
    Regs(SavedRegs, Frame),
}

impl Unwinder<'_> {
    pub fn unwind(&self, start: Start) -> Trace {
        let mut frames = Vec::new();
        let end = match self.begin(start, &mut frames) {
            Ok(mut state) => loop {
                if frames.len() >= self.max_frames {
                    break End::TooManyFrames;
                }
                match self.step(&mut state) {
                    Ok(Step::Call(frame)) => frames.push(frame),
                    Ok(Step::Regs(saved, next)) => {
                        if let Some(last) = frames.last_mut() {
                            last.regs = Some(saved);
                        }
                        if saved.regs.user_mode() {
                            break End::UserMode;
                        }
                        frames.push(next);
                    }
                    Err(end) => break end,
                }
            },
            Err(end) => end,
        };
        Trace { frames, end }
    }

    fn begin(&self, start: Start, frames: &mut Vec<Frame>) -> Result<State, End> {
        let mut state = State {
            ip: 0,
            sp: 0,
            bp: 0,
            signal: true,
            regs: None,
            full_regs: false,
            prev_regs: None,
            stack: None,
            visited: Vec::new(),
        };
        let first = match start {
            Start::Registers(regs) => {
                if regs.user_mode() {
                    return Err(End::UserMode);
                }
                state.ip = regs.ip();
                state.sp = regs.sp();
                state.bp = regs.bp();
                state.regs = Some(regs);
                state.full_regs = true;
                Frame {
                    pc: state.ip,
                    sp: state.sp,
                    exact: true,
                    stack: None,
                    found_by: FoundBy::Registers,
                    regs: None,
                }
            }
            Start::Switched { sp, frame } => {
                let words = |off: u64| -> Result<u64, End> {
                    if off + 8 > frame.size {
                        return Err(stopped(format!(
                            "saved frame member at {off} is past its size"
                        )));
                    }
                    self.read_u64(sp.wrapping_add(off))
                };
                state.bp = words(frame.bp)?;
                state.ip = words(frame.ret_addr)?;
                state.sp = sp.wrapping_add(frame.size);
                state.signal = frame.fork_entry == Some(state.ip);
                Frame {
                    pc: state.ip,
                    sp: sp.wrapping_add(frame.ret_addr),
                    exact: state.signal,
                    stack: None,
                    found_by: FoundBy::SwitchFrame,
                    regs: None,
                }
            }
        };
        state.stack = self.stacks.find(state.sp, 8).copied();
        state.visited.extend(state.stack.map(|s| s.kind));
        frames.push(self.placed(first));
        Ok(state)
    }

    /// A frame with the stack its address is on.
    fn placed(&self, mut frame: Frame) -> Frame {
        frame.stack = self.stacks.find(frame.sp, 8).map(|s| s.kind);
        frame
    }

    fn step(&self, s: &mut State) -> Result<Step, End> {
        let lookup_ip = if s.signal { s.ip } else { s.ip.wrapping_sub(1) };
        let (orc, guessed) = if lookup_ip == 0 {
            (OrcEntry::NULL_CALL, false)
        } else {
            match self.code.lookup(self.memory, lookup_ip) {
                Ok(Lookup::Found(entry)) => (entry, false),
                Ok(Lookup::NoTable) => (OrcEntry::FRAME_POINTER, true),
                Err(e) => return Err(stopped(e.to_string())),
            }
        };
        match orc.kind {
            Kind::Undefined => return self.scan_for_caller(s),
            Kind::EndOfStack => return Err(End::EndOfStack),
            Kind::Unknown(t) => {
                return Err(stopped(format!(
                    "unknown ORC entry type {t} for {:#x}",
                    s.ip
                )));
            }
            Kind::Call | Kind::Regs | Kind::RegsPartial => {}
        }
        let sp = self.caller_sp(s, &orc)?;
        let prev_sp = s.sp;
        let step = match orc.kind {
            Kind::Call => {
                let slot = sp.wrapping_sub(8);
                let ip = self.read_u64(slot)?;
                if !self.code.is_text(ip) {
                    return Err(stopped(format!(
                        "return address {ip:#x} at {slot:#x} is not kernel code"
                    )));
                }
                s.ip = ip;
                s.sp = sp;
                s.regs = None;
                s.prev_regs = None;
                s.signal = orc.signal;
                Step::Call(Frame {
                    pc: ip,
                    sp: slot,
                    exact: orc.signal,
                    stack: None,
                    found_by: if guessed {
                        FoundBy::FramePointer
                    } else {
                        FoundBy::Orc
                    },
                    regs: None,
                })
            }
            _ => {
                let saved = self.saved_regs(sp, orc.kind == Kind::RegsPartial)?;
                if saved.partial {
                    if s.full_regs {
                        s.prev_regs = s.regs;
                    }
                } else {
                    s.prev_regs = None;
                }
                s.ip = saved.regs.ip();
                s.sp = saved.regs.sp();
                s.regs = Some(saved.regs);
                s.full_regs = !saved.partial;
                s.signal = true;
                let next = Frame {
                    pc: s.ip,
                    sp: s.sp,
                    exact: true,
                    stack: None,
                    found_by: FoundBy::Orc,
                    regs: None,
                };
                Step::Regs(saved, next)
            }
        };
        let user = matches!(&step, Step::Regs(saved, _) if saved.regs.user_mode());
        if user {
            return Ok(step);
        }
        let off = i64::from(orc.bp_offset);
        match orc.bp_reg {
            Reg::Undefined => {
                if let Some(bp) = self.reg(s, index::RBP) {
                    s.bp = bp;
                }
            }
            Reg::PrevSp => s.bp = self.read_u64(sp.wrapping_add_signed(off))?,
            Reg::Bp => s.bp = self.read_u64(s.bp.wrapping_add_signed(off))?,
            other => return Err(stopped(format!("unknown BP base register {other:?}"))),
        }
        self.move_to(s, prev_sp)?;
        Ok(match step {
            Step::Call(frame) => Step::Call(self.placed(frame)),
            Step::Regs(saved, next) => Step::Regs(saved, self.placed(next)),
        })
    }

    /// For code without unwind data: the nearest stack word that returns past a
    /// direct call to this code's function. The frame pointer is kept as is.
    fn scan_for_caller(&self, s: &mut State) -> Result<Step, End> {
        let no_data = || stopped(format!("no unwind data for {:#x}", s.ip));
        let function = self.functions.start_of(s.ip).ok_or_else(no_data)?;
        let mut limit = s.sp.saturating_add(SCAN_LIMIT);
        if let Some(stack) = s.stack {
            limit = limit.min(stack.end);
        }
        let mut at = s.sp;
        let mut found = None;
        'pages: while at < limit {
            // One read per page: stop at the page end or the limit.
            let chunk_end = (at | 0xfff).saturating_add(1).min(limit);
            let mut buf = vec![0u8; (chunk_end - at) as usize & !7];
            if buf.is_empty() {
                break;
            }
            self.read(at, &mut buf)?;
            for (i, word) in buf.chunks_exact(8).enumerate() {
                let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
                if self.code.is_text(word) && self.calls(word, function) {
                    found = Some((at + 8 * i as u64, word));
                    break 'pages;
                }
            }
            at += buf.len() as u64;
        }
        let (slot, ip) = found.ok_or_else(|| {
            stopped(format!(
                "no unwind data for {:#x}, and no call to its function on the stack",
                s.ip
            ))
        })?;
        let prev_sp = s.sp;
        s.ip = ip;
        s.sp = slot + 8;
        s.regs = None;
        s.prev_regs = None;
        s.signal = false;
        self.move_to(s, prev_sp)?;
        Ok(Step::Call(self.placed(Frame {
            pc: ip,
            sp: slot,
            exact: false,
            stack: None,
            found_by: FoundBy::StackScan,
            regs: None,
        })))
    }

    /// The instruction before `ret` is a direct call to `target`.
    fn calls(&self, ret: u64, target: u64) -> bool {
        let mut insn = [0u8; 5];
        if self.memory.read(ret.wrapping_sub(5), &mut insn).is_err() || insn[0] != CALL_REL32 {
            return false;
        }
        let rel = i32::from_le_bytes(insn[1..].try_into().expect("4 bytes"));
        ret.wrapping_add_signed(i64::from(rel)) == target
    }

    /// The caller's stack pointer (the CFA).
    fn caller_sp(&self, s: &State, orc: &OrcEntry) -> Result<u64, End> {
        let off = i64::from(orc.sp_offset);
        let after_deref = self.code.format.sp_indirect_offset_after_deref;
        let from_regs = |i: usize, name: &str| {
            self.reg(s, i).ok_or_else(|| {
                stopped(format!(
                    "unwinding {:#x} needs {name}, which no saved registers hold",
                    s.ip
                ))
            })
        };
        Ok(match orc.sp_reg {
            Reg::Sp => s.sp.wrapping_add_signed(off),
            Reg::Bp => s.bp.wrapping_add_signed(off),
            Reg::SpIndirect if after_deref => self.read_u64(s.sp)?.wrapping_add_signed(off),
            Reg::SpIndirect => self.read_u64(s.sp.wrapping_add_signed(off))?,
            Reg::BpIndirect => self.read_u64(s.bp.wrapping_add_signed(off))?,
            Reg::R10 => from_regs(index::R10, "R10")?,
            Reg::R13 => from_regs(index::R13, "R13")?,
            Reg::Di => from_regs(index::RDI, "RDI")?,
            Reg::Dx => from_regs(index::RDX, "RDX")?,
            other => return Err(stopped(format!("unknown SP base register {other:?}"))),
        })
    }

    /// A register of the current frame, known only from saved registers.
    fn reg(&self, s: &State, i: usize) -> Option<u64> {
        let regs = s.regs?;
        if s.full_regs {
            return Some(regs.0[i]);
        }
        s.prev_regs.map(|r| r.0[i])
    }

    /// `pt_regs` at `sp`, or for a partial frame the IRET frame at `sp`.
    fn saved_regs(&self, sp: u64, partial: bool) -> Result<SavedRegs, End> {
        if partial {
            let mut buf = [0u8; Registers::IRET_SIZE];
            self.read(sp, &mut buf)?;
            let regs = Registers::from_iret_frame(&buf).expect("IRET-sized buffer");
            Ok(SavedRegs {
                address: sp.wrapping_sub(Registers::IRET_OFFSET as u64),
                regs,
                partial,
            })
        } else {
            let mut buf = [0u8; Registers::SIZE];
            self.read(sp, &mut buf)?;
            let regs = Registers::from_bytes(&buf).expect("pt_regs-sized buffer");
            Ok(SavedRegs {
                address: sp,
                regs,
                partial,
            })
        }
    }

    /// Checks the move of the stack pointer from `prev_sp` to `s.sp`: upward on
    /// the same stack, or onto a stack not visited before.
    fn move_to(&self, s: &mut State, prev_sp: u64) -> Result<(), End> {
        let new = self.stacks.find(s.sp, 8).copied();
        // With no stack known at all, the stack pointer must still rise.
        let same_stack = match (s.stack, new) {
            (Some(old), Some(new)) => old == new,
            (None, None) => true,
            _ => false,
        };
        if same_stack && s.sp <= prev_sp {
            return Err(stopped(format!(
                "stack pointer {:#x} is not above {prev_sp:#x}: corrupt stack",
                s.sp
            )));
        }
        if let (false, Some(new)) = (same_stack, new) {
            if s.visited.contains(&new.kind) {
                return Err(stopped(format!(
                    "stack pointer {:#x} goes back to the {:?} stack",
                    s.sp, new.kind
                )));
            }
            s.visited.push(new.kind);
        }
        s.stack = new;
        Ok(())
    }

    fn read_u64(&self, addr: u64) -> Result<u64, End> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Reads stack memory: only on a known stack (when any are known).
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), End> {
        if !self.stacks.is_empty() && self.stacks.find(addr, buf.len() as u64).is_none() {
            return Err(stopped(format!("{addr:#x} is not on a known stack")));
        }
        self.memory
            .read(addr, buf)
            .map_err(|e| stopped(format!("reading the stack at {addr:#x}: {e}")))
    }
}

fn stopped(why: String) -> End {
    End::Stopped(why)
}

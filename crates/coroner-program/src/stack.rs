//! Stack traces from the dump alone: coroner-unwind run over the kernel's own ORC
//! tables, starting from each CPU's registers (`NT_PRSTATUS`) or from a
//! switched-out task's saved frame, with frames named from kallsyms.

mod code;
mod cpus;
mod ranges;

use crate::error::AnalysisError;
use crate::types::offset_of_any;
use crate::Program;
use coroner_unwind::fuzzing::{FunctionRecorder, Recorder, Scenario};
use coroner_unwind::{Code, Functions, Stacks, Start, SwitchFrame, Trace};
pub use coroner_unwind::{End, FoundBy, Ist, Registers, SavedRegs, StackKind, StackRange};
use ranges::Sizes;

/// One frame, named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFrame {
    pub pc: u64,
    /// crash's frame address: where the return address was read, or the stack
    /// pointer when `pc` came from registers.
    pub sp: u64,
    /// `pc` is the exact instruction (from registers), not a return address.
    pub exact: bool,
    /// The function holding `pc` (for a return address, holding the call before it).
    pub function: Option<String>,
    /// `pc` minus the function's address.
    pub offset: u64,
    /// `None` for the kernel image.
    pub module: Option<String>,
    pub stack: Option<StackKind>,
    pub found_by: FoundBy,
    /// Registers an exception, interrupt or syscall entry saved: the context the
    /// next frame (or user mode) was running in.
    pub regs: Option<SavedRegs>,
}

/// A stack trace, innermost frame first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackTrace {
    pub cpu: Option<u32>,
    /// The registers it started from (a CPU's note).
    pub registers: Option<Registers>,
    pub frames: Vec<StackFrame>,
    pub end: End,
    /// The stacks it could run on.
    pub stacks: Vec<StackRange>,
}

/// Function starts from the program's text symbols.
struct ProgramFunctions<'p>(&'p Program);

impl Functions for ProgramFunctions<'_> {
    fn start_of(&self, ip: u64) -> Option<u64> {
        let (symbol, _) = self.0.symbolize(ip)?;
        symbol.is_text().then_some(symbol.address)
    }
}

/// Unwinds stacks of one program: the kernel's code, stack sizes and each CPU's
/// registers and stacks, gathered once.
pub struct StackUnwinder<'p> {
    program: &'p Program,
    code: Code,
    sizes: Sizes,
    cpus: Vec<(u32, Registers, Stacks)>,
    switch_frame: SwitchFrame,
    warnings: Vec<String>,
}

impl Program {
    pub fn stack_unwinder(&self) -> StackUnwinder<'_> {
        let mut warnings = Vec::new();
        let code = code::kernel_code(self, &mut warnings);
        if code.kernel_orc.is_none() {
            warnings.push("no vmlinux ORC tables: unwinding by frame pointers".into());
        }
        let sizes = Sizes::of(self);
        let notes: Vec<Registers> = self
            .kernel()
            .dump()
            .notes()
            .iter()
            .filter(|n| n.is_prstatus())
            .filter_map(|n| Registers::from_prstatus(&n.desc))
            .collect();
        let count = self.cpu_count().unwrap_or(0).max(notes.len() as u32);
        let stacks: Vec<Stacks> = (0..count)
            .map(|cpu| ranges::cpu_stacks(self, cpu, &sizes))
            .collect();
        let cpus = cpus::assign(&notes, &stacks)
            .into_iter()
            .map(|(cpu, regs)| {
                let s = stacks.get(cpu as usize).cloned().unwrap_or_default();
                (cpu, regs, s)
            })
            .collect();
        let switch_frame = self.switch_frame();
        StackUnwinder {
            program: self,
            code,
            sizes,
            cpus,
            switch_frame,
            warnings,
        }
    }

    /// `struct inactive_task_frame` from BTF, else its layout since Linux 4.9.
    fn switch_frame(&self) -> SwitchFrame {
        let fork_entry = self
            .address_of("ret_from_fork_asm")
            .or_else(|| self.address_of("ret_from_fork"));
        let from_btf = self.types().ok().and_then(|btf| {
            let ty = btf.find("inactive_task_frame")?;
            Some(SwitchFrame {
                size: btf.size_of(ty)?,
                bp: btf.offset_of("inactive_task_frame", "bp")?,
                ret_addr: btf.offset_of("inactive_task_frame", "ret_addr")?,
                fork_entry,
            })
        });
        from_btf.unwrap_or(SwitchFrame {
            fork_entry,
            ..SwitchFrame::X86_64
        })
    }
}

impl StackUnwinder<'_> {
    /// CPUs with registers in the dump, in order.
    pub fn cpus(&self) -> Vec<u32> {
        self.cpus.iter().map(|c| c.0).collect()
    }

    /// What limited the unwinder (missing ORC tables, unreadable module data).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The active stack of `cpu`, from its registers at the dump.
    pub fn cpu_trace(&self, cpu: u32) -> Option<StackTrace> {
        let scenario = self.cpu_scenario(cpu)?;
        let trace = self.unwind(&scenario);
        Some(self.named(trace, Some(cpu), &scenario))
    }

    /// A switched-out task's stack, from its `thread.sp` (and `task->stack`, its
    /// stack's base, when known).
    pub fn switched_trace(&self, thread_sp: u64, stack_base: Option<u64>) -> StackTrace {
        let scenario = Scenario {
            code: self.code.clone(),
            stacks: ranges::task_stack(thread_sp, stack_base, &self.sizes),
            start: Start::Switched {
                sp: thread_sp,
                frame: self.switch_frame,
            },
            functions: Vec::new(),
        };
        let trace = self.unwind(&scenario);
        self.named(trace, None, &scenario)
    }

    /// A task's stack (`task->stack` and `thread.sp`, placed by BTF): from its
    /// CPU's registers if it was running (the CPU's current stack is its stack),
    /// else from the frame it was switched out with.
    pub fn task_trace(&self, task: u64) -> Result<StackTrace, AnalysisError> {
        let btf = self.program.types()?;
        let off = |path: &str| offset_of_any(btf, "task_struct", &[path]);
        let read = |at: u64| self.program.read_u64(at).map_err(AnalysisError::from);
        let base = read(task + off("stack")?)?;
        let running = self.cpus.iter().find(|(_, _, stacks)| {
            stacks
                .ranges()
                .iter()
                .any(|r| r.kind == StackKind::Task && r.start == base)
        });
        if let Some(&(cpu, _, _)) = running {
            return self
                .cpu_trace(cpu)
                .ok_or_else(|| AnalysisError::Corrupt(format!("CPU {cpu} has no registers")));
        }
        let sp = read(task + off("thread.sp")?)?;
        Ok(self.switched_trace(sp, Some(base)))
    }

    /// The CPU that panicked: `panic_cpu` (set by panic() and crash_kexec()), else
    /// the first CPU whose stack passes through them.
    pub fn panic_cpu(&self) -> Option<u32> {
        let cpus = self.cpus();
        let recorded = self
            .program
            .address_of("panic_cpu")
            .and_then(|at| self.program.read_u32(at).ok())
            .filter(|c| cpus.contains(c));
        recorded.or_else(|| {
            cpus.into_iter().find(|&cpu| {
                self.cpu_trace(cpu).is_some_and(|t| {
                    t.frames.iter().any(|f| {
                        matches!(
                            f.function.as_deref(),
                            Some("panic" | "crash_kexec" | "__crash_kexec")
                        )
                    })
                })
            })
        })
    }

    /// A fuzz seed: the unwind of `cpu` with every page it read.
    #[doc(hidden)]
    pub fn record_cpu(&self, cpu: u32) -> Option<(Trace, Vec<u8>)> {
        let mut scenario = self.cpu_scenario(cpu)?;
        let memory = self.program.kernel();
        let functions = ProgramFunctions(self.program);
        let pages = Recorder::new(memory);
        let starts = FunctionRecorder::new(&functions);
        let trace = scenario.unwind_with(&pages, &starts);
        scenario.functions = starts.into_starts();
        Some((trace, scenario.encode(&pages.into_pages())))
    }

    fn unwind(&self, scenario: &Scenario) -> Trace {
        scenario.unwind_with(self.program.kernel(), &ProgramFunctions(self.program))
    }

    fn cpu_scenario(&self, cpu: u32) -> Option<Scenario> {
        let (_, regs, stacks) = self.cpus.iter().find(|c| c.0 == cpu)?;
        Some(Scenario {
            code: self.code.clone(),
            stacks: stacks.clone(),
            start: Start::Registers(*regs),
            functions: Vec::new(),
        })
    }

    fn named(&self, trace: Trace, cpu: Option<u32>, scenario: &Scenario) -> StackTrace {
        let frames = trace
            .frames
            .into_iter()
            .map(|f| {
                // A return address belongs to the call just before it.
                let at = if f.exact { f.pc } else { f.pc.wrapping_sub(1) };
                let symbol = self.program.symbolize(at);
                StackFrame {
                    pc: f.pc,
                    sp: f.sp,
                    exact: f.exact,
                    function: symbol.map(|(s, _)| s.name.clone()),
                    offset: symbol.map_or(0, |(s, _)| f.pc.wrapping_sub(s.address)),
                    module: symbol.and_then(|(s, _)| s.module.clone()),
                    stack: f.stack,
                    found_by: f.found_by,
                    regs: f.regs,
                }
            })
            .collect();
        StackTrace {
            cpu,
            registers: match scenario.start {
                Start::Registers(r) => Some(r),
                Start::Switched { .. } => None,
            },
            frames,
            end: trace.end,
            stacks: scenario.stacks.ranges().to_vec(),
        }
    }
}

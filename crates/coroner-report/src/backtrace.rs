//! `bt`: backtraces in crash's shape — `#N [sp] function at pc [module]`, the
//! registers an entry saved, `--- <IRQ stack> ---` where a trace leaves a stack —
//! or as JSON. Everything printed (symbols for saved RIPs, `-f`'s stack words) is
//! read when the report is made.

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use coroner_program::{
    AnalysisError, End, FoundBy, Ist, Program, Registers, StackFrame, StackKind, StackTrace,
    StackUnwinder, Task,
};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use std::io::{self, Write};

/// Which stacks `bt` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// The panic task (on the CPU in `panic_cpu`, else the first CPU).
    Panic,
    /// The active task of every CPU.
    AllCpus,
    /// One task, by PID or `task_struct` address (hex).
    Task(String),
    /// One task by its `task_struct` address (a session's context task).
    TaskAt(u64),
    /// Every task, idle tasks first (crash's `foreach bt`).
    AllTasks,
}

#[derive(Debug, Clone)]
pub struct BtQuery {
    pub select: Selection,
    /// Also each frame's stack words (`-f`).
    pub words: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BtError {
    #[error("{0}: no such task")]
    NoSuchTask(String),
    #[error("the dump has no CPU registers")]
    NoRegisters,
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
}

/// Registers an exception, interrupt or syscall entry saved, with the symbol of
/// the instruction they interrupted when that was kernel code.
#[derive(Debug, Clone)]
pub struct SavedRegisters {
    pub registers: Registers,
    /// crash's `[exception RIP: ...]`: `None` when the entry came from user mode.
    pub exception_at: Option<String>,
}

impl Serialize for SavedRegisters {
    /// Lower-case register names to hex values.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut named: Vec<(String, u64)> = self
            .registers
            .named()
            .map(|(n, v)| (n.to_lowercase(), v))
            .collect();
        named.sort();
        let mut map = s.serialize_map(Some(named.len()))?;
        for (name, value) in &named {
            map.serialize_entry(name, &Addr(*value))?;
        }
        map.end()
    }
}

/// A stack word `-f` shows: where, and what it holds (`None`: unreadable).
#[derive(Debug, Clone, Serialize)]
pub struct StackWord(pub Addr, pub Option<Addr>);

#[derive(Debug, Clone, Serialize)]
pub struct BtFrame {
    pub function: Option<String>,
    pub offset: u64,
    pub module: Option<String>,
    pub sp: Addr,
    pub pc: Addr,
    #[serde(serialize_with = "stack_kind")]
    pub stack: Option<StackKind>,
    #[serde(serialize_with = "found_by")]
    pub found_by: FoundBy,
    pub registers: Option<SavedRegisters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub words: Option<Vec<StackWord>>,
    /// A function inlined at this pc: a frame of its own, listed before (inside)
    /// the frame it was inlined into, with the same `pc` and `sp` (as drgn lists
    /// them).
    pub inlined: bool,
    /// The source line (from the vmlinux's DWARF; null without it): for a return
    /// address, of the call before it.
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BtStack {
    pub pid: Option<u32>,
    pub comm: Option<String>,
    /// The CPU it runs on, or last ran on.
    pub cpu: Option<u32>,
    pub task: Option<Addr>,
    pub frames: Vec<BtFrame>,
    /// `end of stack`, `user mode`, or `unwind stopped: why`.
    #[serde(serialize_with = "end_name")]
    pub end: End,
    /// The registers a trace with no kernel frames started from (user mode).
    #[serde(skip)]
    pub user_registers: Option<Registers>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BtReport {
    pub stacks: Vec<BtStack>,
    pub warnings: Vec<Warning>,
    /// `bt -l`: the text shows each frame's source line and inlined calls.
    #[serde(skip)]
    pub show_lines: bool,
}

pub fn bt(program: &Program, query: &BtQuery) -> Result<BtReport, BtError> {
    let unwinder = program.stack_unwinder();
    let mut warnings = Warning::all(Stage::Program, program.warnings());
    warnings.extend(Warning::all(Stage::Stacks, unwinder.warnings()));
    let traces = select(program, &unwinder, &query.select, &mut warnings)?;
    let stacks: Vec<BtStack> = traces
        .into_iter()
        .map(|(owner, trace)| stack(program, owner, trace, query.words, &mut warnings))
        .collect();
    Ok(BtReport {
        stacks,
        warnings,
        show_lines: false,
    })
}

/// Whose stack a trace is.
enum Owner {
    /// No task is known (a CPU without `current_task`).
    Unknown,
    /// A `task_struct` not read yet.
    At(u64),
    /// A task already read with the task list (`foreach bt`).
    Read(Task),
}

/// The traces asked for, with the task each belongs to.
fn select(
    program: &Program,
    unwinder: &StackUnwinder,
    selection: &Selection,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<(Owner, StackTrace)>, BtError> {
    let cpus = match selection {
        Selection::Task(wanted) => {
            let task = crate::tasks::find_task(program, wanted)
                .ok_or_else(|| BtError::NoSuchTask(wanted.clone()))?;
            let trace = unwinder.task_trace(task)?;
            return Ok(vec![(Owner::At(task), trace)]);
        }
        Selection::TaskAt(task) => {
            let trace = unwinder.task_trace(*task)?;
            return Ok(vec![(Owner::At(*task), trace)]);
        }
        Selection::AllTasks => {
            let read = program.tasks_read()?;
            warnings.extend(Warning::all(Stage::Tasks, &read.warnings));
            let tasks = read.tasks;
            let mut traces = Vec::with_capacity(tasks.len());
            for task in tasks {
                match unwinder.task_trace(task.address) {
                    Ok(trace) => traces.push((Owner::Read(task), trace)),
                    Err(e) => warnings.push(Warning::new(
                        Stage::Stacks,
                        format!("PID {} ({:#x}): {e}", task.pid, task.address),
                    )),
                }
            }
            return Ok(traces);
        }
        // A dump without registers (a VMware .vmem alone) has no CPU to show.
        Selection::AllCpus if unwinder.cpus().is_empty() => return Err(BtError::NoRegisters),
        Selection::AllCpus => unwinder.cpus(),
        Selection::Panic => match unwinder.panic_cpu() {
            Some(cpu) => vec![cpu],
            None => {
                let first = *unwinder.cpus().first().ok_or(BtError::NoRegisters)?;
                warnings.push(Warning::new(
                    Stage::Selection,
                    format!("no CPU was panicking; showing CPU {first}"),
                ));
                vec![first]
            }
        },
    };
    Ok(cpus
        .into_iter()
        .filter_map(|cpu| {
            let owner = program.current_task(cpu).map_or(Owner::Unknown, Owner::At);
            Some((owner, unwinder.cpu_trace(cpu)?))
        })
        .collect())
}

fn stack(
    program: &Program,
    owner: Owner,
    trace: StackTrace,
    words: bool,
    warnings: &mut Vec<Warning>,
) -> BtStack {
    // Names and PIDs need BTF; without it they are left out, never guessed.
    let (task, t) = match owner {
        Owner::Unknown => (None, None),
        Owner::At(at) => (Some(at), program.task_at(at).ok()),
        Owner::Read(t) => (Some(t.address), Some(t)),
    };
    let frames = &trace.frames;
    let mut found: Vec<BtFrame> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| BtFrame {
            function: f.function.clone(),
            offset: f.offset,
            module: f.module.clone(),
            sp: Addr(f.sp),
            pc: Addr(f.pc),
            stack: f.stack,
            found_by: f.found_by,
            registers: f.regs.map(|saved| SavedRegisters {
                registers: saved.regs,
                exception_at: (!saved.regs.user_mode())
                    .then(|| exception_at(program, saved.regs.ip())),
            }),
            words: words.then(|| read_words(program, f, frames.get(i + 1))),
            inlined: false,
            file: None,
            line: None,
            column: None,
        })
        .collect();
    if let Some(vmlinux) = program.vmlinux() {
        let exact: Vec<bool> = frames.iter().map(|f| f.exact).collect();
        found = crate::source::with_source(vmlinux, found, &exact, warnings);
    }
    BtStack {
        pid: t.as_ref().map(|t| t.pid),
        cpu: trace.cpu.or(t.as_ref().map(|t| t.cpu)),
        comm: t.map(|t| t.comm),
        task: task.map(Addr),
        frames: found,
        end: trace.end.clone(),
        user_registers: trace.registers.filter(|_| frames.is_empty()),
    }
}

/// `function+offset` as crash names an interrupted instruction, else its address.
fn exception_at(program: &Program, ip: u64) -> String {
    program
        .symbolize(ip)
        .map(|(s, off)| {
            if off > 0 {
                format!("{}+{off}", s.name)
            } else {
                s.name.clone()
            }
        })
        .unwrap_or_else(|| format!("{ip:x}"))
}

/// The stack words a frame owns (`bt -f`): after its return address up to and
/// including its caller's, or up to the registers an entry path saved.
fn frame_words(f: &StackFrame, next: Option<&StackFrame>) -> Option<(u64, u64)> {
    let start = if f.exact { f.sp } else { f.sp + 8 };
    let end = match (&f.regs, next) {
        (Some(saved), _) => saved.address,
        (None, Some(n)) if n.stack == f.stack => n.sp + 8,
        _ => return None,
    };
    // A frame owns at most a page of stack; more means the frames disagree.
    (end > start && end - start <= 4096).then_some((start, end))
}

fn read_words(program: &Program, f: &StackFrame, next: Option<&StackFrame>) -> Vec<StackWord> {
    let Some((start, end)) = frame_words(f, next) else {
        return Vec::new();
    };
    (start..end)
        .step_by(8)
        .map(|at| StackWord(Addr(at), program.read_u64(at).ok().map(Addr)))
        .collect()
}

/// crash's names for the stacks it leaves.
fn crash_stack_name(kind: StackKind) -> &'static str {
    match kind {
        StackKind::Task => "task stack",
        StackKind::Irq => "IRQ stack",
        StackKind::Exception(Ist::DoubleFault) => "DOUBLEFAULT exception stack",
        StackKind::Exception(Ist::Nmi) => "NMI exception stack",
        StackKind::Exception(Ist::Debug) => "DEBUG exception stack",
        StackKind::Exception(Ist::MachineCheck) => "MCE exception stack",
        StackKind::Exception(Ist::Vc) => "VC exception stack",
        StackKind::Exception(Ist::Vc2) => "VC2 exception stack",
    }
}

fn short_stack_name(kind: StackKind) -> &'static str {
    match kind {
        StackKind::Task => "task",
        StackKind::Irq => "irq",
        StackKind::Exception(Ist::DoubleFault) => "double-fault",
        StackKind::Exception(Ist::Nmi) => "nmi",
        StackKind::Exception(Ist::Debug) => "debug",
        StackKind::Exception(Ist::MachineCheck) => "machine-check",
        StackKind::Exception(Ist::Vc) => "vc",
        StackKind::Exception(Ist::Vc2) => "vc2",
    }
}

fn stack_kind<S: Serializer>(kind: &Option<StackKind>, s: S) -> Result<S::Ok, S::Error> {
    kind.map(short_stack_name).serialize(s)
}

/// How the frame was found: `registers`, `saved frame`, `orc`, `frame pointer`
/// (a guess: no ORC data) or `stack scan`.
fn found_by<S: Serializer>(found_by: &FoundBy, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match found_by {
        FoundBy::Registers => "registers",
        FoundBy::SwitchFrame => "saved frame",
        FoundBy::Orc => "orc",
        FoundBy::FramePointer => "frame pointer",
        FoundBy::StackScan => "stack scan",
    })
}

fn stopped_text(end: &End) -> Option<String> {
    match end {
        End::EndOfStack | End::UserMode => None,
        End::Stopped(why) => Some(format!("unwind stopped: {why}")),
        End::TooManyFrames => Some("unwind stopped: too many frames".into()),
    }
}

fn end_name<S: Serializer>(end: &End, s: S) -> Result<S::Ok, S::Error> {
    match end {
        End::EndOfStack => s.serialize_str("end of stack"),
        End::UserMode => s.serialize_str("user mode"),
        other => s.serialize_str(&stopped_text(other).unwrap_or_default()),
    }
}

impl Render for BtReport {
    fn schema(&self) -> &'static str {
        "coroner.bt/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        for (i, s) in self.stacks.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            stack_text(out, s, self.show_lines)?;
        }
        Ok(())
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        write_document(out, self.schema(), self)
    }

    fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

fn stack_text(out: &mut dyn Write, s: &BtStack, lines: bool) -> io::Result<()> {
    let pid = s.pid.map_or("?".to_string(), |p| p.to_string());
    let task = s.task.map_or("?".to_string(), |t| format!("{:x}", t.0));
    let cpu = s.cpu.map_or("?".to_string(), |c| c.to_string());
    let comm = s.comm.as_deref().unwrap_or("?");
    writeln!(
        out,
        "PID: {pid:<8} TASK: {task:<16}  CPU: {cpu:<4} COMMAND: \"{comm}\""
    )?;
    if let Some(regs) = &s.user_registers {
        writeln!(out, "    (in user mode)")?;
        registers_text(out, regs, None)?;
    }
    // crash numbers the frames it finds; inlined calls are shown under theirs.
    let frames: Vec<&BtFrame> = s.frames.iter().filter(|f| !f.inlined).collect();
    let mut inlined: Vec<&BtFrame> = Vec::new();
    let mut all = s.frames.iter();
    for (i, &f) in frames.iter().enumerate() {
        inlined.clear();
        for g in all.by_ref() {
            if !g.inlined {
                break;
            }
            inlined.push(g);
        }
        writeln!(out, "{}", frame_line(i, f))?;
        if lines {
            for g in &inlined {
                let function = g.function.as_deref().unwrap_or("?");
                let place = source_text(g).unwrap_or_default();
                writeln!(out, "    [inlined] {function} at {place}")?;
            }
            if let Some(place) = source_text(f) {
                writeln!(out, "    {place}")?;
            }
        }
        for pair in f.words.iter().flatten().collect::<Vec<_>>().chunks(2) {
            let values: Vec<String> = pair
                .iter()
                .map(|w| {
                    w.1.map_or("????????????????".into(), |v| format!("{:016x}", v.0))
                })
                .collect();
            writeln!(out, "    {:x}: {}", pair[0].0 .0, values.join(" "))?;
        }
        if let Some(saved) = &f.registers {
            registers_text(out, &saved.registers, saved.exception_at.as_deref())?;
        }
        if let (Some(this), Some(next)) = (f.stack, frames.get(i + 1).and_then(|n| n.stack)) {
            if this != next {
                writeln!(out, "--- <{}> ---", crash_stack_name(this))?;
            }
        }
    }
    if let Some(text) = stopped_text(&s.end) {
        writeln!(out, "    ({text})")?;
    }
    Ok(())
}

/// `file: line` as crash prints a frame's source.
fn source_text(f: &BtFrame) -> Option<String> {
    Some(format!("{}: {}", f.file.as_deref()?, f.line?))
}

fn frame_line(i: usize, f: &BtFrame) -> String {
    let guess = if f.found_by == FoundBy::FramePointer {
        "? "
    } else {
        ""
    };
    let name = f.function.as_deref().unwrap_or("(unknown)");
    let module = f
        .module
        .as_ref()
        .map(|m| format!(" [{m}]"))
        .unwrap_or_default();
    let number = format!("#{i}");
    format!(
        "{number:>3} [{:016x}] {guess}{name} at {:016x}{module}",
        f.sp.0, f.pc.0
    )
}

/// The registers as crash prints an exception frame.
fn registers_text(
    out: &mut dyn Write,
    regs: &Registers,
    exception_at: Option<&str>,
) -> io::Result<()> {
    let named: Vec<(&str, u64)> = regs.named().collect();
    let r = |n: &str| named.iter().find(|(k, _)| *k == n).map_or(0, |(_, v)| *v);
    if let Some(at) = exception_at {
        writeln!(out, "    [exception RIP: {at}]")?;
    }
    let w = |n: &str| format!("{:016x}", r(n));
    writeln!(
        out,
        "    RIP: {}  RSP: {}  RFLAGS: {:08x}",
        w("RIP"),
        w("RSP"),
        r("RFLAGS")
    )?;
    let rows = [
        ["RAX", "RBX", "RCX"],
        ["RDX", "RSI", "RDI"],
        ["RBP", "R8", "R9"],
        ["R10", "R11", "R12"],
        ["R13", "R14", "R15"],
    ];
    for row in rows {
        let cells: Vec<String> = row.iter().map(|n| format!("{n:>3}: {}", w(n))).collect();
        writeln!(out, "    {}", cells.join("  "))?;
    }
    writeln!(
        out,
        "    ORIG_RAX: {}  CS: {:04x}  SS: {:04x}",
        w("ORIG_RAX"),
        r("CS"),
        r("SS")
    )
}

//! `coroner bt DUMP [-a] [-f] [PID|TASK] [--json]`: backtraces from the dump
//! alone (ORC unwind tables and kallsyms in kernel memory, no vmlinux), in crash's
//! shape: `#N [sp] function at pc [module]`, exception frames with their
//! registers, `--- <IRQ stack> ---` where the trace leaves a stack.

use super::address::{open_program, release, SymbolsArg};
use coroner_program::{
    End, FoundBy, Ist, Program, Registers, StackFrame, StackKind, StackTrace, StackUnwinder,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    dump: PathBuf,
    /// A task (PID, or task_struct address in hex); default: the panic task.
    task: Option<String>,
    /// The active task of every CPU.
    #[arg(short = 'a', long = "all", conflicts_with = "task")]
    all: bool,
    /// Also the stack words of each frame.
    #[arg(short = 'f', long = "full")]
    full: bool,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    symbols: SymbolsArg,
}

/// A trace with the task it belongs to.
struct Stack {
    pid: Option<u32>,
    comm: Option<String>,
    /// The CPU it runs on, or last ran on.
    cpu: Option<u32>,
    task: Option<u64>,
    trace: StackTrace,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let program = open_program(&args.dump, &args.symbols)?;
    let unwinder = program.stack_unwinder();
    for w in unwinder.warnings() {
        eprintln!("coroner: warning: {w}");
    }
    let stacks = select(&program, &unwinder, args)?;
    if args.json {
        let out: Vec<JsonStack> = stacks
            .iter()
            .map(|s| json_stack(&program, s, args.full))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
    } else {
        for (i, s) in stacks.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print_stack(&program, s, args.full);
        }
    }
    drop(stacks);
    drop(unwinder);
    release(program);
    Ok(ExitCode::SUCCESS)
}

fn select(program: &Program, unwinder: &StackUnwinder, args: &Args) -> Result<Vec<Stack>, String> {
    // Names and PIDs need BTF; without it they are left out, never guessed.
    let named = |task: Option<u64>, trace: StackTrace| {
        let t = task.and_then(|a| program.task_at(a).ok());
        Stack {
            pid: t.as_ref().map(|t| t.pid),
            cpu: trace.cpu.or(t.as_ref().map(|t| t.cpu)),
            comm: t.map(|t| t.comm),
            task,
            trace,
        }
    };
    if let Some(wanted) = &args.task {
        let tasks = program.tasks().unwrap_or_default();
        let by_pid = wanted.parse::<u32>().ok();
        let by_address = u64::from_str_radix(wanted.trim_start_matches("0x"), 16).ok();
        let task = tasks
            .iter()
            .find(|t| Some(t.pid) == by_pid)
            .or_else(|| tasks.iter().find(|t| Some(t.address) == by_address))
            .map(|t| t.address)
            .or(by_address.filter(|_| by_pid.is_none()))
            .ok_or_else(|| format!("{wanted}: no such task"))?;
        let trace = unwinder.task_trace(task)?;
        return Ok(vec![named(Some(task), trace)]);
    }
    let cpus = if args.all {
        unwinder.cpus()
    } else {
        let cpu = match unwinder.panic_cpu() {
            Some(cpu) => cpu,
            None => {
                let first = *unwinder
                    .cpus()
                    .first()
                    .ok_or("the dump has no CPU registers")?;
                eprintln!("coroner: no CPU was panicking; showing CPU {first}");
                first
            }
        };
        vec![cpu]
    };
    Ok(cpus
        .into_iter()
        .filter_map(|cpu| {
            let trace = unwinder.cpu_trace(cpu)?;
            Some(named(program.current_task(cpu), trace))
        })
        .collect())
}

/// crash's names for the stacks it leaves.
fn stack_name(kind: StackKind) -> &'static str {
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

fn end_text(end: &End) -> Option<String> {
    match end {
        End::EndOfStack | End::UserMode => None,
        End::Stopped(why) => Some(format!("unwind stopped: {why}")),
        End::TooManyFrames => Some("unwind stopped: too many frames".into()),
    }
}

fn print_stack(program: &Program, s: &Stack, full: bool) {
    let pid = s.pid.map_or("?".to_string(), |p| p.to_string());
    let task = s.task.map_or("?".to_string(), |t| format!("{t:x}"));
    let cpu = s.cpu.map_or("?".to_string(), |c| c.to_string());
    let comm = s.comm.as_deref().unwrap_or("?");
    println!("PID: {pid:<8} TASK: {task:<16}  CPU: {cpu:<4} COMMAND: \"{comm}\"");
    let frames = &s.trace.frames;
    if frames.is_empty() {
        if let Some(regs) = &s.trace.registers {
            println!("    (in user mode)");
            print_regs(program, regs, false);
        }
    }
    for (i, f) in frames.iter().enumerate() {
        println!("{}", frame_line(i, f));
        if full {
            for line in word_lines(program, f, frames.get(i + 1)) {
                println!("{line}");
            }
        }
        if let Some(saved) = &f.regs {
            print_regs(program, &saved.regs, !saved.regs.user_mode());
        }
        if let (Some(this), Some(next)) = (f.stack, frames.get(i + 1).and_then(|n| n.stack)) {
            if this != next {
                println!("--- <{}> ---", stack_name(this));
            }
        }
    }
    if let Some(text) = end_text(&s.trace.end) {
        println!("    ({text})");
    }
}

fn frame_line(i: usize, f: &StackFrame) -> String {
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
        f.sp, f.pc
    )
}

/// The registers as crash prints an exception frame.
fn print_regs(program: &Program, regs: &Registers, kernel: bool) {
    let r: BTreeMap<&str, u64> = regs.named().collect();
    if kernel {
        let at = program
            .symbolize(regs.ip())
            .map(|(s, off)| {
                if off > 0 {
                    format!("{}+{off}", s.name)
                } else {
                    s.name.clone()
                }
            })
            .unwrap_or_else(|| format!("{:x}", regs.ip()));
        println!("    [exception RIP: {at}]");
    }
    let w = |n: &str| format!("{:016x}", r[n]);
    println!(
        "    RIP: {}  RSP: {}  RFLAGS: {:08x}",
        w("RIP"),
        w("RSP"),
        r["RFLAGS"]
    );
    let rows = [
        ["RAX", "RBX", "RCX"],
        ["RDX", "RSI", "RDI"],
        ["RBP", "R8", "R9"],
        ["R10", "R11", "R12"],
        ["R13", "R14", "R15"],
    ];
    for row in rows {
        let cells: Vec<String> = row.iter().map(|n| format!("{n:>3}: {}", w(n))).collect();
        println!("    {}", cells.join("  "));
    }
    println!(
        "    ORIG_RAX: {}  CS: {:04x}  SS: {:04x}",
        w("ORIG_RAX"),
        r["CS"],
        r["SS"]
    );
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

fn words(program: &Program, f: &StackFrame, next: Option<&StackFrame>) -> Vec<(u64, Option<u64>)> {
    let Some((start, end)) = frame_words(f, next) else {
        return Vec::new();
    };
    (start..end)
        .step_by(8)
        .map(|at| (at, program.read_u64(at).ok()))
        .collect()
}

fn word_lines(program: &Program, f: &StackFrame, next: Option<&StackFrame>) -> Vec<String> {
    words(program, f, next)
        .chunks(2)
        .map(|pair| {
            let values: Vec<String> = pair
                .iter()
                .map(|(_, v)| v.map_or("????????????????".into(), |v| format!("{v:016x}")))
                .collect();
            format!("    {:x}: {}", pair[0].0, values.join(" "))
        })
        .collect()
}

#[derive(Serialize)]
struct JsonStack {
    pid: Option<u32>,
    comm: Option<String>,
    cpu: Option<u32>,
    task: Option<String>,
    frames: Vec<JsonFrame>,
    /// `end of stack`, `user mode`, or why the unwind stopped.
    end: String,
}

#[derive(Serialize)]
struct JsonFrame {
    function: Option<String>,
    offset: u64,
    module: Option<String>,
    sp: String,
    pc: String,
    stack: Option<&'static str>,
    /// How the frame was found: `registers`, `saved frame`, `orc`,
    /// `frame pointer` (a guess: no ORC data) or `stack scan`.
    found_by: &'static str,
    /// Registers an exception, interrupt or syscall entry saved (lower-case names).
    registers: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    words: Option<Vec<[String; 2]>>,
}

fn json_stack(program: &Program, s: &Stack, full: bool) -> JsonStack {
    let frames = &s.trace.frames;
    JsonStack {
        pid: s.pid,
        comm: s.comm.clone(),
        cpu: s.cpu,
        task: s.task.map(|t| format!("{t:016x}")),
        frames: frames
            .iter()
            .enumerate()
            .map(|(i, f)| JsonFrame {
                function: f.function.clone(),
                offset: f.offset,
                module: f.module.clone(),
                sp: format!("{:016x}", f.sp),
                pc: format!("{:016x}", f.pc),
                stack: f.stack.map(json_stack_name),
                found_by: found_by_name(f.found_by),
                registers: f.regs.map(|saved| {
                    saved
                        .regs
                        .named()
                        .map(|(n, v)| (n.to_lowercase(), format!("{v:016x}")))
                        .collect()
                }),
                words: full.then(|| {
                    words(program, f, frames.get(i + 1))
                        .into_iter()
                        .map(|(at, v)| {
                            [
                                format!("{at:016x}"),
                                v.map_or("?".into(), |v| format!("{v:016x}")),
                            ]
                        })
                        .collect()
                }),
            })
            .collect(),
        end: match &s.trace.end {
            End::EndOfStack => "end of stack".into(),
            End::UserMode => "user mode".into(),
            other => end_text(other).unwrap_or_default(),
        },
    }
}

fn found_by_name(found_by: FoundBy) -> &'static str {
    match found_by {
        FoundBy::Registers => "registers",
        FoundBy::SwitchFrame => "saved frame",
        FoundBy::Orc => "orc",
        FoundBy::FramePointer => "frame pointer",
        FoundBy::StackScan => "stack scan",
    }
}

fn json_stack_name(kind: StackKind) -> &'static str {
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

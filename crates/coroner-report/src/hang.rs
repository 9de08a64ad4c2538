//! Why a machine that did not crash was stuck: each CPU's current task and where
//! it runs, the tasks blocked uninterruptibly (D state) with where they wait and
//! for how long, and the function most of them wait in. What `triage` says of a
//! dump with no panic (a hung guest's snapshot, a dump taken by NMI or by QEMU
//! from a live guest).

use crate::schema::{Addr, Stage, Warning};
use coroner_program::{Object, Program, StackTrace};
use serde::Serialize;
use std::collections::BTreeMap;

/// Frames kept per task: enough to see the wait and who waits.
const FRAMES: usize = 12;

/// Scheduler and wait-primitive functions a blocked task's stack starts with;
/// the first frame after them is where it waits.
const WAIT_MACHINERY: &[&str] = &[
    "__schedule",
    "schedule",
    "io_schedule",
    "__wait_",
    "wait_for_",
    "do_wait_for_common",
    "__down",
    "down",
    "rwsem_down_",
    "__rwsem_",
    "__mutex_lock",
    "mutex_lock",
    "rt_mutex",
    "rtlock_",
    "folio_wait_",
    "__folio_lock",
    "wait_on_page",
    "__lock_page",
    "bit_wait",
    "out_of_line_wait_on_bit",
    "__wait_on_bit",
    "wait_woken",
    "percpu_rwsem_wait",
    "__percpu_down_",
];

/// Functions an idle CPU's current task runs in.
const IDLE: &[&str] = &[
    "native_safe_halt",
    "default_idle",
    "amd_e400_idle",
    "acpi_idle",
    "intel_idle",
    "mwait_idle",
    "cpu_idle_poll",
    "do_idle",
    "cpuidle_enter",
];

/// A frame as the hang report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrameName {
    pub function: String,
    /// `None`: the kernel image.
    pub module: Option<String>,
}

impl std::fmt::Display for FrameName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.module {
            Some(m) => write!(f, "{} [{m}]", self.function),
            None => f.write_str(&self.function),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CpuState {
    pub cpu: u32,
    pub pid: Option<u32>,
    pub comm: Option<String>,
    pub task: Option<Addr>,
    /// Running the idle task, or halted in an idle loop.
    pub idle: bool,
    /// Where it was, innermost first.
    pub frames: Vec<FrameName>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlockedTask {
    pub pid: u32,
    pub comm: String,
    pub task: Addr,
    pub cpu: u32,
    /// Nanoseconds since it last ran (its CPU's runqueue clock minus its
    /// `sched_info.last_arrival`), when both are readable.
    pub blocked_ns: Option<u64>,
    /// The first frame past the scheduler and the wait primitive.
    pub waiting_in: Option<String>,
    pub frames: Vec<FrameName>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Culprit {
    /// The function the most blocked tasks wait in.
    pub function: String,
    pub tasks: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct HangReport {
    pub cpus: Vec<CpuState>,
    /// Tasks in D state, longest blocked first.
    pub blocked: Vec<BlockedTask>,
    pub culprit: Option<Culprit>,
    #[serde(skip)]
    pub warnings: Vec<Warning>,
}

impl HangReport {
    /// The CPUs that were neither idle nor in user mode.
    pub fn busy_cpus(&self) -> impl Iterator<Item = &CpuState> {
        self.cpus.iter().filter(|c| !c.idle && !c.frames.is_empty())
    }

    /// One line for a title, or `None` when nothing looks stuck.
    pub fn summary(&self) -> Option<String> {
        if let Some(c) = &self.culprit {
            let tasks = if c.tasks == 1 { "task" } else { "tasks" };
            return Some(format!(
                "hang: {} {tasks} blocked in {}",
                c.tasks, c.function
            ));
        }
        let busy = self.busy_cpus().next()?;
        Some(format!(
            "hang: CPU busy in {}",
            busy.frames.first().map_or("?", |f| f.function.as_str())
        ))
    }

    /// The frames of the task the title names.
    pub fn culprit_frames(&self) -> Vec<FrameName> {
        match &self.culprit {
            Some(c) => self
                .blocked
                .iter()
                .find(|t| t.waiting_in.as_deref() == Some(c.function.as_str()))
                .map(|t| t.frames.clone())
                .unwrap_or_default(),
            None => self
                .busy_cpus()
                .next()
                .map(|c| c.frames.clone())
                .unwrap_or_default(),
        }
    }
}

fn names(trace: &StackTrace) -> Vec<FrameName> {
    trace
        .frames
        .iter()
        .take(FRAMES)
        .map(|f| FrameName {
            function: f.function.clone().unwrap_or_else(|| format!("{:#x}", f.pc)),
            module: f.module.clone(),
        })
        .collect()
}

fn waiting_in(frames: &[FrameName]) -> Option<String> {
    frames
        .iter()
        .find(|f| !WAIT_MACHINERY.iter().any(|m| f.function.starts_with(m)))
        .map(|f| f.function.clone())
}

pub fn hang(program: &Program) -> HangReport {
    let unwinder = program.stack_unwinder();
    let mut warnings = Warning::all(Stage::Stacks, unwinder.warnings());
    let tasks = match program.tasks_read() {
        Ok(read) => {
            warnings.extend(Warning::all(Stage::Tasks, &read.warnings));
            read.tasks
        }
        Err(e) => {
            warnings.push(Warning::new(Stage::Program, format!("no task list: {e}")));
            Vec::new()
        }
    };
    let cpus: Vec<CpuState> = unwinder
        .cpus()
        .into_iter()
        .map(|cpu| {
            let task_addr = program.current_task(cpu);
            let task = task_addr.and_then(|a| tasks.iter().find(|t| t.address == a));
            let frames = unwinder
                .cpu_trace(cpu)
                .map(|t| names(&t))
                .unwrap_or_default();
            let idle = task.is_some_and(|t| t.pid == 0)
                || frames
                    .first()
                    .is_some_and(|f| IDLE.iter().any(|i| f.function.starts_with(i)));
            CpuState {
                cpu,
                pid: task.map(|t| t.pid),
                comm: task.map(|t| t.comm.clone()),
                task: task_addr.map(Addr),
                idle,
                frames,
            }
        })
        .collect();
    let clocks = Clocks::read(program, &cpus);
    let mut blocked: Vec<BlockedTask> = tasks
        .iter()
        .filter(|t| t.state == 'D')
        .map(|t| {
            let frames = match unwinder.task_trace(t.address) {
                Ok(trace) => names(&trace),
                Err(e) => {
                    warnings.push(Warning::new(Stage::Stacks, format!("PID {}: {e}", t.pid)));
                    Vec::new()
                }
            };
            BlockedTask {
                pid: t.pid,
                comm: t.comm.clone(),
                task: Addr(t.address),
                cpu: t.cpu,
                blocked_ns: clocks.since_last_run(t.address, t.cpu),
                waiting_in: waiting_in(&frames),
                frames,
            }
        })
        .collect();
    blocked.sort_by_key(|t| std::cmp::Reverse(t.blocked_ns.unwrap_or(0)));
    let mut by_function: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &blocked {
        if let Some(f) = &t.waiting_in {
            *by_function.entry(f).or_default() += 1;
        }
    }
    let culprit = by_function
        .into_iter()
        .max_by_key(|&(function, count)| (count, std::cmp::Reverse(function)))
        .map(|(function, tasks)| Culprit {
            function: function.to_string(),
            tasks,
        });
    HangReport {
        cpus,
        blocked,
        culprit,
        warnings,
    }
}

/// What tells how long ago a task last ran, read once for all blocked tasks:
/// each CPU's runqueue clock and where `sched_info.last_arrival` sits (both in
/// the scheduler's nanoseconds), as crash's `ps -m` measures it.
struct Clocks<'p> {
    program: &'p Program,
    last_arrival: Option<u64>,
    by_cpu: Vec<(u32, u64)>,
}

impl<'p> Clocks<'p> {
    fn read(program: &'p Program, cpus: &[CpuState]) -> Clocks<'p> {
        let Ok(types) = program.types() else {
            return Clocks {
                program,
                last_arrival: None,
                by_cpu: Vec::new(),
            };
        };
        let clock = |cpu: u32| {
            let rq = program.per_cpu_address("runqueues", cpu)?;
            let value = Object::new(program, types, types.find("rq")?, rq)
                .member("clock")
                .ok()?
                .read_unsigned()
                .ok()?;
            Some((cpu, u64::try_from(value).ok()?))
        };
        Clocks {
            program,
            last_arrival: types.offset_of("task_struct", "sched_info.last_arrival"),
            by_cpu: cpus.iter().filter_map(|c| clock(c.cpu)).collect(),
        }
    }

    fn since_last_run(&self, task: u64, cpu: u32) -> Option<u64> {
        let (_, clock) = self.by_cpu.iter().find(|(c, _)| *c == cpu)?;
        let last = self.program.read_u64(task + self.last_arrival?).ok()?;
        clock.checked_sub(last)
    }
}

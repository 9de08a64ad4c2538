//! `runq`: each CPU's runqueue as crash prints it: the current task, the RT
//! priority array's queued tasks, the CFS red-black tree's queued tasks
//! (leftmost first; a task group's entity is walked into, its tasks listed in
//! the same column).

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use coroner_program::{AnalysisError, Program};
use coroner_types::Types;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Clone, Serialize)]
pub struct QueuedTask {
    pub prio: i32,
    pub pid: u32,
    pub task: Addr,
    pub command: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CpuRunqueue {
    pub cpu: u32,
    pub runqueue: Addr,
    pub current: Option<QueuedTask>,
    pub rt_prio_array: Addr,
    pub rt: Vec<QueuedTask>,
    pub cfs_root: Addr,
    pub cfs: Vec<QueuedTask>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunqReport {
    pub cpus: Vec<CpuRunqueue>,
    pub warnings: Vec<Warning>,
}

fn task_line(t: &QueuedTask) -> String {
    format!(
        "PID: {:<5}  TASK: {:x}  COMMAND: \"{}\"",
        t.pid, t.task.0, t.command
    )
}

impl Render for RunqReport {
    fn schema(&self) -> &'static str {
        "coroner.runq/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        for (i, rq) in self.cpus.iter().enumerate() {
            let gap = if i > 0 { "\n" } else { "" };
            writeln!(out, "{gap}CPU {} RUNQUEUE: {:x}", rq.cpu, rq.runqueue.0)?;
            match &rq.current {
                Some(t) => writeln!(out, "  CURRENT: {}", task_line(t))?,
                None => writeln!(out, "  CURRENT: 0")?,
            }
            writeln!(out, "  RT PRIO_ARRAY: {:x}", rq.rt_prio_array.0)?;
            if rq.rt.is_empty() {
                writeln!(out, "     [no tasks queued]")?;
            }
            let mut last = None;
            for t in &rq.rt {
                match last {
                    Some(p) if p == t.prio => writeln!(out, "{:11}{}", "", task_line(t))?,
                    _ => writeln!(out, "     [{:>3}] {}", t.prio, task_line(t))?,
                }
                last = Some(t.prio);
            }
            writeln!(out, "  CFS RB_ROOT: {:x}", rq.cfs_root.0)?;
            if rq.cfs.is_empty() {
                writeln!(out, "     [no tasks queued]")?;
            }
            for t in &rq.cfs {
                writeln!(out, "     [{:>3}] {}", t.prio, task_line(t))?;
            }
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

/// Offsets the walk needs.
struct Layout {
    rq_rt: u64,
    rq_cfs: u64,
    rt_active: u64,
    tasks_timeline: u64,
    rt_entity: u64,
    rt_run_list: u64,
    se: u64,
    run_node: u64,
    my_q: Option<u64>,
    prio: u64,
    list_head_size: u64,
    rt_levels: u64,
}

impl Layout {
    fn read(types: &Types) -> Result<Layout, AnalysisError> {
        let off = |ty: &str, path: &str| {
            types
                .offset_of(ty, path)
                .ok_or_else(|| AnalysisError::Layout(format!("{ty}.{path}")))
        };
        Ok(Layout {
            rq_rt: off("rq", "rt")?,
            rq_cfs: off("rq", "cfs")?,
            rt_active: off("rt_rq", "active")?,
            tasks_timeline: off("cfs_rq", "tasks_timeline")?,
            rt_entity: off("task_struct", "rt")?,
            rt_run_list: off("sched_rt_entity", "run_list")?,
            se: off("task_struct", "se")?,
            run_node: off("sched_entity", "run_node")?,
            my_q: types.offset_of("sched_entity", "my_q"),
            prio: off("task_struct", "prio")?,
            list_head_size: 16,
            // MAX_RT_PRIO queues.
            rt_levels: 100,
        })
    }
}

/// Most entities one queue is followed for.
const MAX_QUEUED: usize = 1 << 16;

pub fn runq(program: &Program) -> Result<RunqReport, AnalysisError> {
    let types = program.types()?;
    let l = Layout::read(types)?;
    let mut warnings = Warning::all(Stage::Program, program.warnings());
    let queued = |task: u64| -> Result<QueuedTask, AnalysisError> {
        let t = program.task_at(task)?;
        let prio = program.read_u32(task + l.prio)? as i32;
        Ok(QueuedTask {
            prio,
            pid: t.pid,
            task: Addr(task),
            command: t.comm,
        })
    };
    let mut cpus = Vec::new();
    let mut grouped = false;
    for cpu in 0..program.cpu_count().unwrap_or(1) {
        let runqueue = program
            .per_cpu_address("runqueues", cpu)
            .ok_or(AnalysisError::NoSymbol("runqueues"))?;
        let current = program.current_task(cpu).and_then(|t| queued(t).ok());
        let prio_array = runqueue + l.rq_rt + l.rt_active;
        // `struct rt_prio_array`: a bitmap, then one list per priority.
        let bitmap_bytes = types
            .offset_of("rt_prio_array", "queue")
            .ok_or_else(|| AnalysisError::Layout("rt_prio_array.queue".into()))?;
        let mut rt = Vec::new();
        for prio in 0..l.rt_levels {
            let head = prio_array + bitmap_bytes + prio * l.list_head_size;
            let mut node = program.read_u64(head)?;
            let mut n = 0;
            while node != head && node != 0 && n < MAX_QUEUED {
                let entity = node - l.rt_run_list;
                rt.push(queued(entity - l.rt_entity).map(|mut t| {
                    t.prio = prio as i32;
                    t
                })?);
                node = program.read_u64(node)?;
                n += 1;
            }
        }
        let root = runqueue + l.rq_cfs + l.tasks_timeline;
        let mut cfs = Vec::new();
        grouped |= cfs_tasks(program, &l, root, &mut cfs, 0)?;
        let cfs = cfs
            .into_iter()
            .map(&queued)
            .collect::<Result<Vec<_>, _>>()?;
        cpus.push(CpuRunqueue {
            cpu,
            runqueue: Addr(runqueue),
            current,
            rt_prio_array: Addr(prio_array),
            rt,
            cfs_root: Addr(root),
            cfs,
        });
    }
    if grouped {
        warnings.push(Warning::new(
            Stage::Selection,
            "task groups are not shown as crash shows them: their tasks are listed in their CPU's CFS column",
        ));
    }
    Ok(RunqReport { cpus, warnings })
}

/// The tasks of the CFS tree at `root` (an `rb_root`), leftmost first;
/// group entities (`my_q` set) are walked into. Whether there were any.
fn cfs_tasks(
    program: &Program,
    l: &Layout,
    root: u64,
    out: &mut Vec<u64>,
    depth: u32,
) -> Result<bool, AnalysisError> {
    let mut grouped = false;
    if depth > 8 {
        return Err(AnalysisError::Corrupt(format!(
            "CFS groups nested too deep at {root:#x}"
        )));
    }
    // In-order walk with an explicit stack: rb_node is {parent_color, right, left}.
    let mut stack = Vec::new();
    let mut node = program.read_u64(root)?;
    let mut visited = 0;
    while node != 0 || !stack.is_empty() {
        while node != 0 {
            if stack.len() > 128 || visited > MAX_QUEUED {
                return Err(AnalysisError::Corrupt(format!(
                    "CFS tree at {root:#x} is not a tree"
                )));
            }
            stack.push(node);
            node = program.read_u64(node + 16)?;
        }
        let Some(here) = stack.pop() else { break };
        visited += 1;
        let entity = here - l.run_node;
        let group = match l.my_q {
            Some(at) => program.read_u64(entity + at)?,
            None => 0,
        };
        if group != 0 {
            grouped = true;
            cfs_tasks(program, l, group + l.tasks_timeline, out, depth + 1)?;
        } else {
            out.push(entity - l.se);
        }
        node = program.read_u64(here + 8)?;
    }
    Ok(grouped)
}

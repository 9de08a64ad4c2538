//! Tasks: every thread of every process (`init_task.tasks`, then each process's
//! `signal->thread_head`), plus each CPU's idle task (`runqueues.idle`), with the
//! fields `ps` shows, read through BTF offsets.

use crate::error::AnalysisError;
use crate::list::{list_entries, list_entries_lenient};
use crate::program::c_string;
use crate::types::offset_of_any;
use crate::Program;
use coroner_types::Types;

/// One kernel task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Address of its `struct task_struct`.
    pub address: u64,
    pub pid: u32,
    pub tgid: u32,
    pub ppid: u32,
    pub cpu: u32,
    /// `task_state_to_char`: R, S, D, T, t, X, Z, P or I.
    pub state: char,
    pub comm: String,
    /// Running on its CPU when the dump was taken.
    pub active: bool,
    /// A kernel thread (no user address space).
    pub kernel_thread: bool,
}

/// Tasks as read from a dump that may be incomplete: those readable, and what
/// could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TasksRead {
    pub tasks: Vec<Task>,
    pub warnings: Vec<String>,
}

/// A corrupt task list cannot make us loop forever.
const MAX_TASKS: usize = 4 << 20;

/// task_struct offsets this module needs, in bytes.
struct Layout {
    tasks: u64,
    pid: u64,
    tgid: u64,
    comm: u64,
    state: u64,
    exit_state: u64,
    real_parent: u64,
    cpu: u64,
    signal: u64,
    mm: u64,
    thread_node: u64,
    thread_head: u64,
    rq_idle: u64,
}

impl Layout {
    fn from(btf: &Types) -> Result<Layout, AnalysisError> {
        let off = |ty: &str, paths: &[&str]| offset_of_any(btf, ty, paths);
        Ok(Layout {
            tasks: off("task_struct", &["tasks"])?,
            pid: off("task_struct", &["pid"])?,
            tgid: off("task_struct", &["tgid"])?,
            comm: off("task_struct", &["comm"])?,
            // Renamed in 5.14 so that nobody reads it without READ_ONCE.
            state: off("task_struct", &["__state", "state"])?,
            exit_state: off("task_struct", &["exit_state"])?,
            real_parent: off("task_struct", &["real_parent"])?,
            cpu: off("task_struct", &["thread_info.cpu", "cpu"])?,
            signal: off("task_struct", &["signal"])?,
            mm: off("task_struct", &["mm"])?,
            thread_node: off("task_struct", &["thread_node"])?,
            thread_head: off("signal_struct", &["thread_head"])?,
            rq_idle: off("rq", &["idle"])?,
        })
    }
}

/// The kernel's `task_state_to_char`: the highest reported state bit, with
/// TASK_IDLE (uninterruptible but not counted in the load) as `I`.
fn state_char(state: u32, exit_state: u32) -> char {
    const TASK_IDLE: u32 = 0x402;
    const REPORT: u32 = 0x7f;
    let bits = if state == TASK_IDLE {
        0x80
    } else {
        (state | exit_state) & REPORT
    };
    let index = 32 - bits.leading_zeros();
    b"RSDTtXZPI"[index as usize] as char
}

impl Program {
    /// Every task, idle tasks first (by CPU), then in task-list order.
    pub fn tasks(&self) -> Result<Vec<Task>, AnalysisError> {
        let btf = self.types()?;
        let l = Layout::from(btf)?;
        let init = (self.address_of("init_task")).ok_or(AnalysisError::NoSymbol("init_task"))?;
        let cpus = self.cpu_count().unwrap_or(1);
        let active: Vec<u64> = (0..cpus).filter_map(|c| self.current_task(c)).collect();
        let mut tasks = Vec::new();
        for cpu in 0..cpus {
            let idle = self
                .per_cpu_address("runqueues", cpu)
                .and_then(|rq| self.read_u64(rq + l.rq_idle).ok());
            if let Some(idle) = idle {
                tasks.push(self.task(&l, idle, &active)?);
            }
        }
        let mut seen = 0usize;
        for process in list_entries(self.kernel(), init + l.tasks, l.tasks, MAX_TASKS)? {
            let signal = self.read_u64(process + l.signal)?;
            for thread in list_entries(
                self.kernel(),
                signal + l.thread_head,
                l.thread_node,
                MAX_TASKS,
            )? {
                seen += 1;
                if seen > MAX_TASKS {
                    return Err(AnalysisError::Corrupt(
                        "task list does not end: corrupt".into(),
                    ));
                }
                tasks.push(self.task(&l, thread, &active)?);
            }
        }
        Ok(tasks)
    }

    /// Every task that can be read, in [`Program::tasks`]' order, and what could
    /// not: an unreadable task is skipped, a task list broken by an unreadable
    /// page is walked back from its head, a process whose thread list is
    /// unreadable is shown alone. Fails only without types or `init_task`.
    pub fn tasks_read(&self) -> Result<TasksRead, AnalysisError> {
        let btf = self.types()?;
        let l = Layout::from(btf)?;
        let init = (self.address_of("init_task")).ok_or(AnalysisError::NoSymbol("init_task"))?;
        let cpus = self.cpu_count().unwrap_or(1);
        let active: Vec<u64> = (0..cpus).filter_map(|c| self.current_task(c)).collect();
        let mut read = TasksRead::default();
        let mut unreadable = 0;
        let mut first_error = None;
        let mut add = |read: &mut TasksRead, address: u64| match self.task(&l, address, &active) {
            Ok(task) => read.tasks.push(task),
            Err(e) => {
                unreadable += 1;
                first_error.get_or_insert(format!("task at {address:#x}: {e}"));
            }
        };
        for cpu in 0..cpus {
            let idle = self
                .per_cpu_address("runqueues", cpu)
                .and_then(|rq| self.read_u64(rq + l.rq_idle).ok());
            if let Some(idle) = idle {
                add(&mut read, idle);
            }
        }
        let (processes, broken) =
            list_entries_lenient(self.kernel(), init + l.tasks, l.tasks, MAX_TASKS);
        read.warnings
            .extend(broken.map(|why| format!("the task list: {why}")));
        let mut seen = 0usize;
        for process in processes {
            let threads = self.read_u64(process + l.signal).map(|signal| {
                list_entries_lenient(
                    self.kernel(),
                    signal + l.thread_head,
                    l.thread_node,
                    MAX_TASKS,
                )
            });
            let threads = match threads {
                Ok((threads, None)) => threads,
                Ok((threads, Some(why))) => {
                    read.warnings
                        .push(format!("threads of the process at {process:#x}: {why}"));
                    if threads.contains(&process) {
                        threads
                    } else {
                        [vec![process], threads].concat()
                    }
                }
                Err(e) => {
                    read.warnings.push(format!(
                        "threads of the process at {process:#x}: {e}; showing the process alone"
                    ));
                    vec![process]
                }
            };
            for thread in threads {
                seen += 1;
                if seen > MAX_TASKS {
                    read.warnings.push("task list does not end: corrupt".into());
                    return Ok(read);
                }
                add(&mut read, thread);
            }
        }
        if let Some(e) = first_error {
            read.warnings
                .push(format!("{unreadable} tasks unreadable, the first: {e}"));
        }
        Ok(read)
    }

    /// One task, by the address of its `task_struct` (no walk of the task list).
    pub fn task_at(&self, address: u64) -> Result<Task, AnalysisError> {
        let l = Layout::from(self.types()?)?;
        let cpus = self.cpu_count().unwrap_or(1);
        let active: Vec<u64> = (0..cpus).filter_map(|c| self.current_task(c)).collect();
        self.task(&l, address, &active)
    }

    /// The task running on `cpu` (per-CPU `current_task`).
    pub fn current_task(&self, cpu: u32) -> Option<u64> {
        let at = self.per_cpu_address("current_task", cpu)?;
        self.read_u64(at).ok().filter(|&t| t != 0)
    }

    fn task(&self, l: &Layout, address: u64, active: &[u64]) -> Result<Task, AnalysisError> {
        let u32_at = |off: u64| self.read_u32(address + off);
        let mut comm = [0u8; 16];
        self.read(address + l.comm, &mut comm)?;
        let parent = self.read_u64(address + l.real_parent)?;
        let pid = u32_at(l.pid)?;
        // Idle tasks (pid 0) show parent 0, as crash shows them; the kernel's own
        // real_parent of a secondary CPU's idle task is init, which forked it.
        let ppid = if pid == 0 || parent == address {
            0
        } else {
            self.read_u32(parent + l.pid)?
        };
        Ok(Task {
            address,
            pid,
            tgid: u32_at(l.tgid)?,
            ppid,
            cpu: u32_at(l.cpu)?,
            state: state_char(u32_at(l.state)?, u32_at(l.exit_state)?),
            comm: c_string(&comm),
            active: active.contains(&address),
            kernel_thread: self.read_u64(address + l.mm)? == 0,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn state_letters_as_the_kernel_reports_them() {
        use super::state_char;
        assert_eq!(state_char(0, 0), 'R');
        assert_eq!(state_char(1, 0), 'S');
        assert_eq!(state_char(2, 0), 'D');
        assert_eq!(state_char(0x402, 0), 'I');
        assert_eq!(state_char(0, 32), 'Z');
        assert_eq!(state_char(0x100, 0), 'R', "unreported bits read as running");
    }
}

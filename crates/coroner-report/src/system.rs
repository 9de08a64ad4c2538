//! `sys`: the system summary crash prints at start-up and for `sys`, from kernel
//! data read with kallsyms and BTF.

use crate::identity::KernelIdentity;
use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use crate::tasks::state_name;
use crate::time::utc_ctime;
use coroner_dump::PhysMemory;
use coroner_kernel::dmesg::{self, Log};
use coroner_program::{Program, SymbolSource};
use serde::Serialize;
use std::io::{self, Write};

/// crash's field names, lower-cased; values as crash prints them.
#[derive(Debug, Clone, Serialize)]
pub struct SysReport {
    pub kernel: String,
    pub dumpfile: String,
    pub cpus: Option<String>,
    pub date: Option<String>,
    pub uptime: Option<String>,
    pub load_average: Option<String>,
    pub tasks: Option<usize>,
    pub nodename: Option<String>,
    pub release: Option<String>,
    pub version: Option<String>,
    pub machine: Option<String>,
    pub memory: Option<String>,
    pub panic: Option<String>,
    pub pid: Option<u32>,
    pub command: Option<String>,
    pub task: Option<Addr>,
    pub cpu: Option<u32>,
    pub state: Option<String>,
    /// The kernel as the dump's own records name it (as `info` gives it).
    pub identity: KernelIdentity,
    pub warnings: Vec<Warning>,
}

/// crash's PANIC: the oops line that led to the panic when there is one (with a
/// pointer to the log), else the panic line itself.
fn panic_text(log: &Log) -> Option<String> {
    let Log::Records(records) = log else {
        return dmesg::panic::find(log)
            .map(|p| format!("\"Kernel panic - not syncing: {}\"", p.message));
    };
    let panic = dmesg::panic::find(log)?;
    let texts: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.text).into_owned())
        .collect();
    // The `Oops:` summary line wins over the `BUG:` line printed before it.
    let oops = ["Oops: ", "kernel BUG at", "BUG: "]
        .iter()
        .find_map(|p| texts.iter().find(|t| t.starts_with(p)).cloned());
    Some(match oops {
        Some(line) => format!("\"{line}\" (check log for details)"),
        None => format!("\"Kernel panic - not syncing: {}\"", panic.message),
    })
}

/// crash's memory size: MB below a GiB, GB above, one decimal.
pub(crate) fn memory_text(bytes: u64) -> String {
    let mb = bytes as f64 / 1_048_576.0;
    if mb < 1024.0 {
        format!("{mb:.1} MB")
    } else {
        format!("{:.1} GB", mb / 1024.0)
    }
}

pub fn sys(program: &Program) -> SysReport {
    let mut warnings = Warning::all(Stage::Program, program.warnings());
    let log = match dmesg::read_log(program.kernel(), program.kernel().vmcoreinfo()) {
        Ok(log) => {
            warnings.extend(Warning::all(Stage::Log, &log.warnings));
            Some(log)
        }
        Err(e) => {
            warnings.push(Warning::new(
                Stage::Log,
                format!("cannot read the kernel log: {e}"),
            ));
            None
        }
    };
    let s = program.system_info(log.as_ref().map(|l| &l.log));
    let dump = program.kernel().dump();
    let info = dump.info();
    let panic = log.as_ref().and_then(|l| dmesg::panic::find(&l.log));
    let tasks = program.tasks_read().ok().map(|read| {
        warnings.extend(Warning::all(Stage::Tasks, &read.warnings));
        read.tasks
    });
    let panic_task = panic.as_ref().and_then(|p| {
        tasks
            .as_ref()?
            .iter()
            .find(|t| Some(t.pid) == p.pid && (p.cpu.is_none() || t.active))
    });
    let name = dump
        .path()
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    SysReport {
        kernel: match program.symbol_source() {
            SymbolSource::SystemMap(path) => {
                format!("(none: {} and BTF from the dump)", path.display())
            }
            _ => "(none: kallsyms and BTF from the dump)".to_string(),
        },
        dumpfile: if info.dump_level.unwrap_or(0) > 0 {
            format!("{name}  [PARTIAL DUMP]")
        } else {
            name
        },
        cpus: s.cpus.map(|c| match s.cpus_offline {
            Some(off) if off > 0 => format!("{c} [OFFLINE: {off}]"),
            _ => c.to_string(),
        }),
        date: s
            .time
            .or(program.kernel().vmcoreinfo().crash_time())
            .or(info.header_time)
            .map(utc_ctime),
        uptime: s.uptime_seconds.map(|u| {
            let days = u / 86400;
            let hms = format!("{:02}:{:02}:{:02}", u / 3600 % 24, u / 60 % 60, u % 60);
            if days > 0 {
                format!("{days} days, {hms}")
            } else {
                hms
            }
        }),
        load_average: s
            .load_average
            .map(|a| format!("{:.2}, {:.2}, {:.2}", a[0], a[1], a[2])),
        tasks: tasks.as_ref().map(Vec::len),
        nodename: s.nodename,
        release: s.release,
        version: s.version,
        machine: s.machine.map(|m| match s.cpu_mhz {
            Some(mhz) => format!("{m}  ({mhz} Mhz)"),
            None => m,
        }),
        memory: s.memory_pages.map(|p| memory_text(p * dump.page_size())),
        panic: log.as_ref().and_then(|l| panic_text(&l.log)),
        pid: panic_task.map(|t| t.pid),
        command: panic_task.map(|t| format!("\"{}\"", t.comm)),
        task: panic_task.map(|t| Addr(t.address)),
        cpu: panic_task.map(|t| t.cpu),
        state: panic_task.map(|t| format!("{} (PANIC)", state_name(t.state))),
        identity: KernelIdentity::read(dump),
        warnings,
    }
}

impl Render for SysReport {
    fn schema(&self) -> &'static str {
        "coroner.sys/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let lines = [
            ("KERNEL", Some(self.kernel.clone())),
            ("DUMPFILE", Some(self.dumpfile.clone())),
            ("CPUS", self.cpus.clone()),
            ("DATE", self.date.clone()),
            ("UPTIME", self.uptime.clone()),
            ("LOAD AVERAGE", self.load_average.clone()),
            ("TASKS", self.tasks.map(|t| t.to_string())),
            ("NODENAME", self.nodename.clone()),
            ("RELEASE", self.release.clone()),
            ("VERSION", self.version.clone()),
            ("MACHINE", self.machine.clone()),
            ("MEMORY", self.memory.clone()),
            ("PANIC", self.panic.clone()),
            ("PID", self.pid.map(|p| p.to_string())),
            ("COMMAND", self.command.clone()),
            ("TASK", self.task.map(|t| format!("{:x}", t.0))),
            ("CPU", self.cpu.map(|c| c.to_string())),
            ("STATE", self.state.clone()),
        ];
        for (key, value) in lines {
            let value = value.unwrap_or_else(|| "(unknown)".to_string());
            writeln!(out, "{key:>12}: {value}")?;
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

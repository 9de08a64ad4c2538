//! `coroner sys DUMP [--json]`: the system summary crash prints at start-up and for
//! `sys`, from kernel data read with kallsyms and BTF (no vmlinux).

use super::address::{open_program, DumpArgs};
use crate::time::utc_ctime;
use coroner_dump::PhysMemory;
use coroner_kernel::dmesg::{self, Log};
use coroner_program::{Program, SymbolSource};
use serde::Serialize;
use std::process::ExitCode;

/// The dump, `--json` and `--symbols`: all this command takes.
pub type Args = DumpArgs;

/// crash's field names, lower-cased; values as crash prints them.
#[derive(Serialize, Default)]
struct Sys {
    kernel: String,
    dumpfile: String,
    cpus: Option<String>,
    date: Option<String>,
    uptime: Option<String>,
    load_average: Option<String>,
    tasks: Option<usize>,
    nodename: Option<String>,
    release: Option<String>,
    version: Option<String>,
    machine: Option<String>,
    memory: Option<String>,
    panic: Option<String>,
    pid: Option<u32>,
    command: Option<String>,
    task: Option<String>,
    cpu: Option<u32>,
    state: Option<String>,
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
fn memory_text(bytes: u64) -> String {
    let mb = bytes as f64 / 1_048_576.0;
    if mb < 1024.0 {
        format!("{mb:.1} MB")
    } else {
        format!("{:.1} GB", mb / 1024.0)
    }
}

fn report(program: &Program, args: &Args) -> Sys {
    let log = dmesg::read_log(program.kernel(), program.kernel().vmcoreinfo()).ok();
    let s = program.system_info(log.as_ref().map(|l| &l.log));
    let dump = program.kernel().dump().info();
    let panic = log.as_ref().and_then(|l| dmesg::panic::find(&l.log));
    let tasks = program.tasks().ok();
    let panic_task = panic.as_ref().and_then(|p| {
        tasks
            .as_ref()?
            .iter()
            .find(|t| Some(t.pid) == p.pid && (p.cpu.is_none() || t.active))
    });
    let name = args
        .dump
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    Sys {
        kernel: match program.symbol_source() {
            SymbolSource::SystemMap(path) => {
                format!("(none: {} and BTF from the dump)", path.display())
            }
            _ => "(none: kallsyms and BTF from the dump)".to_string(),
        },
        dumpfile: if dump.dump_level.unwrap_or(0) > 0 {
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
            .or(dump.header_time)
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
        memory: s
            .memory_pages
            .map(|p| memory_text(p * program.kernel().dump().page_size())),
        panic: log.as_ref().and_then(|l| panic_text(&l.log)),
        pid: panic_task.map(|t| t.pid),
        command: panic_task.map(|t| format!("\"{}\"", t.comm)),
        task: panic_task.map(|t| format!("{:x}", t.address)),
        cpu: panic_task.map(|t| t.cpu),
        state: panic_task.map(|t| format!("{} (PANIC)", state_name(t.state))),
    }
}

fn state_name(state: char) -> &'static str {
    match state {
        'R' => "TASK_RUNNING",
        'S' => "TASK_INTERRUPTIBLE",
        'D' => "TASK_UNINTERRUPTIBLE",
        'I' => "TASK_IDLE",
        'Z' => "EXIT_ZOMBIE",
        _ => "TASK_STOPPED",
    }
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let program = open_program(&args.dump, &args.symbols)?;
    let r = report(&program, args);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let unknown = || "(unknown)".to_string();
    let lines = [
        ("KERNEL", Some(r.kernel.clone())),
        ("DUMPFILE", Some(r.dumpfile.clone())),
        ("CPUS", r.cpus.clone()),
        ("DATE", r.date.clone()),
        ("UPTIME", r.uptime.clone()),
        ("LOAD AVERAGE", r.load_average.clone()),
        ("TASKS", r.tasks.map(|t| t.to_string())),
        ("NODENAME", r.nodename.clone()),
        ("RELEASE", r.release.clone()),
        ("VERSION", r.version.clone()),
        ("MACHINE", r.machine.clone()),
        ("MEMORY", r.memory.clone()),
        ("PANIC", r.panic.clone()),
        ("PID", r.pid.map(|p| p.to_string())),
        ("COMMAND", r.command.clone()),
        ("TASK", r.task.clone()),
        ("CPU", r.cpu.map(|c| c.to_string())),
        ("STATE", r.state.clone()),
    ];
    for (key, value) in lines {
        println!("{key:>12}: {}", value.unwrap_or_else(unknown));
    }
    Ok(ExitCode::SUCCESS)
}

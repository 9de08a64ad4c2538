//! `coroner ps DUMP [--json]`: every task, as crash's `ps` lists them (active tasks
//! marked `>`, kernel threads in brackets), from BTF offsets — no vmlinux needed.

use super::address::{open_program, DumpArgs};
use coroner_program::Task;
use serde::Serialize;
use std::process::ExitCode;

/// The dump, `--json` and `--symbols`: all this command takes.
pub type Args = DumpArgs;

#[derive(Serialize)]
struct Row<'a> {
    pid: u32,
    ppid: u32,
    tgid: u32,
    cpu: u32,
    task: String,
    state: &'static str,
    comm: &'a str,
    active: bool,
    kernel_thread: bool,
}

/// crash's two-letter state names for the kernel's state letters.
fn crash_state(state: char) -> &'static str {
    match state {
        'R' => "RU",
        'S' => "IN",
        'D' => "UN",
        'T' => "ST",
        't' => "TR",
        'X' => "DE",
        'Z' => "ZO",
        'P' => "PA",
        'I' => "ID",
        _ => "??",
    }
}

fn row(t: &Task) -> Row<'_> {
    Row {
        pid: t.pid,
        ppid: t.ppid,
        tgid: t.tgid,
        cpu: t.cpu,
        task: format!("{:016x}", t.address),
        state: crash_state(t.state),
        comm: &t.comm,
        active: t.active,
        kernel_thread: t.kernel_thread,
    }
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let program = open_program(&args.dump, &args.symbols)?;
    let tasks = program.tasks()?;
    let rows: Vec<Row> = tasks.iter().map(row).collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("      PID    PPID  CPU       TASK        ST  COMM");
    for r in &rows {
        let comm = if r.kernel_thread {
            format!("[{}]", r.comm)
        } else {
            r.comm.to_string()
        };
        println!(
            "{} {:>7} {:>7} {:>3}  {}  {}  {comm}",
            if r.active { '>' } else { ' ' },
            r.pid,
            r.ppid,
            r.cpu,
            r.task,
            r.state
        );
    }
    Ok(ExitCode::SUCCESS)
}

//! What the log says about the panic itself: the `Kernel panic - not syncing:` line
//! and the task and CPU that panicked, for the stages above (triage, `sys`, `bt`).

use super::{Log, LogRecord};

const PANIC_PREFIX: &str = "Kernel panic - not syncing: ";

/// The panic as the kernel log records it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Panic {
    /// The reason after `Kernel panic - not syncing: ` (e.g. `Fatal exception`).
    pub message: String,
    /// `ts_nsec` of the panic record.
    pub ts_nsec: Option<u64>,
    pub cpu: Option<u32>,
    pub pid: Option<u32>,
    pub comm: Option<String>,
}

/// The last panic in the log, if the kernel got as far as printing one.
pub fn find(log: &Log) -> Option<Panic> {
    match log {
        Log::Records(records) => from_records(records),
        Log::Plain(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            let lines: Vec<&str> = text.lines().map(strip_plain_prefix).collect();
            let at = lines.iter().rposition(|l| l.starts_with(PANIC_PREFIX))?;
            let mut panic = Panic {
                message: lines[at][PANIC_PREFIX.len()..].to_string(),
                ..Panic::default()
            };
            fill_from_cpu_line(&mut panic, &lines, at);
            Some(panic)
        }
    }
}

fn from_records(records: &[LogRecord]) -> Option<Panic> {
    let texts: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.text).into_owned())
        .collect();
    let at = texts.iter().rposition(|t| t.starts_with(PANIC_PREFIX))?;
    let record = &records[at];
    let mut panic = Panic {
        message: texts[at][PANIC_PREFIX.len()..]
            .lines()
            .next()
            .unwrap_or("")
            .to_string(),
        ts_nsec: Some(record.ts_nsec),
        ..Panic::default()
    };
    // The caller id says which task (or, in interrupt context, CPU) printed it.
    match record.caller.as_deref().map(|c| c.split_at(1)) {
        Some(("T", pid)) => panic.pid = pid.parse().ok(),
        Some(("C", cpu)) => panic.cpu = cpu.parse().ok(),
        _ => {}
    }
    let lines: Vec<&str> = texts.iter().map(String::as_str).collect();
    fill_from_cpu_line(&mut panic, &lines, at);
    Some(panic)
}

/// `CPU: 1 PID: 1 Comm: init ...`, printed by dump_stack right after the panic
/// line, or (when an oops led to the panic) by the oops just before it.
fn fill_from_cpu_line(panic: &mut Panic, lines: &[&str], at: usize) {
    let after = lines.iter().skip(at).take(3);
    let before = lines[..at].iter().rev();
    let Some((cpu, pid, comm)) = after.chain(before).find_map(|l| parse_cpu_line(l)) else {
        return;
    };
    if panic.pid.is_none_or(|p| p == pid) {
        panic.cpu = panic.cpu.or(Some(cpu));
        panic.pid = Some(pid);
        panic.comm = Some(comm);
    }
}

fn parse_cpu_line(line: &str) -> Option<(u32, u32, String)> {
    let rest = line.strip_prefix("CPU: ")?;
    let mut words = rest.split_whitespace();
    let cpu = words.next()?.parse().ok()?;
    (words.next()? == "PID:").then_some(())?;
    let pid = words.next()?.parse().ok()?;
    (words.next()? == "Comm:").then_some(())?;
    Some((cpu, pid, words.next()?.to_string()))
}

/// Pre-3.5 lines carry `<level>` and maybe `[   1.234] ` in the text itself.
fn strip_plain_prefix(line: &str) -> &str {
    let line = match line.strip_prefix('<') {
        Some(rest) => rest.split_once('>').map_or(line, |(_, r)| r),
        None => line,
    };
    match line.strip_prefix('[') {
        Some(rest) => rest.split_once("] ").map_or(line, |(_, r)| r),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(text: &str, caller: Option<&str>) -> LogRecord {
        LogRecord {
            text: text.as_bytes().to_vec(),
            caller: caller.map(str::to_string),
            ts_nsec: 7,
            ..LogRecord::default()
        }
    }

    #[test]
    fn panic_after_oops_takes_the_oops_cpu_line() {
        let log = Log::Records(vec![
            rec("CPU: 1 PID: 1 Comm: init Tainted: G OE 6.1.0", Some("T1")),
            rec(
                "RIP: 0010:fx_null_deref+0x1c/0x30 [crashfixture]",
                Some("T1"),
            ),
            rec("Kernel panic - not syncing: Fatal exception", Some("T1")),
        ]);
        let p = find(&log).unwrap();
        assert_eq!(p.message, "Fatal exception");
        assert_eq!(
            (p.cpu, p.pid, p.comm.as_deref()),
            (Some(1), Some(1), Some("init"))
        );
        assert_eq!(p.ts_nsec, Some(7));
    }

    #[test]
    fn a_cpu_line_of_another_task_is_not_taken() {
        let log = Log::Records(vec![
            rec("CPU: 0 PID: 99 Comm: other Not tainted", Some("T99")),
            rec(
                "Kernel panic - not syncing: hung_task: blocked tasks",
                Some("T42"),
            ),
        ]);
        let p = find(&log).unwrap();
        assert_eq!((p.cpu, p.pid, p.comm), (None, Some(42), None));
    }

    #[test]
    fn plain_buffers_and_no_panic() {
        let log = Log::Plain(
            b"<0>Kernel panic - not syncing: Attempted to kill init!\n<4>Pid: 1, comm: init\n"
                .to_vec(),
        );
        assert_eq!(find(&log).unwrap().message, "Attempted to kill init!");
        assert_eq!(find(&Log::Plain(b"<6>all is well\n".to_vec())), None);
    }
}

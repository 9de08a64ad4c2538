//! Who and where: the task, CPU, taint, kernel release, hardware and modules a
//! report names, from the lines the kernel prints with every oops.

use crate::taint::{self, Taint};
use regex::Regex;
use std::sync::LazyLock;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Facts {
    pub comm: Option<String>,
    pub pid: Option<u32>,
    pub cpu: Option<u32>,
    pub taint: Option<Taint>,
    pub release: Option<String>,
    pub hardware: Option<String>,
    pub modules: Vec<String>,
}

/// `CPU: 1 PID: 1 Comm: init Tainted: G    OE   6.1.0-56-amd64 #1`, with `UID:`
/// since 6.10 and RHEL's `-----------` before the release.
static CPU_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"CPU: (\d+) (?:UID: \d+ )?PID: (\d+) Comm: (.{1,20}?) (?:Kdump: loaded )?(?:Not tainted|Tainted: ([A-Z ]+?)) +(?:-+ +)?(\d+\.\d+\S*)",
    )
    .expect("cpu line pattern")
});

/// 2.6-era `Pid: 1234, comm: foo Not tainted 2.6.32-431.el6.x86_64 #1`.
static PID_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Pid: (\d+), comm: (.{1,20}?) (?:Not tainted|Tainted: ([A-Z ]+?)) +(\d+\.\d+\S*)")
        .expect("pid line pattern")
});

/// Task names in report headers: hung tasks (`task foo:12 blocked`), lockups
/// (`stuck for 22s! [foo:12]`).
static TASK_IN_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:INFO: task (.{1,20}?):(\d+) |stuck for \d+s! \[(.{1,20}?):(\d+)\])")
        .expect("task header pattern")
});

/// CPU numbers in report headers.
static CPU_IN_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:CPU#(\d+)|on [cC][pP][uU] (\d+)|CPU (\d+): Machine Check)")
        .expect("cpu header pattern")
});

static BANNER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"Linux version (\d+\.\d+\S*)").expect("banner pattern"));

/// Collects the facts from a report's lines (prefix lines first).
pub fn collect<'a>(lines: impl IntoIterator<Item = &'a str>) -> Facts {
    let mut facts = Facts::default();
    // A task named in the header (the hung or stuck one) is the report's task; the
    // CPU line may come from the task that reports it (khungtaskd).
    let mut cpu_line_seen = false;
    let mut header_task = false;
    for line in lines {
        if !cpu_line_seen {
            if let Some(caps) = CPU_LINE.captures(line) {
                facts.cpu = caps[1].parse().ok();
                if !header_task {
                    facts.pid = caps[2].parse().ok();
                    facts.comm = Some(caps[3].trim().to_string());
                }
                facts.taint = Some(taint::decode(caps.get(4).map_or("", |m| m.as_str())));
                facts.release = Some(caps[5].to_string());
                cpu_line_seen = true;
                continue;
            }
            if let Some(caps) = PID_LINE.captures(line) {
                facts.pid = caps[1].parse().ok();
                facts.comm = Some(caps[2].trim().to_string());
                facts.taint = Some(taint::decode(caps.get(3).map_or("", |m| m.as_str())));
                facts.release = Some(caps[4].to_string());
                cpu_line_seen = true;
                continue;
            }
            if !header_task {
                if let Some(caps) = TASK_IN_HEADER.captures(line) {
                    facts.comm = caps.get(1).or(caps.get(3)).map(|m| m.as_str().to_string());
                    facts.pid = caps
                        .get(2)
                        .or(caps.get(4))
                        .and_then(|m| m.as_str().parse().ok());
                    header_task = true;
                }
            }
        }
        if facts.cpu.is_none() {
            if let Some(caps) = CPU_IN_HEADER.captures(line) {
                let n = caps.iter().skip(1).flatten().next();
                facts.cpu = n.and_then(|m| m.as_str().parse().ok());
            }
        }
        if facts.hardware.is_none() {
            if let Some(at) = line.find("Hardware name: ") {
                facts.hardware = Some(line[at + 15..].trim().to_string());
            }
        }
        if facts.modules.is_empty() {
            if let Some(at) = line.find("Modules linked in:") {
                facts.modules = modules(&line[at + 18..]);
            }
        }
    }
    facts
}

/// The kernel release from the boot banner, for logs whose report names none.
pub fn banner_release(text: &[u8]) -> Option<String> {
    let at = find(text, b"Linux version ")?;
    let end = text[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |p| at + p)
        .min(at + 256);
    let line = String::from_utf8_lossy(&text[at..end]);
    BANNER.captures(&line).map(|c| c[1].to_string())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    aho_corasick::AhoCorasick::new([needle])
        .ok()?
        .find(haystack)
        .map(|m| m.start())
}

/// `a(OE) b c [last unloaded: d]` → `[a, b, c]`.
fn modules(list: &str) -> Vec<String> {
    let list = list.split("[last unloaded").next().unwrap_or_default();
    list.split_whitespace()
        .map(|m| m.split('(').next().unwrap_or(m).to_string())
        .filter(|m| !m.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modern_and_rhel7_cpu_lines() {
        let f = collect([
            "CPU: 1 PID: 1 Comm: init Tainted: G           OE      6.1.0-56-amd64 #1  Debian 6.1.192-2",
            "Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2",
            "Modules linked in: crashfixture(OE) qemu_fw_cfg [last unloaded: x]",
        ]);
        assert_eq!(
            (f.cpu, f.pid, f.comm.as_deref()),
            (Some(1), Some(1), Some("init"))
        );
        assert_eq!(f.release.as_deref(), Some("6.1.0-56-amd64"));
        assert_eq!(f.taint.unwrap().letters, "OE");
        assert_eq!(
            f.hardware.as_deref(),
            Some("QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2")
        );
        assert_eq!(f.modules, ["crashfixture", "qemu_fw_cfg"]);

        let rhel = collect([
            "CPU: 3 PID: 2345 Comm: qemu-kvm Tainted: G        W  OE  ------------   3.10.0-693.el7.x86_64 #1",
        ]);
        assert_eq!(rhel.release.as_deref(), Some("3.10.0-693.el7.x86_64"));
        assert_eq!(rhel.taint.unwrap().letters, "WOE");
        let new = collect(["CPU: 0 UID: 0 PID: 7 Comm: kworker/0:1 Not tainted 6.12.0 #1"]);
        assert_eq!(new.comm.as_deref(), Some("kworker/0:1"));
        assert!(new.taint.unwrap().letters.is_empty());
    }

    #[test]
    fn tasks_and_cpus_in_headers() {
        let f = collect(["watchdog: BUG: soft lockup - CPU#2 stuck for 22s! [kworker/2:1:123]"]);
        assert_eq!(
            (f.cpu, f.pid, f.comm.as_deref()),
            (Some(2), Some(123), Some("kworker/2:1"))
        );
        let h = collect(["INFO: task jbd2/sda1-8:412 blocked for more than 120 seconds."]);
        assert_eq!((h.pid, h.comm.as_deref()), (Some(412), Some("jbd2/sda1-8")));
    }

    #[test]
    fn banner() {
        let log =
            b"junk\n[    0.000000] Linux version 3.10.0-693.el7.x86_64 (mockbuild@x) #1 SMP\n";
        assert_eq!(
            banner_release(log).as_deref(),
            Some("3.10.0-693.el7.x86_64")
        );
        assert_eq!(banner_release(b"none"), None);
    }
}

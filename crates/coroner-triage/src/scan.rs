//! Finding the lines that start crash reports. One Aho-Corasick pass over the raw
//! bytes finds every catalog header; only lines holding one are parsed further, so
//! scanning runs at memory speed whatever the log's size.

use crate::catalog::{Earlier, BOOT_PREAMBLE, CATALOG};
use crate::log::{self, Context, Line};
use crate::pattern::re;
use aho_corasick::AhoCorasick;
use regex::Regex;
use std::sync::LazyLock;

static HEADERS: LazyLock<AhoCorasick> =
    LazyLock::new(|| AhoCorasick::new(CATALOG.iter().map(|k| k.header)).expect("catalog headers"));

/// A line that starts a report.
pub struct Hit {
    /// Byte offset of the line in the input.
    pub start: usize,
    pub line: Line,
    /// Index of the report's kind in the catalog.
    pub kind: usize,
}

/// The kind of report `line` starts, if any.
pub fn kind_of(line: &Line) -> Option<usize> {
    if !line.from_kernel {
        return None;
    }
    CATALOG.iter().position(|kind| {
        line.body.contains(kind.header)
            && kind.gate.as_ref().is_none_or(|g| g.is_match(&line.body))
            && !kind.benign.as_ref().is_some_and(|b| b.is_match(&line.body))
    })
}

/// The primary report: the first that is not minor, else the first minor one (one
/// pass: minor reports are rare).
pub fn primary_hit(text: &[u8]) -> Option<Hit> {
    let mut first_minor = None;
    let mut from = 0;
    while let Some(hit) = next_hit(text, from) {
        if !CATALOG[hit.kind].minor {
            return Some(hit);
        }
        from = line_end(text, hit.start) + 1;
        first_minor.get_or_insert(hit);
        if from >= text.len() {
            break;
        }
    }
    first_minor
}

/// The first report-starting line at or after byte `from` (a line start).
pub fn next_hit(text: &[u8], from: usize) -> Option<Hit> {
    let mut checked_to = from;
    for m in HEADERS.find_iter(&text[from..]) {
        let at = from + m.start();
        if at < checked_to {
            continue;
        }
        let start = line_start(text, at, from);
        let end = line_end(text, at);
        checked_to = end + 1;
        let line = log::parse(&text[start..end]);
        if let Some(kind) = kind_of(&line) {
            let after = CATALOG[kind].after;
            if !replayed_next(text, end) && after.is_none_or(|a| earlier_output(text, start, a)) {
                return Some(Hit { start, line, kind });
            }
        }
    }
    None
}

/// Lines looked at before a boot, and the output lines among them searched for a
/// shutdown: bounded whatever the input.
const BOOT_LOOKBACK_LINES: usize = 400;
const BOOT_LOOKBACK_OUTPUT: usize = 50;

static PREAMBLE: LazyLock<Regex> = LazyLock::new(|| re(BOOT_PREAMBLE));
static BOOT_START: LazyLock<Regex> =
    LazyLock::new(|| re(r"^Booting the kernel|^Linux version [0-9]+\.[0-9]+|^Command line: "));
/// An orderly end of the previous boot (or one already explained): a reboot after
/// it is expected.
static SHUTDOWN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)reboot: (?:Restarting system|Power down|System halted)|Restarting system|System halted|Power down\.|Starting new kernel|Starting crashdump kernel|Kernel panic - not syncing|Rebooting in [0-9]+ seconds|---\[ end Kernel panic|^Bye!|systemd-shutdown|Shutting down|exiting on signal|Journal stopped|Reached target (?:Shutdown|Reboot|Power-Off|Final Step)|Preparing to enter system sleep state S5|SysRq ?: Resetting",
    )
});
static ZERO_TIME: LazyLock<Regex> = LazyLock::new(|| re(r"\[ *0\.0+\]"));

/// True when output of an earlier boot comes before the boot line at `at`, without
/// an orderly shutdown (or a panic) ending it: the machine was reset. Lines of the
/// boot itself (decompressor, banner, the first timestamp-0 lines) do not count.
pub fn earlier_output(text: &[u8], at: usize, what: Earlier) -> bool {
    let mut end = at;
    let mut seen = 0;
    for _ in 0..BOOT_LOOKBACK_LINES {
        if end == 0 || seen >= BOOT_LOOKBACK_OUTPUT {
            break;
        }
        let start = line_start(text, end - 1, 0);
        let raw = &text[start..end - 1];
        end = start;
        let line = log::parse(raw);
        let body = line.body.trim();
        if body.is_empty() {
            continue;
        }
        if BOOT_START.is_match(body) {
            // This boot's own start, reported (or not) on its own.
            return false;
        }
        if SHUTDOWN.is_match(body) {
            return false;
        }
        let zero_time = ZERO_TIME.is_match(&String::from_utf8_lossy(&raw[..raw.len().min(48)]));
        if PREAMBLE.is_match(body) || zero_time {
            continue;
        }
        let kernel =
            line.from_kernel && (line.context != Context::None || body.len() + 4 < raw.len());
        if what == Earlier::Output || kernel {
            seen += 1;
        }
    }
    seen > 0
}

/// When printk replays a message after a console hiccup, the line before the
/// replay is a truncated copy: the replay, not the fragment, starts the report.
pub fn replayed_next(text: &[u8], end: usize) -> bool {
    const REPLAY: &[u8] = b"** replaying previous printk message **";
    if end >= text.len() {
        return false;
    }
    let next = &text[end + 1..line_end(text, end + 1)];
    next.windows(REPLAY.len()).any(|w| w == REPLAY)
}

pub fn line_start(text: &[u8], at: usize, floor: usize) -> usize {
    text[floor..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(floor, |p| floor + p + 1)
}

pub fn line_end(text: &[u8], at: usize) -> usize {
    text[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |p| at + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_real_report() {
        let text =
            b"[ 1.0] INFO: lockdep is turned off.\n[ 2.0] ok\n[ 3.0] BUG: soft lockup - CPU#0\n";
        let hit = next_hit(text, 0).unwrap();
        assert_eq!(hit.line.body, "BUG: soft lockup - CPU#0");
        assert_eq!(&text[hit.start..hit.start + 6], b"[ 3.0]");
        assert!(next_hit(text, line_end(text, hit.start) + 1).is_none());
    }

    #[test]
    fn replayed_fragments_and_other_programs_are_skipped() {
        let text = b"[ 1.0] INFO: t\n** replaying previous printk message **\n[ 1.0] INFO: task a:1 blocked for more than 1 seconds.\n";
        let hit = next_hit(text, 0).unwrap();
        assert!(hit.line.body.starts_with("INFO: task a:1"));
        let syslog = b"Jan  1 00:00:00 h sshd[1]: WARNING: foo at a.c:1 f+0x1/0x2\n";
        assert!(next_hit(syslog, 0).is_none());
    }

    #[test]
    fn a_boot_is_a_report_only_after_output_of_an_earlier_one() {
        let banner = "[    0.000000] Linux version 5.14.0 (mockbuild@x) #1 SMP\n";
        let reset = format!("[ 812.1] nfs: server f not responding\n{banner}");
        assert!(next_hit(reset.as_bytes(), 0).is_some());
        // A capture starting with the boot, an orderly reboot, the boot's own lines.
        assert!(next_hit(banner.as_bytes(), 0).is_none());
        let orderly = format!("[ 812.1] reboot: Restarting system\n{banner}");
        assert!(next_hit(orderly.as_bytes(), 0).is_none());
        let decompressor =
            format!("Decompressing Linux... Parsing ELF... done.\nBooting the kernel.\n{banner}");
        assert!(next_hit(decompressor.as_bytes(), 0).is_none());
    }

    #[test]
    fn generic_headers_need_their_gate() {
        let text = b"DEBUG something\nBUG dentry (Not tainted): Poison overwritten\n";
        let hit = next_hit(text, 0).unwrap();
        assert!(hit.line.body.starts_with("BUG dentry"));
    }
}

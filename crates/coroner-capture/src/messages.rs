//! The text a collector prints, in makedumpfile's words where scripts and people
//! look for them ("The dumpfile is saved to", "... Completed.", the page report of
//! `--message-level 16`).

use crate::run::Summary;
use std::fmt::Write;

/// makedumpfile's page report (message level bit 16).
pub fn page_report(s: &Summary) -> String {
    let e = &s.excluded;
    let zero = s.outcome.zero;
    let excluded = e.total() + zero;
    let remaining = s.ram_pages.saturating_sub(excluded);
    let mut t = String::new();
    let line = |t: &mut String, label: &str, v: u64| {
        let _ = writeln!(t, "{label}: 0x{v:016x}");
    };
    line(&mut t, "Original pages  ", s.ram_pages);
    line(&mut t, "  Excluded pages   ", excluded);
    line(&mut t, "    Pages filled with zero  ", zero);
    line(&mut t, "    Non-private cache pages ", e.cache);
    line(&mut t, "    Private cache pages     ", e.cache_private);
    line(&mut t, "    User process data pages ", e.user);
    line(&mut t, "    Free pages              ", e.free);
    line(&mut t, "    Hwpoison pages          ", e.hwpoison);
    line(&mut t, "    Offline pages           ", e.offline);
    line(&mut t, "  Remaining pages  ", remaining);
    if let Some(percent) = (remaining * 100).checked_div(s.ram_pages) {
        let _ = writeln!(t, "  (The number of pages is reduced to {percent}%.)");
    }
    line(
        &mut t,
        "Memory Hole     ",
        s.max_mapnr.saturating_sub(s.ram_pages),
    );
    let _ = writeln!(t, "--------------------------------------------------");
    line(&mut t, "Total pages     ", s.max_mapnr);
    let _ = writeln!(t, "Write bytes     : {}", s.outcome.bytes);
    t
}

/// What went wrong in a capture that wrote a file, or `None` when it is complete.
pub fn incomplete(s: &Summary) -> Option<String> {
    let o = &s.outcome;
    let mut why = Vec::new();
    if let Some(e) = &o.write_error {
        why.push(format!(
            "writing stopped ({e}); the dump is marked incomplete and holds the {} pages written before (the important ones first)",
            o.stored
        ));
    }
    if !o.unreadable.is_empty() {
        let ranges = ranges(&o.unreadable);
        why.push(format!(
            "{} pages could not be read from the input and are missing in the dump (frames {})",
            o.unreadable.len(),
            ranges
        ));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// `0x10-0x1f, 0x40` for sorted frames, the first few runs.
fn ranges(pfns: &[u64]) -> String {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &p in pfns {
        match runs.last_mut() {
            Some(r) if r.1 + 1 == p => r.1 = p,
            _ => runs.push((p, p)),
        }
    }
    let mut text: Vec<String> = runs
        .iter()
        .take(8)
        .map(|&(a, b)| {
            if a == b {
                format!("{a:#x}")
            } else {
                format!("{a:#x}-{b:#x}")
            }
        })
        .collect();
    if runs.len() > 8 {
        text.push(format!("and {} more runs", runs.len() - 8));
    }
    text.join(", ")
}

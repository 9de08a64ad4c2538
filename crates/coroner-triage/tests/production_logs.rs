//! Production-style logs (`tests/data/production/`): RHEL, Fedora and Ubuntu
//! kernels from 2.6.32 to 6.x, x86-64, ppc64, s390x and arm64, as consoles,
//! `dmesg`, syslog and the journal show them, several reports to a file. Each file
//! was written from the formats the kernel's own code printed at that version; its
//! headers say what triage must answer:
//!
//!     TITLE: WARNING in foo        the primary report's title (none: no crash)
//!     CLASS: warning               its class
//!     GUILTY: foo                  the function blamed
//!     CORRUPTED: Y                 the report is damaged (lost header, ...)
//!     OTHER: BUG: ...              a further report's title (repeatable)
//!     # ...                        a comment
//!     <empty line>
//!     <log>
//!
//! The bars: at least 95% right crash / no-crash decisions, at least 90% right
//! guilty functions (over the files with a crash). Titles and classes are counted
//! too; every mismatch is printed.

use coroner_triage::analyse;
use std::path::Path;

const DECISION_BAR: f64 = 0.95;
const GUILTY_BAR: f64 = 0.90;

#[derive(Default)]
struct Expected {
    title: Option<String>,
    class: Option<String>,
    guilty: Option<String>,
    corrupted: bool,
    others: Vec<String>,
}

fn parse(bytes: &[u8]) -> (Expected, &[u8]) {
    let split = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or(0, |p| p + 2);
    let mut expected = Expected::default();
    for line in String::from_utf8_lossy(&bytes[..split]).lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        match key {
            "TITLE" => expected.title = Some(value),
            "CLASS" => expected.class = Some(value),
            "GUILTY" => expected.guilty = Some(value),
            "CORRUPTED" => expected.corrupted = value == "Y",
            "OTHER" => expected.others.push(value),
            _ => {}
        }
    }
    (expected, &bytes[split..])
}

#[test]
fn production_logs_meet_the_bars() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/production");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/data/production")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 40, "only {} logs", paths.len());
    let (mut decisions, mut crashes, mut guilty, mut titles, mut classes) = (0, 0, 0, 0, 0);
    let mut misses = Vec::new();
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy();
        let bytes = std::fs::read(path).unwrap();
        let (expected, log) = parse(&bytes);
        let report = analyse(log);
        let mut miss = |what: &str, want: &dyn std::fmt::Debug, got: &dyn std::fmt::Debug| {
            misses.push(format!("  {name}: {what}: expected {want:?}, got {got:?}"));
        };
        if report.crashed == expected.title.is_some() {
            decisions += 1;
        } else {
            miss("crashed", &expected.title.is_some(), &report.crashed);
        }
        if expected.title.is_none() {
            continue;
        }
        crashes += 1;
        if report.guilty == expected.guilty {
            guilty += 1;
        } else {
            miss("guilty", &expected.guilty, &report.guilty);
        }
        if report.title == expected.title {
            titles += 1;
        } else {
            miss("title", &expected.title, &report.title);
        }
        let class = report.class.map(|c| c.name().to_string());
        if class == expected.class {
            classes += 1;
        } else {
            miss("class", &expected.class, &class);
        }
        if report.corrupted != expected.corrupted {
            miss("corrupted", &expected.corrupted, &report.corrupted);
        }
        for other in &expected.others {
            if !report.others.iter().any(|o| &o.title == other) {
                let got: Vec<_> = report.others.iter().map(|o| o.title.as_str()).collect();
                miss("other", other, &got);
            }
        }
    }
    let rate = |n: usize, of: usize| n as f64 / of.max(1) as f64;
    println!(
        "production logs: {} files ({crashes} with a crash): decisions {decisions} ({:.1}%), \
         guilty {guilty} ({:.1}%), titles {titles} ({:.1}%), classes {classes} ({:.1}%)",
        paths.len(),
        100.0 * rate(decisions, paths.len()),
        100.0 * rate(guilty, crashes),
        100.0 * rate(titles, crashes),
        100.0 * rate(classes, crashes),
    );
    if !misses.is_empty() {
        println!("mismatches:\n{}", misses.join("\n"));
    }
    assert!(
        rate(decisions, paths.len()) >= DECISION_BAR,
        "crash decisions {:.1}% < {:.0}%",
        100.0 * rate(decisions, paths.len()),
        100.0 * DECISION_BAR
    );
    assert!(
        rate(guilty, crashes) >= GUILTY_BAR,
        "guilty {:.1}% < {:.0}%",
        100.0 * rate(guilty, crashes),
        100.0 * GUILTY_BAR
    );
}

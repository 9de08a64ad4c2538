//! The shared oops corpus (`../shared/corpus/oops`, real reports from syzkaller's
//! test data): every file's expected title against ours. The bars are the issue's
//! and are never lowered to pass: at least 95% exact titles, at least 99% correct
//! crash / no-crash decisions. Mismatches are listed for whoever improves the rules.

use std::path::{Path, PathBuf};

const TITLE_BAR: f64 = 0.95;
const DECISION_BAR: f64 = 0.99;

struct Case {
    name: String,
    title: Option<String>,
    log: Vec<u8>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/oops")
}

/// Headers (`TITLE:`, `ALT:`, ...), an empty line, then the log. As in the
/// corpus's own harness, carriage returns are dropped.
fn parse_case(name: String, bytes: &[u8]) -> Case {
    let bytes: Vec<u8> = bytes.iter().copied().filter(|&b| b != b'\r').collect();
    let split = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or(0, |p| p + 2);
    let headers = String::from_utf8_lossy(&bytes[..split]);
    let title = headers
        .lines()
        .find_map(|l| l.strip_prefix("TITLE:"))
        .map(str::trim)
        // An empty title is the harness's way of saying "no crash".
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    Case {
        name,
        title,
        log: bytes[split..].to_vec(),
    }
}

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = std::fs::read_dir(corpus_dir())
        .expect("../shared/corpus/oops beside the repository")
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap();
            parse_case(e.file_name().to_string_lossy().into_owned(), &bytes)
        })
        .collect();
    cases.sort_by_key(|c| c.name.parse::<u32>().unwrap_or(u32::MAX));
    cases
}

#[test]
fn corpus_titles_and_decisions_meet_the_bar() {
    let cases = cases();
    assert!(cases.len() >= 300, "only {} corpus files", cases.len());
    let mut exact = 0;
    let mut decisions = 0;
    let mut misses = Vec::new();
    for case in &cases {
        let report = coroner_triage::analyse(&case.log);
        if report.crashed == case.title.is_some() {
            decisions += 1;
        }
        if report.title == case.title {
            exact += 1;
        } else {
            misses.push(format!(
                "  {:>5}: expected {:?}\n         got      {:?}",
                case.name, case.title, report.title
            ));
        }
    }
    let total = cases.len() as f64;
    let title_rate = exact as f64 / total;
    let decision_rate = decisions as f64 / total;
    println!(
        "corpus: {} files, exact titles {exact} ({:.1}%), crash/no-crash right {decisions} ({:.1}%)",
        cases.len(),
        100.0 * title_rate,
        100.0 * decision_rate
    );
    if !misses.is_empty() {
        println!("title mismatches:\n{}", misses.join("\n"));
    }
    assert!(
        title_rate >= TITLE_BAR,
        "exact titles {:.1}% < {:.0}%",
        100.0 * title_rate,
        100.0 * TITLE_BAR
    );
    assert!(
        decision_rate >= DECISION_BAR,
        "crash decisions {:.1}% < {:.0}%",
        100.0 * decision_rate,
        100.0 * DECISION_BAR
    );
}

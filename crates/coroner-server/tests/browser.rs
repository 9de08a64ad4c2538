//! The dashboard in a real browser: Debian's `chromium`, driven by Playwright
//! from PyPI (tests/browser/dashboard.py), over a server on loopback with the
//! fixtures' logs and dumps ingested. Both are installed when missing (apt-get,
//! pip); where that cannot be done the test fails saying how. Screenshots of
//! each page land in `target/dashboard-screenshots/`.

mod common;

use common::{example_dump, workspace, Harness};
use reqwest::StatusCode;
use std::path::PathBuf;
use std::process::Command;

fn tools() {
    let installed = coroner_testdata::setup::apt_install(&["chromium"], &["chromium"])
        .and_then(|()| coroner_testdata::setup::pip_install("playwright", "playwright==1.65.2"));
    if let Err(why) = installed {
        panic!("the browser test needs Debian's chromium and PyPI's playwright: {why}");
    }
}

#[test]
fn click_through_filter_merge_log_in_and_out() {
    tools();
    let h = Harness::start(|_| {});
    let admin = h.token("admin", None);
    let viewer = h.token("viewer", None);
    let fixtures = coroner_testdata::fixtures_dir();
    let mut sent = Vec::new();
    for (host, file) in [
        ("web-1", fixtures.join("sysrq/console.log")),
        ("web-2", fixtures.join("sysrq/dmesg.makedumpfile.txt")),
        ("db-1", fixtures.join("kdump-sysrq/dmesg.makedumpfile.txt")),
        ("db-1", fixtures.join("mod-null/dmesg.makedumpfile.txt")),
        ("db-2", fixtures.join("mod-null/vmcore.mdf-d31-zlib")),
        ("web-3", example_dump()),
    ] {
        let token = h.token("upload", Some(host));
        let (status, reply) = h.post(&token, std::fs::read(&file).unwrap());
        assert_eq!(status, StatusCode::CREATED, "{}: {reply}", file.display());
        sent.push(reply);
    }
    for reply in &sent {
        h.settled(&viewer, reply["id"].as_str().unwrap());
    }
    let (sysrq, null, dump) = (&sent[0], &sent[3], &sent[5]);
    assert_eq!(
        dump["problem"], sysrq["problem"],
        "the example dump is a sysrq crash"
    );
    let shots = workspace().join("target/dashboard-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard.py");
    let out = Command::new("python3")
        .arg(&script)
        .env("CORONER_URL", &h.base)
        .env("CORONER_ADMIN_TOKEN", &admin)
        .env("CORONER_SHOTS", &shots)
        .env("CORONER_SYSRQ_PROBLEM", sysrq["problem"].as_str().unwrap())
        .env("CORONER_NULL_PROBLEM", null["problem"].as_str().unwrap())
        .env("CORONER_DUMP_CRASH", dump["id"].as_str().unwrap())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser checks failed:\n{said}");
    assert!(said.contains("browser checks passed"), "{said}");
    for name in [
        "login",
        "problems",
        "problem",
        "crash",
        "backtrace",
        "admin",
        "phone",
    ] {
        assert!(
            shots.join(format!("{name}.png")).is_file(),
            "{name}.png saved"
        );
    }
}

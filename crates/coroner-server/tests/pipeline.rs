//! End to end over loopback: the fixtures' logs and the example dump posted as a
//! fleet would, grouped the way `coroner triage` signs them, with the dump's
//! facts equal to what coroner-report reads directly.

mod common;

use common::{example_dump, Harness};
use coroner_commands::Session;
use coroner_report::backtrace::{bt, BtQuery, Selection};
use coroner_report::{tasks, triage};
use coroner_triage::KnowledgeBase;
use reqwest::{Method, StatusCode};
use std::collections::HashMap;
use std::path::PathBuf;

/// The signature `coroner triage` gives a file.
fn cli_signature(path: &PathBuf, kb: &KnowledgeBase) -> Option<String> {
    let session = Session::new(path, None);
    let report = match session.input() {
        coroner_commands::Input::Dump => session
            .with_kernel(|k| triage::from_kernel("x", k, kb))
            .unwrap()
            .unwrap(),
        _ => triage::from_text("x", &std::fs::read(path).unwrap(), kb),
    };
    report.report.signature
}

#[test]
fn logs_and_dumps_are_grouped_as_triage_signs_them_and_dump_facts_match_the_cli() {
    grouped_as_triage_signs_them(&Harness::start(|_| {}));
}

#[test]
fn the_same_on_postgresql() {
    let Some(pg) = coroner_testdata::postgres::cluster_or_skip("the_same_on_postgresql") else {
        return;
    };
    let h = Harness::start(|c| c.database = Some(pg.url.clone()));
    grouped_as_triage_signs_them(&h);
    drop(h);
}

#[test]
fn the_same_on_postgresql_and_seaweedfs() {
    let Some(pg) = coroner_testdata::postgres::cluster_or_skip("postgresql_and_seaweedfs") else {
        return;
    };
    let Some(s3) = coroner_testdata::seaweedfs::server_or_skip("postgresql_and_seaweedfs") else {
        return;
    };
    // The server takes S3 credentials from the environment, as in production.
    std::env::set_var("AWS_ACCESS_KEY_ID", coroner_testdata::seaweedfs::ACCESS_KEY);
    std::env::set_var(
        "AWS_SECRET_ACCESS_KEY",
        coroner_testdata::seaweedfs::SECRET_KEY,
    );
    let h = Harness::start(|c| {
        c.database = Some(pg.url.clone());
        c.store = Some(s3.store_url("coroner"));
    });
    grouped_as_triage_signs_them(&h);
    // Every byte went to the bucket: nothing under the data directory but the
    // (empty) scratch directory for the dump reader's copies.
    assert_eq!(h.files(), Vec::<PathBuf>::new());
    drop(h);
}

fn grouped_as_triage_signs_them(h: &Harness) {
    let viewer = h.token("viewer", None);
    let hosts = ["web-1", "web-2"];
    let uploads: Vec<String> = hosts
        .iter()
        .map(|host| h.token("upload", Some(host)))
        .collect();
    let kb = KnowledgeBase::builtin().unwrap();

    let fixtures = coroner_testdata::fixtures_dir();
    let mut inputs: Vec<PathBuf> = ["sysrq", "mod-null", "kdump-sysrq"]
        .iter()
        .flat_map(|c| ["console.log", "dmesg.makedumpfile.txt"].map(|f| fixtures.join(c).join(f)))
        .collect();
    inputs.push(example_dump());

    // signature -> (problem, crashes, hosts)
    let mut groups: HashMap<String, (String, i64, Vec<String>)> = HashMap::new();
    let mut dump_crash = None;
    for (n, input) in inputs.iter().enumerate() {
        let expected = cli_signature(input, &kb).expect("every fixture has a crash report");
        let host = n % 2;
        let (status, reply) = h.post(&uploads[host], std::fs::read(input).unwrap());
        assert_eq!(status, StatusCode::CREATED, "{}: {reply}", input.display());
        assert_eq!(reply["signature"], expected, "{}: {reply}", input.display());
        assert_eq!(reply["signature_version"], "coroner-signature-v1");
        let problem = reply["problem"].as_str().unwrap().to_string();
        let group = groups
            .entry(expected)
            .or_insert_with(|| (problem.clone(), 0, Vec::new()));
        assert_eq!(
            group.0,
            problem,
            "same signature, same problem: {}",
            input.display()
        );
        group.1 += 1;
        if !group.2.contains(&hosts[host].to_string()) {
            group.2.push(hosts[host].to_string());
        }
        if input == &example_dump() {
            assert_eq!(reply["want_vmcore"], false, "a dump came whole");
            dump_crash = reply["id"].as_str().map(str::to_string);
        }
    }
    // Different signatures never share a problem.
    let mut problems: Vec<&String> = groups.values().map(|g| &g.0).collect();
    problems.sort();
    problems.dedup();
    assert_eq!(problems.len(), groups.len());
    assert!(
        groups.len() >= 2,
        "the fixtures hold at least two different crashes"
    );

    let listed = h.get(&viewer, "/api/v1/problems");
    let listed = listed["problems"].as_array().unwrap();
    assert_eq!(listed.len(), groups.len(), "{listed:?}");
    for (signature, (problem, count, hosts)) in &groups {
        let p = listed.iter().find(|p| p["id"] == problem.as_str()).unwrap();
        assert_eq!(p["count"], *count, "{p}");
        assert_eq!(p["signatures"], serde_json::json!([signature]));
        let mut hosts = hosts.clone();
        hosts.sort();
        assert_eq!(p["hosts"], serde_json::json!(hosts));
        assert!(p["first_seen"].as_str().unwrap() <= p["last_seen"].as_str().unwrap());
        let detail = h.get(&viewer, &format!("/api/v1/problems/{problem}"));
        assert_eq!(detail["schema"], "coroner.problem/1");
        assert_eq!(detail["crashes"].as_array().unwrap().len() as i64, *count);
        let counted: i64 = detail["counters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["count"].as_i64().unwrap())
            .sum();
        assert_eq!(counted, *count, "{detail}");
        assert!(p["title"].is_string() && p["class"].is_string());
    }

    // The dump's facts, as coroner-report reads them directly.
    let crash = h.settled(&viewer, dump_crash.as_deref().unwrap());
    assert_eq!(crash["state"], "done", "{crash}");
    for stage in [
        "store",
        "triage",
        "problem",
        "dump",
        "program",
        "backtrace",
        "tasks",
    ] {
        let s = crash["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == stage)
            .unwrap_or_else(|| panic!("no stage {stage}: {crash}"));
        assert_eq!(s["status"], "ok", "{s}");
        assert!(s["duration_ms"].is_number());
    }
    let session = Session::new(example_dump(), None);
    let program = session.program().unwrap();
    let query = BtQuery {
        select: Selection::Panic,
        words: false,
    };
    let direct_bt = serde_json::to_value(bt(program, &query).unwrap()).unwrap();
    assert_eq!(crash["facts"]["bt"]["schema"], "coroner.bt/1");
    assert_eq!(crash["facts"]["bt"]["stacks"], direct_bt["stacks"]);
    assert!(!direct_bt["stacks"][0]["frames"]
        .as_array()
        .unwrap()
        .is_empty());
    let direct_ps = tasks::ps(program).unwrap();
    assert_eq!(
        crash["facts"]["ps"]["tasks"].as_array().unwrap().len(),
        direct_ps.tasks.len()
    );
    assert_eq!(crash["facts"]["info"]["schema"], "coroner.info/1");
    assert_eq!(
        crash["facts"]["info"]["file"],
        format!("crashes/{}/vmcore", crash["id"].as_str().unwrap())
    );
    // The triage fields, as `coroner triage --json` gives them.
    let direct = session
        .with_kernel(|k| triage::from_kernel("x", k, &kb))
        .unwrap()
        .unwrap();
    let direct = serde_json::to_value(&direct).unwrap();
    for field in [
        "title",
        "class",
        "guilty",
        "frames",
        "release",
        "signature",
        "crashed",
    ] {
        assert_eq!(crash[field], direct[field], "{field}");
    }
}

#[test]
fn a_log_first_then_its_vmcore_by_put() {
    let h = Harness::start(|_| {});
    let viewer = h.token("viewer", None);
    let upload = h.token("upload", Some("db-1"));
    let other = h.token("upload", Some("db-2"));
    let log = coroner_testdata::fixtures_dir().join("sysrq/dmesg.makedumpfile.txt");
    let (status, reply) = h.post(&upload, std::fs::read(log).unwrap());
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(
        reply["want_vmcore"], true,
        "the first of a problem is wanted"
    );
    assert_eq!(reply["state"], "triaged");
    let id = reply["id"].as_str().unwrap().to_string();
    let vmcore = format!("/api/v1/crashes/{id}/vmcore");
    let whole = std::fs::read(example_dump()).unwrap();
    // Refused requests get their answer before the body is read: send a head.
    let dump = || Some(whole[..4096].to_vec().into());

    // Only the host that sent the crash may send its vmcore.
    let (status, _) = h.call(Method::PUT, &vmcore, Some(&other), dump());
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h.call(Method::PUT, &vmcore, Some(&viewer), dump());
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A log is no vmcore.
    let (status, body) = h.call(
        Method::PUT,
        &vmcore,
        Some(&upload),
        Some(b"hello".to_vec().into()),
    );
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");

    let (status, body) = h.call(
        Method::PUT,
        &vmcore,
        Some(&upload),
        Some(whole.clone().into()),
    );
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["bytes"],
        std::fs::metadata(example_dump()).unwrap().len()
    );
    let (status, _) = h.call(Method::PUT, &vmcore, Some(&upload), dump());
    assert_eq!(status, StatusCode::CONFLICT, "one vmcore per crash");

    let crash = h.settled(&viewer, &id);
    assert_eq!(crash["state"], "done", "{crash}");
    assert_eq!(crash["vmcore"]["state"], "stored");
    assert!(crash["facts"]["bt"]["stacks"][0]["frames"]
        .as_array()
        .is_some_and(|f| !f.is_empty()));
    // The stored bytes are the dump's, under the server's key.
    let stored = h.config.data.join(format!("blobs/crashes/{id}/vmcore"));
    assert_eq!(
        std::fs::read(stored).unwrap(),
        std::fs::read(example_dump()).unwrap()
    );
}

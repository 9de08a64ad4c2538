//! Several `coroner serve` nodes on one PostgreSQL (and one store) share the
//! job queue: every dump posted to either node is analysed exactly once, both
//! nodes' workers take jobs, and a node that starts while another works does
//! not take its work away.

mod common;

use common::{example_dump, Harness};
use reqwest::StatusCode;

const DUMPS: usize = 6;

#[test]
fn two_nodes_share_the_job_queue() {
    let Some(pg) = coroner_testdata::postgres::cluster_or_skip("two_nodes_share_the_job_queue")
    else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let shared = |c: &mut coroner_server::Config| {
        c.database = Some(pg.url.clone());
        c.store = Some(store.path().display().to_string());
    };
    let a = Harness::start(shared);
    let b = Harness::start(shared);
    let viewer = a.token("viewer", None);
    let tokens: Vec<String> = (0..DUMPS)
        .map(|i| a.token("upload", Some(&format!("host-{i}"))))
        .collect();
    let dump = std::fs::read(example_dump()).unwrap();

    // Dumps to both nodes in turn; each POST queues one analysis.
    let mut crashes = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let node = if i % 2 == 0 { &a } else { &b };
        let (status, reply) = node.post(token, dump.clone());
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        crashes.push(reply["id"].as_str().unwrap().to_string());
    }
    // A third node starting now must not requeue the others' running jobs or
    // cut their uploads.
    let c = Harness::start(shared);
    for id in &crashes {
        // Read through either node: one database.
        let crash = b.settled(&viewer, id);
        assert_eq!(crash["state"], "done", "{crash}");
        let analysed = crash["stages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["name"] == "dump")
            .count();
        assert_eq!(analysed, 1, "analysed exactly once: {crash}");
    }
    let nodes = a.get(&viewer, "/api/v1/nodes");
    assert_eq!(nodes["schema"], "coroner.nodes/1");
    let nodes = nodes["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    let done: Vec<i64> = nodes
        .iter()
        .map(|n| n["jobs_done"].as_i64().unwrap())
        .collect();
    assert_eq!(done.iter().sum::<i64>(), DUMPS as i64, "{nodes:?}");
    assert!(
        done.iter().filter(|&&d| d > 0).count() >= 2,
        "the work was shared: {nodes:?}"
    );
    assert!(nodes.iter().all(|n| n["alive"] == true), "{nodes:?}");
    drop((a, b, c));
}

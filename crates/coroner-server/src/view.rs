//! The API's JSON documents for a crash and a problem.

use coroner_report::time::utc_iso8601;
use coroner_store::{CrashRecord, ProblemRow};
use serde_json::{json, Map, Value};

pub fn crash_url(id: &str) -> String {
    format!("/api/v1/crashes/{id}")
}

/// `coroner.crash/1`: the crash's own fields, the fields of `coroner triage
/// --json` (at the top level, as the CLI prints them), and the dump's facts.
pub fn crash(c: &CrashRecord) -> Value {
    let mut doc = Map::new();
    let triage: Option<Map<String, Value>> = c
        .triage
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok());
    if let Some(triage) = &triage {
        doc.extend(triage.clone());
    }
    let known: Vec<Value> = triage
        .as_ref()
        .and_then(|t| t.get("kb"))
        .and_then(Value::as_array)
        .map(|kb| kb.iter().filter_map(|m| m.get("id").cloned()).collect())
        .unwrap_or_default();
    let facts: Map<String, Value> = c
        .facts
        .iter()
        .filter_map(|(name, document)| Some((name.clone(), serde_json::from_str(document).ok()?)))
        .collect();
    let own = json!({
        "schema": "coroner.crash/1",
        "id": c.id,
        "url": crash_url(&c.id),
        "host": c.host,
        "received": utc_iso8601(c.received),
        "state": c.state,
        "upload": c.input,
        "problem": c.problem,
        "signature": c.signature,
        "signature_version": c.signature_version,
        "known": known,
        "want_vmcore": c.want_vmcore,
        "vmcore": { "state": c.vmcore_state, "bytes": c.vmcore_bytes },
        "stages": c.stages,
        "facts": facts,
    });
    if let Value::Object(own) = own {
        doc.extend(own);
    }
    Value::Object(doc)
}

/// `coroner.problem/1`: the problem as listed, its counters and latest crashes.
pub fn problem_detail(
    p: &ProblemRow,
    counters: &[(String, String, String, i64)],
    crashes: &[(String, String, i64, String)],
) -> Value {
    let mut doc = problem(p);
    doc["schema"] = json!("coroner.problem/1");
    doc["counters"] = counters
        .iter()
        .map(|(day, release, host, count)| {
            json!({ "day": day, "release": release, "host": host, "count": count })
        })
        .collect();
    doc["crashes"] = crashes
        .iter()
        .map(|(id, host, received, state)| {
            json!({ "id": id, "url": crash_url(id), "host": host,
                    "received": utc_iso8601(*received), "state": state })
        })
        .collect();
    doc
}

pub fn problem(p: &ProblemRow) -> Value {
    json!({
        "id": p.id,
        "title": p.title,
        "class": p.class,
        "count": p.count,
        "hosts": p.hosts,
        "signatures": p.signatures,
        "first_seen": utc_iso8601(p.first_seen),
        "last_seen": utc_iso8601(p.last_seen),
    })
}

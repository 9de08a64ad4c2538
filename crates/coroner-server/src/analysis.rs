//! The queued part of the pipeline: the facts of a stored dump (what it is, the
//! panic backtrace, the tasks), read with coroner-report as the CLI reads them,
//! on the blocking pool with one `Session` per job, dropped after.

use crate::ingest::Kind;
use crate::triage::{self, clean, elapsed_ms};
use crate::App;
use coroner_commands::Session;
use coroner_report::backtrace::{bt, BtQuery, Selection};
use coroner_report::info::info;
use coroner_report::tasks::ps;
use coroner_report::Render;
use coroner_store::{CrashState, Job, NewStage, StageStatus, StoreError, Triaged};
use std::path::Path;
use std::time::Instant;

/// A finished stage: its status, the fact document it produced, or why it
/// failed or was skipped.
struct Stage {
    name: &'static str,
    status: StageStatus,
    reason: Option<String>,
    /// The fact's name and its JSON document.
    fact: Option<(&'static str, String)>,
    ms: i64,
}

impl Stage {
    fn timed(
        name: &'static str,
        started: Instant,
        result: Result<Option<(&'static str, String)>, String>,
    ) -> Stage {
        let (status, reason, fact) = match result {
            Ok(fact) => (StageStatus::Ok, None, fact),
            Err(reason) => (StageStatus::Failed, Some(reason), None),
        };
        Stage {
            name,
            status,
            reason,
            fact,
            ms: elapsed_ms(started),
        }
    }

    fn skipped(name: &'static str, reason: &str) -> Stage {
        Stage {
            name,
            status: StageStatus::Skipped,
            reason: Some(reason.to_string()),
            fact: None,
            ms: 0,
        }
    }
}

/// Runs an `analyse` job to its end and marks it done; the stages record what
/// failed.
pub async fn run(app: &App, job: &Job) -> Result<(), StoreError> {
    let db = &app.db;
    let Some(crash) = db.crash(&job.crash).await? else {
        return db.finish_job(job).await;
    };
    let Some(key) = crash
        .vmcore_key
        .clone()
        .filter(|_| crash.vmcore_state == "stored")
    else {
        return db.finish_job(job).await;
    };
    db.set_state(&crash.id, CrashState::Analysing).await?;
    // A log without a crash report: the dump's own log may have one.
    if crash.signature.is_none() && crash.input == Kind::Log.name() {
        let triage = triage::triage(app, Kind::Dump, &key).await?;
        let mut record = Triaged::default();
        triage.fill(&mut record, &crash.id, &crash.host);
        db.record(&crash.id, &record, app.config.sampling).await?;
    }
    let copy = app.blobs.local(&key).await?;
    let path = copy.path().to_path_buf();
    let name = key.clone();
    let started = Instant::now();
    let stages = tokio::task::spawn_blocking(move || facts(&path, &name))
        .await
        .unwrap_or_else(|e| {
            let reason = format!("the analysis stopped: {e}");
            vec![Stage::timed("analysis", started, Err(reason))]
        });
    drop(copy);
    let facts: Vec<(&str, &str)> = stages
        .iter()
        .filter_map(|s| s.fact.as_ref().map(|(name, doc)| (*name, doc.as_str())))
        .collect();
    let stages: Vec<NewStage> = stages
        .iter()
        .map(|s| NewStage {
            name: s.name,
            status: s.status,
            reason: s.reason.clone(),
            duration_ms: s.ms,
        })
        .collect();
    db.finish_analysis(job, &stages, &facts).await
}

/// The dump's facts, stage by stage; a stage that fails leaves the others.
fn facts(path: &Path, name: &str) -> Vec<Stage> {
    let session = Session::new(path, None);
    let fail = |e: &dyn std::fmt::Display| clean(&e.to_string(), path, name);
    let mut stages = Vec::new();

    let started = Instant::now();
    let result = session.with_kernel(|kernel| {
        let mut report = info(kernel.dump());
        // The viewer knows the dump by its key, not by the server's path.
        report.file = name.to_string();
        document(&report)
    });
    let result = result.map(|doc| Some(("info", doc))).map_err(|e| fail(&e));
    stages.push(Stage::timed("dump", started, result));

    let started = Instant::now();
    let program = session.program();
    let opened = program.as_ref().map(|_| None).map_err(|e| fail(e));
    stages.push(Stage::timed("program", started, opened));
    let Ok(program) = program else {
        let reason = "needs the program (symbols, types), which did not open";
        stages.push(Stage::skipped("backtrace", reason));
        stages.push(Stage::skipped("tasks", reason));
        return stages;
    };

    let started = Instant::now();
    let query = BtQuery {
        select: Selection::Panic,
        words: false,
    };
    let result = bt(program, &query).map(|r| Some(("bt", document(&r))));
    stages.push(Stage::timed(
        "backtrace",
        started,
        result.map_err(|e| fail(&e)),
    ));

    let started = Instant::now();
    let result = ps(program).map(|r| Some(("ps", document(&r))));
    stages.push(Stage::timed("tasks", started, result.map_err(|e| fail(&e))));
    stages
}

fn document(report: &dyn Render) -> String {
    let mut out = Vec::new();
    report
        .json(&mut out)
        .expect("writing to memory does not fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

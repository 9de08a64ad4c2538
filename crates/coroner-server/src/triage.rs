//! The part of the pipeline a client waits for: triage the log (the upload's
//! text, or the log inside an uploaded dump) with the CLI's own code, then sign
//! and group the crash.

use crate::ingest::Kind;
use crate::App;
use coroner_commands::Session;
use coroner_report::triage::{self, TriageReport};
use coroner_report::Render;
use coroner_store::{NewStage, Occurrence, StageStatus, StoreError, Triaged};
use coroner_triage::{KnowledgeBase, SIGNATURE_VERSION};
use std::path::Path;
use std::time::Instant;

/// A triage's result, to be recorded with the stages before it.
pub struct Triage {
    /// The report and its `coroner.triage/1` document, or why there is none.
    pub result: Result<(TriageReport, String), String>,
    ms: i64,
}

pub fn elapsed_ms(since: Instant) -> i64 {
    since.elapsed().as_millis() as i64
}

/// Triages the stored blob `key` on the blocking pool.
pub async fn triage(app: &App, kind: Kind, key: &str) -> Result<Triage, StoreError> {
    let copy = app.blobs.local(key).await?;
    let path = copy.path().to_path_buf();
    let kb = app.kb.clone();
    let name = key.to_string();
    let started = Instant::now();
    let permit = match kind {
        Kind::Dump => Some(app.dump_opens.acquire().await.expect("never closed")),
        Kind::Log => None,
    };
    let result = tokio::task::spawn_blocking(move || {
        let report = triage_file(&path, &name, kind, &kb)?;
        let mut document = Vec::new();
        report
            .json(&mut document)
            .expect("writing to memory does not fail");
        Ok((
            report,
            String::from_utf8(document).expect("serde_json writes UTF-8"),
        ))
    })
    .await
    .unwrap_or_else(|e| Err(format!("triage stopped: {e}")));
    drop(permit);
    drop(copy);
    Ok(Triage {
        result,
        ms: elapsed_ms(started),
    })
}

impl Triage {
    pub fn failed(&self) -> bool {
        self.result.is_err()
    }

    pub fn report(&self) -> Option<&TriageReport> {
        self.result.as_ref().ok().map(|(report, _)| report)
    }

    /// Adds this triage's stage, document and grouping to `record`.
    pub fn fill<'a>(&'a self, record: &mut Triaged<'a>, crash: &'a str, host: &'a str) {
        let stage = |status, reason: Option<&str>, ms| NewStage {
            name: "triage",
            status,
            reason: reason.map(str::to_string),
            duration_ms: ms,
        };
        let (report, document) = match &self.result {
            Ok(done) => done,
            Err(reason) => {
                record
                    .stages
                    .push(stage(StageStatus::Failed, Some(reason), self.ms));
                return;
            }
        };
        record.stages.push(stage(StageStatus::Ok, None, self.ms));
        let r = &report.report;
        record.triage = Some((document, r.release.as_deref()));
        match (&r.signature, &r.title) {
            (Some(signature), Some(title)) => {
                record.occurrence = Some(Occurrence {
                    crash,
                    signature,
                    version: SIGNATURE_VERSION,
                    title,
                    class: r.class.map(|c| c.name()),
                    host,
                    release: r.release.as_deref(),
                    at: coroner_store::now(),
                })
            }
            _ => record.stages.push(NewStage {
                name: "problem",
                status: StageStatus::Skipped,
                reason: Some(
                    "no crash report was found in the log: nothing to sign or group".into(),
                ),
                duration_ms: 0,
            }),
        }
    }
}

/// `coroner triage`'s work on one file: a log's text, or the log a dump holds.
fn triage_file(
    path: &Path,
    name: &str,
    kind: Kind,
    kb: &KnowledgeBase,
) -> Result<TriageReport, String> {
    match kind {
        Kind::Log => {
            let text = std::fs::read(path).map_err(|e| format!("reading the stored log: {e}"))?;
            Ok(triage::from_text(name, &text, kb))
        }
        Kind::Dump => {
            let session = Session::new(path, None);
            session
                .with_kernel(|kernel| triage::from_kernel(name, kernel, kb))
                .map_err(|e| {
                    format!(
                        "the dump does not open: {}",
                        clean(&e.to_string(), path, name)
                    )
                })?
                .map_err(|e| format!("cannot read the kernel log from the dump: {e}"))
        }
    }
}

/// An error names the file it read: the store's path becomes the key the
/// viewer knows, so no server path leaks.
pub fn clean(message: &str, path: &Path, name: &str) -> String {
    message.replace(&path.display().to_string(), name)
}

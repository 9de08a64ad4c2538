//! The part of the pipeline a client waits for: triage the log (the upload's
//! text, or the log inside an uploaded dump) with the CLI's own code, then sign
//! and group the crash.

use crate::ingest::Kind;
use crate::App;
use coroner_commands::Session;
use coroner_report::triage::{self, TriageReport};
use coroner_report::Render;
use coroner_store::{Occurrence, StageStatus, StoreError};
use coroner_triage::{KnowledgeBase, SIGNATURE_VERSION};
use std::path::Path;
use std::time::Instant;

/// What triage found; `failed` when its stage failed (the reason is stored
/// with it).
#[derive(Default)]
pub struct Outcome {
    pub report: Option<TriageReport>,
    pub failed: bool,
}

pub fn elapsed_ms(since: Instant) -> i64 {
    since.elapsed().as_millis() as i64
}

/// Triages the stored blob `key` of `crash` and groups it; records the stages.
pub async fn run(
    app: &App,
    crash: &str,
    host: &str,
    kind: Kind,
    key: &str,
) -> Result<Outcome, StoreError> {
    let path = app.blobs.local_path(key)?;
    let kb = app.kb.clone();
    let name = key.to_string();
    let started = Instant::now();
    let permit = match kind {
        Kind::Dump => Some(app.dump_opens.acquire().await.expect("never closed")),
        Kind::Log => None,
    };
    let result = tokio::task::spawn_blocking(move || triage_file(&path, &name, kind, &kb))
        .await
        .unwrap_or_else(|e| Err(format!("triage stopped: {e}")));
    drop(permit);
    let ms = elapsed_ms(started);
    let db = &app.db;
    let report = match result {
        Ok(report) => report,
        Err(reason) => {
            db.add_stage(crash, "triage", StageStatus::Failed, Some(&reason), ms)
                .await?;
            return Ok(Outcome {
                failed: true,
                ..Outcome::default()
            });
        }
    };
    let mut document = Vec::new();
    report
        .json(&mut document)
        .expect("writing to memory does not fail");
    let document = String::from_utf8(document).expect("serde_json writes UTF-8");
    let r = &report.report;
    db.set_triage(crash, &document, r.release.as_deref())
        .await?;
    db.add_stage(crash, "triage", StageStatus::Ok, None, ms)
        .await?;

    let (Some(signature), Some(title)) = (&r.signature, &r.title) else {
        let reason = "no crash report was found in the log: nothing to sign or group";
        db.add_stage(crash, "problem", StageStatus::Skipped, Some(reason), 0)
            .await?;
        // Without a report the dump is the only evidence.
        db.want_unsigned_vmcore(crash).await?;
        return Ok(Outcome {
            report: Some(report),
            ..Outcome::default()
        });
    };
    let started = Instant::now();
    let occurrence = Occurrence {
        crash,
        signature,
        version: SIGNATURE_VERSION,
        title,
        class: r.class.map(|c| c.name()),
        host,
        release: r.release.as_deref(),
        at: coroner_store::now(),
    };
    db.assign(&occurrence, app.config.sampling).await?;
    db.add_stage(crash, "problem", StageStatus::Ok, None, elapsed_ms(started))
        .await?;
    Ok(Outcome {
        report: Some(report),
        failed: false,
    })
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

//! The worker: takes queued jobs one at a time (one dump open per job) until the
//! server stops; a job queued by this node wakes it, others' are polled.

use crate::analysis;
use crate::App;
use std::sync::Arc;
use std::time::Duration;

/// How often the queue is looked at without a wake-up.
const POLL: Duration = Duration::from_secs(2);

pub async fn run(app: Arc<App>) {
    loop {
        match app.db.claim_job().await {
            Ok(Some(job)) => {
                if let Err(e) = analysis::run(&app, &job).await {
                    // Left `running`: the next start requeues it.
                    eprintln!("coroner: job {} for crash {}: {e}", job.id, job.crash);
                }
            }
            Ok(None) => {
                tokio::select! {
                    _ = app.jobs.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
            }
            Err(e) => {
                eprintln!("coroner: reading the job queue: {e}");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

//! The worker: takes queued jobs one at a time (one dump open per job) until the
//! server stops; a job queued by this node wakes it, others' are polled. It also
//! says that this node is alive and hands on the work of nodes that are gone
//! (several `coroner serve` on one PostgreSQL share the queue).

use crate::analysis;
use crate::App;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the queue is looked at without a wake-up.
const POLL: Duration = Duration::from_secs(2);

pub async fn run(app: Arc<App>) {
    let beat = Duration::from_secs(coroner_store::HEARTBEAT);
    let mut last_beat = Instant::now();
    loop {
        if last_beat.elapsed() >= beat {
            last_beat = Instant::now();
            alive(&app).await;
        }
        match app.db.claim_job().await {
            Ok(Some(job)) => {
                // A long analysis must not look like a dead node.
                let beating = tokio::spawn(beat_while_busy(app.clone(), beat));
                let result = analysis::run(&app, &job).await;
                beating.abort();
                if let Err(e) = result {
                    // Left `running`: the next start (or another node) requeues it.
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

async fn beat_while_busy(app: Arc<App>, beat: Duration) {
    loop {
        tokio::time::sleep(beat).await;
        alive(&app).await;
    }
}

/// Heartbeat, then the work of gone nodes handed on.
async fn alive(app: &App) {
    if let Err(e) = app.db.heartbeat().await {
        eprintln!("coroner: heartbeat: {e}");
        return;
    }
    match app.db.recover().await {
        Ok((0, 0)) => {}
        Ok((requeued, cut)) => eprintln!(
            "coroner: a node is gone: {requeued} of its jobs requeued, {cut} of its uploads cut off"
        ),
        Err(e) => eprintln!("coroner: handing on gone nodes' work: {e}"),
    }
}

//! The job queue, in the database so that queued work outlives a restart (and,
//! on PostgreSQL, so that several server nodes can share it).

use crate::crashes::{add_stage_in, put_fact_in, CrashState, NewStage, StageStatus};
use crate::db::{now, Backend, Db};
use crate::error::StoreError;

/// Tries per job: one that kills its worker every time is given up.
const MAX_ATTEMPTS: i64 = 3;

/// Seconds without a heartbeat after which a node is gone (it beats every
/// [`HEARTBEAT`] seconds).
pub const NODE_GONE: i64 = 30;
pub const HEARTBEAT: u64 = 5;

// A row's `node` is gone: none, or not this node (`$2`) and not seen since `$3`.
const GIVEN_UP: &str = "SELECT id, crash FROM jobs WHERE state = 'running' AND attempts >= $1 \
     AND (node IS NULL OR (node <> $2 AND node NOT IN (SELECT id FROM nodes WHERE seen >= $3)))";
const REQUEUE: &str =
    "UPDATE jobs SET state = 'queued' WHERE state = 'running' AND $1 = 'running' \
     AND (node IS NULL OR (node <> $2 AND node NOT IN (SELECT id FROM nodes WHERE seen >= $3)))";
const CUT: &str = "SELECT id, state FROM crashes WHERE (state = $1 OR vmcore_state = 'receiving') \
     AND (node IS NULL OR (node <> $2 AND node NOT IN (SELECT id FROM nodes WHERE seen >= $3)))";

/// Claims the oldest queued job for node `$1`. PostgreSQL: nodes skip each
/// other's claimed rows; SQLite has one writer at a time.
const CLAIM_SQLITE: &str = "UPDATE jobs SET state = 'running', attempts = attempts + 1, node = $1 \
     WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ORDER BY created, id LIMIT 1) \
     AND state = 'queued' RETURNING id, crash, kind";
const CLAIM_POSTGRES: &str =
    "UPDATE jobs SET state = 'running', attempts = attempts + 1, node = $1 \
     WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ORDER BY created, id LIMIT 1 \
     FOR UPDATE SKIP LOCKED) AND state = 'queued' RETURNING id, crash, kind";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub crash: String,
    pub kind: String,
}

impl Db {
    /// Takes the oldest queued job, if any.
    pub async fn claim_job(&self) -> Result<Option<Job>, StoreError> {
        let sql = match self.backend {
            Backend::Postgres => CLAIM_POSTGRES,
            Backend::Sqlite => CLAIM_SQLITE,
        };
        let row: Option<(String, String, String)> = sqlx::query_as(sql)
            .bind(&self.node)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(id, crash, kind)| Job { id, crash, kind }))
    }

    pub async fn finish_job(&self, job: &Job) -> Result<(), StoreError> {
        sqlx::query("UPDATE jobs SET state = 'done' WHERE id = $1")
            .bind(&job.id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records an analysis job's results in one transaction: the facts, the
    /// stages, the crash's state (`failed` if any of its stages failed, else
    /// `done`) and the job done. A stop before the commit leaves the job to run
    /// again from nothing; after it, nothing is left to redo.
    pub async fn finish_analysis(
        &self,
        job: &Job,
        stages: &[NewStage],
        facts: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        let crash = job.crash.as_str();
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE jobs SET state = 'done' WHERE id = $1")
            .bind(&job.id)
            .execute(&mut *tx)
            .await?;
        for (name, document) in facts {
            put_fact_in(&mut tx, crash, name, document).await?;
        }
        for s in stages {
            let reason = s.reason.as_deref();
            add_stage_in(&mut tx, crash, s.name, s.status, reason, s.duration_ms).await?;
        }
        // A stage run again (a vmcore upload resumed after a cut) counts by
        // its latest record.
        let (failed,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM stages s WHERE s.crash = $1 AND s.status = 'failed' \
             AND s.seq = (SELECT MAX(t.seq) FROM stages t WHERE t.crash = s.crash AND t.name = s.name)",
        )
        .bind(crash)
        .fetch_one(&mut *tx)
        .await?;
        let state = if failed > 0 {
            CrashState::Failed
        } else {
            CrashState::Done
        };
        sqlx::query("UPDATE crashes SET state = $2 WHERE id = $1")
            .bind(crash)
            .bind(state.name())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Hands on the work of nodes that are gone: their running jobs go back
    /// to the queue (given up after [`MAX_ATTEMPTS`]), and the uploads they
    /// were receiving are marked cut off, so a half-written dump is never taken
    /// for a whole one. On SQLite (one node per database file) every other
    /// node is gone; on PostgreSQL a node is gone when it has not said it is
    /// alive (see [`Db::heartbeat`]) for [`NODE_GONE`] seconds. Returns
    /// (requeued jobs, cut-off uploads).
    pub async fn recover(&self) -> Result<(u64, u64), StoreError> {
        let alive = match self.backend {
            Backend::Sqlite => i64::MAX,
            Backend::Postgres => now() - NODE_GONE,
        };
        let given_up: Vec<(String, String)> = sqlx::query_as(GIVEN_UP)
            .bind(MAX_ATTEMPTS)
            .bind(&self.node)
            .bind(alive)
            .fetch_all(&self.pool)
            .await?;
        for (job, crash) in &given_up {
            let reason = format!("the analysis stopped the server {MAX_ATTEMPTS} times; given up");
            self.add_stage(crash, "analysis", StageStatus::Failed, Some(&reason), 0)
                .await?;
            self.set_state(crash, CrashState::Failed).await?;
            sqlx::query("UPDATE jobs SET state = 'done' WHERE id = $1")
                .bind(job)
                .execute(&self.pool)
                .await?;
        }
        let requeued = sqlx::query(REQUEUE)
            .bind("running")
            .bind(&self.node)
            .bind(alive)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let cut: Vec<(String, String)> = sqlx::query_as(CUT)
            .bind(CrashState::Receiving.name())
            .bind(&self.node)
            .bind(alive)
            .fetch_all(&self.pool)
            .await?;
        for (crash, state) in &cut {
            let (stage, what) = if state == CrashState::Receiving.name() {
                ("ingest", "upload")
            } else {
                ("vmcore", "vmcore upload")
            };
            let reason = format!(
                "the {what} was cut off: the server (node) that received it stopped before it was \
                 complete; send it again (a vmcore resumes from HEAD's Upload-Offset)"
            );
            self.add_stage(crash, stage, StageStatus::Failed, Some(&reason), 0)
                .await?;
            sqlx::query(
                "UPDATE crashes SET state = $2, vmcore_state = CASE vmcore_state \
                 WHEN 'receiving' THEN 'failed' ELSE vmcore_state END WHERE id = $1",
            )
            .bind(crash)
            .bind(CrashState::Failed.name())
            .execute(&self.pool)
            .await?;
        }
        Ok((requeued, cut.len() as u64))
    }

    /// Says this node is alive (PostgreSQL nodes hand on a gone node's work).
    pub async fn heartbeat(&self) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO nodes (id, started, seen) VALUES ($1, $2, $2) \
             ON CONFLICT (id) DO UPDATE SET seen = excluded.seen",
        )
        .bind(&self.node)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The nodes that ran jobs, with (id, last seen, jobs done, jobs running),
    /// most recently seen first.
    pub async fn nodes(&self) -> Result<Vec<(String, i64, i64, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT n.id, n.seen, \
             (SELECT COUNT(*) FROM jobs j WHERE j.node = n.id AND j.state = 'done'), \
             (SELECT COUNT(*) FROM jobs j WHERE j.node = n.id AND j.state = 'running') \
             FROM nodes n ORDER BY n.seen DESC, n.id",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

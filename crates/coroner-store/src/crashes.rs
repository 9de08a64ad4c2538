//! Crashes: one row per report a host sent, its pipeline stages (status,
//! duration, a reason when one failed) and the facts read from its dump.

use crate::db::{now, Db};
use crate::error::StoreError;
use crate::ids::new_id;
use crate::problems::{assign_in, Assigned, Occurrence, Sampling};
use serde::Serialize;
use sqlx::AnyConnection;
use std::time::Instant;

/// Where a crash is in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashState {
    /// The POST body is arriving.
    Receiving,
    /// The log is triaged and grouped; no dump is pending.
    Triaged,
    /// A vmcore is arriving.
    VmcoreReceiving,
    /// The vmcore is stored; its analysis waits in the queue.
    Queued,
    Analysing,
    /// Every stage ran and none failed.
    Done,
    /// A stage failed (its reason says why); what the others found is kept.
    Failed,
}

impl CrashState {
    pub fn name(self) -> &'static str {
        match self {
            CrashState::Receiving => "receiving",
            CrashState::Triaged => "triaged",
            CrashState::VmcoreReceiving => "vmcore-receiving",
            CrashState::Queued => "queued",
            CrashState::Analysing => "analysing",
            CrashState::Done => "done",
            CrashState::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageStatus {
    Ok,
    Failed,
    /// Not run, for a reason given (no crash in the log, no vmcore wanted).
    Skipped,
}

impl StageStatus {
    pub fn name(self) -> &'static str {
        match self {
            StageStatus::Ok => "ok",
            StageStatus::Failed => "failed",
            StageStatus::Skipped => "skipped",
        }
    }
}

/// A finished stage, to record.
#[derive(Debug, Clone)]
pub struct NewStage {
    pub name: &'static str,
    pub status: StageStatus,
    pub reason: Option<String>,
    pub duration_ms: i64,
}

/// What the part of the pipeline a client waits for found (see [`Db::record`]).
#[derive(Debug, Default)]
pub struct Triaged<'a> {
    pub stages: Vec<NewStage>,
    pub log_key: Option<&'a str>,
    /// The `coroner.triage/1` document and the release it names. A triage
    /// without an occurrence found no crash report: the vmcore is wanted.
    pub triage: Option<(&'a str, Option<&'a str>)>,
    /// The crash, signed, to group.
    pub occurrence: Option<Occurrence<'a>>,
    pub state: Option<CrashState>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageRecord {
    pub name: String,
    pub status: String,
    pub reason: Option<String>,
    pub duration_ms: i64,
}

/// A crash as stored.
#[derive(Debug, Clone)]
pub struct CrashRecord {
    pub id: String,
    pub host: String,
    pub received: i64,
    pub state: String,
    pub input: String,
    pub vmcore_state: String,
    pub vmcore_bytes: Option<i64>,
    pub vmcore_key: Option<String>,
    pub log_key: Option<String>,
    pub signature: Option<String>,
    pub signature_version: Option<String>,
    pub problem: Option<String>,
    pub release: Option<String>,
    pub want_vmcore: bool,
    /// The `coroner.triage/1` document.
    pub triage: Option<String>,
    pub stages: Vec<StageRecord>,
    /// (report name, JSON document), in name order.
    pub facts: Vec<(String, String)>,
}

type CrashRow = (
    String,
    String,
    i64,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
);

pub(crate) async fn add_stage_in(
    conn: &mut AnyConnection,
    crash: &str,
    name: &str,
    status: StageStatus,
    reason: Option<&str>,
    duration_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO stages (crash, seq, name, status, reason, duration_ms) \
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM stages WHERE crash = $1",
    )
    .bind(crash)
    .bind(name)
    .bind(status.name())
    .bind(reason.map(str::to_string))
    .bind(duration_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Keeps a report read from the dump (`info`, `bt`, `ps`).
pub(crate) async fn put_fact_in(
    conn: &mut AnyConnection,
    crash: &str,
    name: &str,
    document: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO facts (crash, name, document) VALUES ($1, $2, $3) \
         ON CONFLICT (crash, name) DO UPDATE SET document = excluded.document",
    )
    .bind(crash)
    .bind(name)
    .bind(document)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Db {
    /// A new crash from `host`, its body arriving; returns its id.
    pub async fn insert_crash(&self, host: &str, input: &str) -> Result<String, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO crashes (id, host, received, state, input, vmcore_state, want_vmcore, node) \
             VALUES ($1, $2, $3, $4, $5, 'none', 0, $6)",
        )
        .bind(&id)
        .bind(host)
        .bind(now())
        .bind(CrashState::Receiving.name())
        .bind(input)
        .bind(&self.node)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    pub async fn set_state(&self, crash: &str, state: CrashState) -> Result<(), StoreError> {
        sqlx::query("UPDATE crashes SET state = $2 WHERE id = $1")
            .bind(crash)
            .bind(state.name())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a finished stage.
    pub async fn add_stage(
        &self,
        crash: &str,
        name: &str,
        status: StageStatus,
        reason: Option<&str>,
        duration_ms: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        add_stage_in(&mut conn, crash, name, status, reason, duration_ms).await
    }

    /// Records what triage found, in one transaction (one commit, so one fsync,
    /// however many stages): the stages, the log's key, the triage document, the
    /// grouping (then a `problem` stage), the state.
    pub async fn record(
        &self,
        crash: &str,
        t: &Triaged<'_>,
        sampling: Sampling,
    ) -> Result<Option<Assigned>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Stages first: a write, so SQLite takes its write lock at the start.
        for s in &t.stages {
            let reason = s.reason.as_deref();
            add_stage_in(&mut tx, crash, s.name, s.status, reason, s.duration_ms).await?;
        }
        if let Some(key) = t.log_key {
            sqlx::query("UPDATE crashes SET log_key = $2 WHERE id = $1")
                .bind(crash)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        if let Some((document, release)) = t.triage {
            sqlx::query("UPDATE crashes SET triage = $2, release = $3 WHERE id = $1")
                .bind(crash)
                .bind(document)
                .bind(release.map(str::to_string))
                .execute(&mut *tx)
                .await?;
        }
        let assigned = match &t.occurrence {
            Some(o) => {
                let started = Instant::now();
                let assigned = assign_in(&mut tx, o, sampling).await?;
                let ms = started.elapsed().as_millis() as i64;
                add_stage_in(&mut tx, crash, "problem", StageStatus::Ok, None, ms).await?;
                Some(assigned)
            }
            None if t.triage.is_some() => {
                // A log without a crash report: the dump is the only evidence.
                sqlx::query("UPDATE crashes SET want_vmcore = 1 WHERE id = $1")
                    .bind(crash)
                    .execute(&mut *tx)
                    .await?;
                None
            }
            None => None,
        };
        if let Some(state) = t.state {
            sqlx::query("UPDATE crashes SET state = $2 WHERE id = $1")
                .bind(crash)
                .bind(state.name())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(assigned)
    }

    /// Starts a vmcore upload into `key`; false when one is arriving or stored
    /// already (a crash has one vmcore).
    pub async fn vmcore_receiving(&self, crash: &str, key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE crashes SET vmcore_state = 'receiving', vmcore_key = $2, state = $3, node = $4 \
             WHERE id = $1 AND vmcore_state IN ('none', 'failed')",
        )
        .bind(crash)
        .bind(key)
        .bind(CrashState::VmcoreReceiving.name())
        .bind(&self.node)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The vmcore is durable: mark it stored and queue its analysis, in one
    /// transaction (a restart finds either both or neither).
    pub async fn vmcore_stored(&self, crash: &str, bytes: u64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE crashes SET vmcore_state = 'stored', vmcore_bytes = $2, state = $3 WHERE id = $1",
        )
        .bind(crash)
        .bind(bytes as i64)
        .bind(CrashState::Queued.name())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO jobs (id, crash, kind, state, attempts, created) \
             VALUES ($1, $2, 'analyse', 'queued', 0, $3)",
        )
        .bind(new_id())
        .bind(crash)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The vmcore did not arrive whole; the crash keeps what its log gave.
    pub async fn vmcore_failed(&self, crash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE crashes SET vmcore_state = 'failed', state = $2 WHERE id = $1")
            .bind(crash)
            .bind(CrashState::Failed.name())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn crash(&self, id: &str) -> Result<Option<CrashRecord>, StoreError> {
        let row: Option<CrashRow> = sqlx::query_as(
            "SELECT id, host, received, state, input, vmcore_state, vmcore_bytes, vmcore_key, \
             log_key, signature, signature_version, \
             COALESCE((SELECT s.problem FROM signatures s WHERE s.signature = crashes.signature), problem), \
             release, want_vmcore, triage FROM crashes WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let stages: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT name, status, reason, duration_ms FROM stages WHERE crash = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let facts: Vec<(String, String)> =
            sqlx::query_as("SELECT name, document FROM facts WHERE crash = $1 ORDER BY name")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        Ok(Some(CrashRecord {
            id: r.0,
            host: r.1,
            received: r.2,
            state: r.3,
            input: r.4,
            vmcore_state: r.5,
            vmcore_bytes: r.6,
            vmcore_key: r.7,
            log_key: r.8,
            signature: r.9,
            signature_version: r.10,
            problem: r.11,
            release: r.12,
            want_vmcore: r.13 != 0,
            triage: r.14,
            stages: stages
                .into_iter()
                .map(|(name, status, reason, duration_ms)| StageRecord {
                    name,
                    status,
                    reason,
                    duration_ms,
                })
                .collect(),
            facts,
        }))
    }
}

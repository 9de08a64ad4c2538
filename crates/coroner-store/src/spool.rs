//! The spool's bookkeeping: capture directory → crash, and the files already
//! taken into the store (a restart between storing a file and removing it from
//! the spool must not count it twice).

use crate::crashes::{add_stage_in, put_fact_in, CrashState, StageStatus};
use crate::db::{now, Db};
use crate::error::StoreError;

impl Db {
    /// The crash a capture directory became, if it became one.
    pub async fn spool_crash(&self, dir: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT crash FROM spool_dirs WHERE dir = $1")
            .bind(dir)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(crash,)| crash))
    }

    /// Records that capture directory `dir` is crash `crash`.
    pub async fn spool_link(&self, dir: &str, crash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO spool_dirs (dir, crash, created) VALUES ($1, $2, $3) \
             ON CONFLICT (dir) DO NOTHING",
        )
        .bind(dir)
        .bind(crash)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether `dir/file` was taken already.
    pub async fn spool_taken(&self, dir: &str, file: &str) -> Result<bool, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT bytes FROM spool_files WHERE dir = $1 AND file = $2")
                .bind(dir)
                .bind(file)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    /// Records that `dir/file` is taken (into `crash`, or refused when `None`).
    pub async fn spool_take(
        &self,
        dir: &str,
        file: &str,
        crash: Option<&str>,
        bytes: u64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO spool_files (dir, file, crash, bytes, at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (dir, file) DO NOTHING",
        )
        .bind(dir)
        .bind(file)
        .bind(crash.map(str::to_string))
        .bind(bytes as i64)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Keeps a document about a crash beside the dump's facts (`capture`: where
    /// a spooled crash came from).
    pub async fn put_fact(
        &self,
        crash: &str,
        name: &str,
        document: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        put_fact_in(&mut conn, crash, name, document).await
    }
}

impl Db {
    /// Records a failed stage that no later stage undoes (a capture that did
    /// not finish): a crash already settled as `triaged` or `done` becomes
    /// `failed`; one still in the pipeline ends `failed` when its analysis
    /// counts its stages.
    pub async fn flag_failed(
        &self,
        crash: &str,
        stage: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        add_stage_in(&mut tx, crash, stage, StageStatus::Failed, Some(reason), 0).await?;
        sqlx::query("UPDATE crashes SET state = $2 WHERE id = $1 AND state IN ('triaged', 'done')")
            .bind(crash)
            .bind(CrashState::Failed.name())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

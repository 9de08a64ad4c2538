//! The connection: SQLite (a file under the data directory, the default) or
//! PostgreSQL, through sqlx's `Any` driver so that one query text serves both.

use crate::error::StoreError;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The SQL dialect behind the pool, for the one statement that differs (the job
/// queue's row locking).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    /// This server process among the nodes sharing the database (random).
    pub(crate) node: String,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Db {
    /// Connects to `url` (`sqlite://PATH`, `postgres://...`) and brings the schema
    /// up to date.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Config(format!(
                "{url}: unsupported database URL (sqlite://PATH or postgres://...)"
            )));
        };
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Db {
            pool,
            backend,
            node: crate::ids::new_id(),
        })
    }

    /// The SQLite database `coroner.db` in `dir` (created if missing).
    pub async fn open_dir(dir: &Path) -> Result<Db, StoreError> {
        Db::connect(&sqlite_url(dir)).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.pool.close().await
    }
}

/// SQLite (WAL, `synchronous=FULL`: sqlx's defaults) in `dir`, created when missing.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("coroner.db").display())
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

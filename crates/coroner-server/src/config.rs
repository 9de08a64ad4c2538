//! Where the server keeps things and what it accepts.

use crate::spool::SpoolConfig;
use coroner_store::{Blobs, Db, Sampling, StoreError};
use std::path::PathBuf;
use std::time::Duration;

/// Upload size limits, in bytes: larger bodies get `413`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A kernel log (it is read into memory for triage).
    pub log: u64,
    /// A dump (streamed to storage).
    pub dump: u64,
    /// Free space the store keeps: an upload that would leave less gets `507`.
    pub keep_free: u64,
    /// A client that sends nothing for this long has cut its upload off.
    pub idle: Duration,
    /// Uploads at once; more get `503` (memory is a few parts per upload).
    pub uploads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            log: 64 << 20,
            dump: 4 << 40,
            keep_free: 1 << 30,
            idle: Duration::from_secs(120),
            uploads: 64,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    /// The database and the store live here unless named otherwise.
    pub data: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; default: `DATA/coroner.db`.
    pub database: Option<String>,
    /// A directory, `file:///DIR` or `s3://BUCKET?endpoint=URL`; default: `DATA/blobs`.
    pub store: Option<String>,
    pub limits: Limits,
    pub sampling: Sampling,
    /// A kdump ssh/NFS drop directory to watch (`--spool DIR`).
    pub spool: Option<SpoolConfig>,
}

impl Config {
    pub fn new(data: PathBuf) -> Config {
        Config {
            listen: "127.0.0.1:8080".into(),
            data,
            database: None,
            store: None,
            limits: Limits::default(),
            sampling: Sampling::default(),
            spool: None,
        }
    }

    pub(crate) async fn database(&self) -> Result<Db, StoreError> {
        match &self.database {
            Some(url) => Db::connect(url).await,
            None => {
                std::fs::create_dir_all(&self.data)
                    .map_err(|e| StoreError::Config(format!("{}: {e}", self.data.display())))?;
                Db::open_dir(&self.data).await
            }
        }
    }

    pub(crate) fn blobs(&self) -> Result<Blobs, StoreError> {
        // Copies of S3 objects for the dump reader, which maps files.
        let scratch = self.data.join("scratch");
        match &self.store {
            Some(url) => Blobs::open(url, &scratch),
            None => Blobs::open(&self.data.join("blobs").display().to_string(), &scratch),
        }
    }
}

/// `$XDG_DATA_HOME/coroner`, else `~/.local/share/coroner`, else `./coroner-data`.
pub fn default_data_dir() -> PathBuf {
    let xdg = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty());
    let home = std::env::var_os("HOME").filter(|v| !v.is_empty());
    match (xdg, home) {
        (Some(xdg), _) => PathBuf::from(xdg).join("coroner"),
        (None, Some(home)) => PathBuf::from(home).join(".local/share/coroner"),
        (None, None) => PathBuf::from("coroner-data"),
    }
}

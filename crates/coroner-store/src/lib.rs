//! The fleet server's storage. [`Db`]: crashes, their pipeline stages and facts,
//! problems and the signatures they own, counters, tokens and the job queue, in
//! SQL that SQLite and PostgreSQL both run (one set of queries with `$N`
//! placeholders, one migration). [`Blobs`]: the bytes (kernel logs, vmcores) in
//! an object store, under keys the server makes.

mod blobs;
mod crashes;
mod dashboard;
mod db;
mod error;
mod ids;
mod jobs;
mod problems;
mod release;
mod sessions;
mod spool;
mod states;
mod tokens;

pub use blobs::{BlobWriter, Blobs, LocalCopy};
pub use crashes::{CrashRecord, CrashState, NewStage, StageRecord, StageStatus, Triaged};
pub use dashboard::{
    last_days, AuditRow, FailedStage, FilterChoices, Fix, HostCrash, HostSeen, JobRow,
    ProblemExtras, ProblemFilter, ProblemPage, ProblemSummary, Queue, ReleaseSeen, SignatureRow,
    TokenRow, SPARK_DAYS,
};
pub use db::{now, Backend, Db};
pub use error::StoreError;
pub use ids::{is_id, new_id};
pub use jobs::{Job, HEARTBEAT, NODE_GONE};
pub use problems::{day, Assigned, Occurrence, ProblemRow, Sampling};
pub use release::{branch, compare as compare_releases};
pub use sessions::{Reader, SESSION_SECONDS};
pub use states::{ProbablyFixed, ProblemState};
pub use tokens::{token_id, Identity, Role};

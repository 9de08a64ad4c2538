use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("object store: {0}")]
    Blob(#[from] object_store::Error),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Invalid(String),
}

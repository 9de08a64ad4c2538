//! Who reads the dashboard: a token presented as `Authorization: Bearer`, or a
//! browser session made from one at the login form (the cookie is random, only
//! its SHA-256 is stored, and it ends with its token).

use crate::db::{now, Db};
use crate::error::StoreError;
use crate::ids::random_hex;
use crate::tokens::{digest, Role};

/// How long a browser session lasts.
pub const SESSION_SECONDS: i64 = 12 * 3600;

/// A reader: the token's role, whether it may download vmcores, and a short
/// name for the audit log (the start of the token's hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub role: Role,
    pub download: bool,
    pub actor: String,
}

impl Reader {
    pub fn may_read(&self) -> bool {
        matches!(self.role, Role::Viewer | Role::Admin)
    }

    pub fn may_download(&self) -> bool {
        self.role == Role::Admin || self.download
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

fn reader(hash: &str, role: &str, download: i64) -> Option<Reader> {
    Some(Reader {
        role: Role::parse(role)?,
        download: download != 0,
        actor: hash[..12.min(hash.len())].to_string(),
    })
}

impl Db {
    /// The reader behind a presented token, if any.
    pub async fn reader_by_token(&self, token: &str) -> Result<Option<Reader>, StoreError> {
        let hash = digest(token);
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT role, download FROM tokens WHERE hash = $1")
                .bind(&hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(role, download)| reader(&hash, &role, download)))
    }

    /// The reader behind a session cookie, if the session and its token live.
    pub async fn reader_by_session(&self, cookie: &str) -> Result<Option<Reader>, StoreError> {
        let row: Option<(String, String, i64)> = sqlx::query_as(
            "SELECT t.hash, t.role, t.download FROM sessions s JOIN tokens t ON t.hash = s.token \
             WHERE s.hash = $1 AND s.expires > $2",
        )
        .bind(digest(cookie))
        .bind(now())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(hash, role, download)| reader(&hash, &role, download)))
    }

    /// Opens a session for a token that may read; returns the cookie's value,
    /// or `None` when the token is unknown or may not read.
    pub async fn login(&self, token: &str) -> Result<Option<String>, StoreError> {
        match self.reader_by_token(token).await? {
            Some(r) if r.may_read() => {}
            _ => return Ok(None),
        }
        let cookie = random_hex(32);
        let at = now();
        // Expired sessions go when new ones come: the table stays small.
        sqlx::query("DELETE FROM sessions WHERE expires <= $1")
            .bind(at)
            .execute(&self.pool)
            .await?;
        sqlx::query("INSERT INTO sessions (hash, token, created, expires) VALUES ($1, $2, $3, $4)")
            .bind(digest(&cookie))
            .bind(digest(token))
            .bind(at)
            .bind(at + SESSION_SECONDS)
            .execute(&self.pool)
            .await?;
        Ok(Some(cookie))
    }

    pub async fn logout(&self, cookie: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE hash = $1")
            .bind(digest(cookie))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Gives a token the vmcore download permission (viewer tokens lack it
    /// unless given; admin tokens have it).
    pub async fn allow_download(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE tokens SET download = 1 WHERE hash = $1")
            .bind(digest(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

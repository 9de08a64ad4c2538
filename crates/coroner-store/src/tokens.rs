//! Tokens: 32 random bytes shown once; only their SHA-256 is stored, so a copy
//! of the database gives no credential.

use crate::db::{now, Db};
use crate::error::StoreError;
use crate::ids::{hex, random_hex};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// May only send crashes, as one host.
    Upload,
    /// May read crashes and problems.
    Viewer,
    /// May read, download vmcores, manage tokens and problems.
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Upload => "upload",
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "upload" => Some(Role::Upload),
            "viewer" => Some(Role::Viewer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Whether this role may do what `needed` may: an admin reads as a viewer.
    pub fn grants(self, needed: Role) -> bool {
        self == needed || (self == Role::Admin && needed == Role::Viewer)
    }
}

/// Who a token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub role: Role,
    /// The host an upload token writes as (the server's name for it, never one a
    /// request brings).
    pub host: Option<String>,
}

pub(crate) fn digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A host name as DNS spells one, so it prints safely anywhere.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && !host.starts_with(['.', '-'])
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

impl Db {
    /// Makes a token and returns it; only its hash is kept. Upload tokens need a
    /// host, viewer tokens take none.
    pub async fn create_token(&self, role: Role, host: Option<&str>) -> Result<String, StoreError> {
        match (role, host) {
            (Role::Upload, None) => {
                return Err(StoreError::Invalid(
                    "an upload token needs --host NAME".into(),
                ))
            }
            (Role::Viewer | Role::Admin, Some(_)) => {
                return Err(StoreError::Invalid(format!(
                    "a {} token takes no --host",
                    role.name()
                )))
            }
            (_, Some(h)) if !valid_host(h) => {
                return Err(StoreError::Invalid(format!(
                    "{h:?}: a host name is letters, digits, '.', '-' and '_' (at most 253)"
                )))
            }
            _ => {}
        }
        let token = random_hex(32);
        sqlx::query("INSERT INTO tokens (hash, role, host, created) VALUES ($1, $2, $3, $4)")
            .bind(digest(&token))
            .bind(role.name())
            .bind(host.map(str::to_string))
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// The identity a presented token stands for, if any.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Identity>, StoreError> {
        let row: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT role, host FROM tokens WHERE hash = $1")
                .bind(digest(token))
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(role, host)| {
            Some(Identity {
                role: Role::parse(&role)?,
                host,
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        for good in ["web-01", "db1.example.com", "a_b"] {
            assert!(valid_host(good), "{good}");
        }
        for bad in ["", "../x", "a/b", "-rf", ".hidden", "a b", "x\0"] {
            assert!(!valid_host(bad), "{bad:?}");
        }
    }
}

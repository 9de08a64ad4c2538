//! Bearer tokens: no token or an unknown one is `401`, the wrong role `403`.

use crate::error::ApiError;
use crate::App;
use axum::http::{header, HeaderMap, StatusCode};
use coroner_store::{Identity, Role};

/// A token's shape: 64 hex digits. Anything else is refused before the database
/// is asked.
fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The identity behind the request's token, if it holds `role`.
pub async fn require(app: &App, headers: &HeaderMap, role: Role) -> Result<Identity, ApiError> {
    let unauthorized = |why: &str| ApiError::new(StatusCode::UNAUTHORIZED, why);
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("a token is needed: Authorization: Bearer TOKEN"))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| well_formed(t))
        .ok_or_else(|| unauthorized("malformed token: Authorization: Bearer TOKEN"))?;
    let identity = app
        .db
        .authenticate(token)
        .await?
        .ok_or_else(|| unauthorized("unknown token"))?;
    if !identity.role.grants(role) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("this needs a {} token", role.name()),
        ));
    }
    Ok(identity)
}

//! The admin page: tokens (create, revoke), the job queue, the failed stages
//! with their reasons, and the audit log. Its JSON twin is `/api/v1/admin`.

use super::session::{admin, error_page, page_reader, render, Nav};
use crate::error::ApiError;
use crate::App;
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::Uri;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use coroner_store::{AuditRow, Queue, Role, TokenRow};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Jobs, failed stages and audit entries listed.
const LISTED: i64 = 100;

struct AdminData {
    tokens: Vec<TokenRow>,
    queue: Queue,
    audit: Vec<AuditRow>,
}

async fn load(app: &App) -> Result<AdminData, ApiError> {
    Ok(AdminData {
        tokens: app.db.tokens().await?,
        queue: app.db.queue(LISTED).await?,
        audit: app.db.audit_log(LISTED).await?,
    })
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    nav: Nav,
    tokens: Vec<TokenRow>,
    queue: Queue,
    audit: Vec<AuditRow>,
    notice: Option<String>,
    error: Option<String>,
}

fn not_admin() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "the admin page needs an admin token")
}

async fn page(
    app: &App,
    headers: &HeaderMap,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let signed = match page_reader(app, headers, "/admin").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !signed.reader.is_admin() {
        return error_page(not_admin());
    }
    match load(app).await {
        Ok(d) => render(&AdminPage {
            nav: signed.nav,
            tokens: d.tokens,
            queue: d.queue,
            audit: d.audit,
            notice,
            error,
        }),
        Err(e) => error_page(e),
    }
}

pub async fn admin_html(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    page(&app, &headers, None, None).await
}

/// `coroner.admin/1`: tokens (never the tokens themselves), the queue, failed
/// stages, the audit log.
pub async fn admin_json(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let signed = super::session::signed(&app, &headers).await?;
    if !signed.reader.is_admin() {
        return Err(not_admin());
    }
    let d = load(&app).await?;
    Ok(Json(json!({
        "schema": "coroner.admin/1",
        "tokens": d.tokens,
        "jobs": d.queue.jobs,
        "job_counts": d.queue.counts,
        "failed_stages": d.queue.failed,
        "audit": d.audit,
    })))
}

#[derive(Deserialize)]
pub struct NewToken {
    role: String,
    host: Option<String>,
    download: Option<String>,
}

/// Makes a token and shows it once (the page) or returns it (JSON).
pub async fn create_token(
    State(app): State<Arc<App>>,
    uri: Uri,
    headers: HeaderMap,
    Form(f): Form<NewToken>,
) -> Response {
    let api = uri.path().starts_with("/api/");
    let made = async {
        let who = admin(&app, &headers).await?;
        let role = Role::parse(&f.role).ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, "role: upload, viewer or admin")
        })?;
        let host = f.host.as_deref().map(str::trim).filter(|h| !h.is_empty());
        let token = app.db.create_token(role, host).await.map_err(|e| match e {
            coroner_store::StoreError::Invalid(why) => ApiError::new(StatusCode::BAD_REQUEST, why),
            e => e.into(),
        })?;
        let download = f.download.is_some() && role == Role::Viewer;
        if download {
            app.db.allow_download(&token).await?;
        }
        let detail = format!("role={} host={}", role.name(), host.unwrap_or("-"));
        app.db
            .audit(&who.reader.actor, "token-create", "token", Some(&detail))
            .await?;
        Ok::<_, ApiError>((token, role, download))
    }
    .await;
    match (made, api) {
        (Ok((token, role, download)), true) => (
            StatusCode::CREATED,
            Json(json!({ "token": token, "role": role.name(), "download": download })),
        )
            .into_response(),
        (Ok((token, role, _)), false) => {
            let notice = format!(
                "New {} token (shown once, copy it now): {token}",
                role.name()
            );
            page(&app, &headers, Some(notice), None).await
        }
        (Err(e), true) => e.into_response(),
        (Err(e), false) if e.status == StatusCode::BAD_REQUEST => {
            page(&app, &headers, None, Some(e.message)).await
        }
        (Err(e), false) => error_page(e),
    }
}

pub async fn revoke_token(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let api = uri.path().starts_with("/api/");
    let revoked = async {
        let who = admin(&app, &headers).await?;
        if !app.db.revoke_token(&id).await? {
            return Err(ApiError::new(StatusCode::NOT_FOUND, "no such token"));
        }
        app.db
            .audit(&who.reader.actor, "token-revoke", &id, None)
            .await?;
        Ok(())
    }
    .await;
    match (revoked, api) {
        (Ok(()), true) => Json(json!({ "revoked": id })).into_response(),
        (Ok(()), false) => Redirect::to("/admin").into_response(),
        (Err(e), true) => e.into_response(),
        (Err(e), false) => error_page(e),
    }
}

//! The dashboard: server-rendered pages (askama templates, checked when the
//! server compiles; one embedded stylesheet; no JavaScript) over the same
//! loaders as their JSON twins under `/api/v1/`, charts drawn as SVG on the
//! server, viewer sessions, and the decisions admins take about problems.

mod actions;
mod admin;
mod charts;
mod crash;
mod pages;
mod session;

use crate::App;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use coroner_store::ProbablyFixed;
use std::borrow::Borrow;
use std::sync::Arc;
use std::time::Duration;

/// The dashboard's routes (the API's own stay in `api`).
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(pages::problems_html))
        .route("/api/v1/problems", get(pages::problems_json))
        .route("/problems/{id}", get(pages::problem_html))
        .route("/api/v1/problems/{id}", get(pages::problem_json))
        .route("/problems/{id}/{action}", post(actions::problem_action))
        .route(
            "/api/v1/problems/{id}/{action}",
            post(actions::problem_action),
        )
        .route("/crashes/{id}", get(crash::crash_html))
        .route("/crashes/{id}/vmcore", get(crash::download))
        .route("/hosts/{name}", get(pages::host_html))
        .route("/api/v1/hosts/{name}", get(pages::host_json))
        .route("/admin", get(admin::admin_html))
        .route("/api/v1/admin", get(admin::admin_json))
        .route("/admin/tokens", post(admin::create_token))
        .route("/api/v1/admin/tokens", post(admin::create_token))
        .route("/admin/tokens/{id}/revoke", post(admin::revoke_token))
        .route(
            "/api/v1/admin/tokens/{id}/revoke",
            post(admin::revoke_token),
        )
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/assets/style.css", get(stylesheet))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../assets/style.css"),
    )
}

/// A time as the pages show it: `2026-12-04 10:00 UTC`.
pub fn when<T: Borrow<i64>>(t: T) -> String {
    let iso = coroner_report::time::utc_iso8601(*t.borrow());
    format!("{} {} UTC", &iso[..10], &iso[11..16])
}

/// Moves open problems to probably-fixed as time passes (the rule depends on
/// days, not only on crashes): at start, then every ten minutes.
pub async fn housekeeping(app: Arc<App>) {
    loop {
        if let Err(e) = app
            .db
            .refresh_probably_fixed(ProbablyFixed::default(), coroner_store::now())
            .await
        {
            eprintln!("coroner: probably-fixed refresh: {e}");
        }
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
}

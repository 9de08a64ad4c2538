//! Who is reading: `Authorization: Bearer <token>` (scripts, checks) or the
//! session cookie the login form sets from a viewer token. Upload tokens read
//! nothing; vmcore downloads need the download permission; decisions need an
//! admin. The cookie is `HttpOnly` and `SameSite=Strict`, and a form post
//! whose `Origin` is another site is refused, so other sites cannot act for a
//! signed-in viewer.

use crate::error::ApiError;
use crate::App;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use coroner_store::{Reader, SESSION_SECONDS};
use serde::Deserialize;
use std::sync::Arc;

const COOKIE: &str = "coroner_session";

/// What the page header needs to know about the reader.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nav {
    pub reader: bool,
    pub session: bool,
    pub admin: bool,
    pub download: bool,
}

/// A reader who may read, and how they came.
pub struct Signed {
    pub reader: Reader,
    pub nav: Nav,
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The reader of a request: a bearer token if one is given, else the session.
/// `401` when neither names one, `403` for a token that may not read.
pub async fn signed(app: &App, headers: &HeaderMap) -> Result<Signed, ApiError> {
    let unauthorized = |why: &str| ApiError::new(StatusCode::UNAUTHORIZED, why);
    let (reader, session) = match headers.get(header::AUTHORIZATION) {
        Some(value) => {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(|| unauthorized("malformed token: Authorization: Bearer TOKEN"))?;
            let reader = app.db.reader_by_token(token).await?;
            (reader.ok_or_else(|| unauthorized("unknown token"))?, false)
        }
        None => {
            let cookie = session_cookie(headers)
                .ok_or_else(|| unauthorized("log in, or send Authorization: Bearer TOKEN"))?;
            let reader = app.db.reader_by_session(cookie).await?;
            (
                reader.ok_or_else(|| unauthorized("the session has ended: log in again"))?,
                true,
            )
        }
    };
    if !reader.may_read() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this needs a viewer token (an upload token only sends crashes)",
        ));
    }
    let nav = Nav {
        reader: true,
        session,
        admin: reader.is_admin(),
        download: reader.may_download(),
    };
    Ok(Signed { reader, nav })
}

/// For a page: not signed in sends the browser to the login form, coming back
/// to `path` after; other refusals are shown as they are.
pub async fn page_reader(app: &App, headers: &HeaderMap, path: &str) -> Result<Signed, Response> {
    match signed(app, headers).await {
        Ok(s) => Ok(s),
        Err(e)
            if e.status == StatusCode::UNAUTHORIZED
                && !headers.contains_key(header::AUTHORIZATION) =>
        {
            let next = url_escape(path);
            Err(Redirect::to(&format!("/login?next={next}")).into_response())
        }
        Err(e) => Err(error_page(e)),
    }
}

/// An admin for a decision: also refuses a form posted from another site.
pub async fn admin(app: &App, headers: &HeaderMap) -> Result<Signed, ApiError> {
    if let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        let origin = origin.to_str().unwrap_or("");
        let host = host.to_str().unwrap_or("");
        let same = origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest == host);
        if !same {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "a form from another site",
            ));
        }
    }
    let s = signed(app, headers).await?;
    if !s.reader.is_admin() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this needs an admin token",
        ));
    }
    Ok(s)
}

/// A refusal or failure as a small page.
pub fn error_page(e: ApiError) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{0}</title>\
         <link rel=\"stylesheet\" href=\"/assets/style.css\"><main><h1>{0}</h1>\
         <p class=\"error\" role=\"alert\">{1}</p><p><a href=\"/\">Problems</a> · <a href=\"/login\">Log in</a></p></main></html>",
        e.status,
        html_escape(&e.message)
    );
    (e.status, Html(body)).into_response()
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Only a path on this site, never `//elsewhere` or `https://...`.
fn local_path(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

pub async fn login_form(Query(q): Query<Next>) -> Response {
    let next = local_path(q.next.as_deref().unwrap_or("/")).to_string();
    render(&LoginPage {
        nav: Nav::default(),
        next,
        error: None,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

pub async fn login(State(app): State<Arc<App>>, Form(f): Form<LoginForm>) -> Response {
    let next = local_path(f.next.as_deref().unwrap_or("/")).to_string();
    let token = f.token.trim();
    let refused = |why: &str| {
        let page = LoginPage {
            nav: Nav::default(),
            next: next.clone(),
            error: Some(why.to_string()),
        };
        (StatusCode::UNAUTHORIZED, render(&page)).into_response()
    };
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return refused("That is not a token (64 hex digits).");
    }
    match app.db.login(token).await {
        Ok(Some(cookie)) => (
            StatusCode::SEE_OTHER,
            [
                (
                    header::SET_COOKIE,
                    format!(
                        "{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}"
                    ),
                ),
                (header::LOCATION, next.clone()),
            ],
        )
            .into_response(),
        Ok(None) => refused("Unknown token, or one that may not read (upload tokens only send crashes)."),
        Err(e) => error_page(e.into()),
    }
}

pub async fn logout(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(cookie) = session_cookie(&headers) {
        if let Err(e) = app.db.logout(cookie).await {
            return error_page(e.into());
        }
    }
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
            ),
            (header::LOCATION, "/login".to_string()),
        ],
    )
        .into_response()
}

/// A template as a page; a template that fails to render is the server's fault.
pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => error_page(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("rendering the page: {e}"),
        )),
    }
}

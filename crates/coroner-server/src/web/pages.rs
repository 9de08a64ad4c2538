//! The problems list, a problem and a host: each page and its JSON twin come
//! from one loader, so both always say the same.

use super::charts;
use super::session::{error_page, page_reader, render, signed, url_escape, Nav};
use crate::error::ApiError;
use crate::{view, App};
use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use coroner_store::{
    is_id, FilterChoices, HostCrash, ProblemExtras, ProblemFilter, ProblemPage, ProblemRow,
    SignatureRow,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Problems on one page of the list.
const PER_PAGE: i64 = 50;
/// The JSON list's default and most (as the API always gave: at most 1000).
const JSON_PER_PAGE: i64 = 1000;
/// A problem page's latest crashes.
const PROBLEM_CRASHES: i64 = 100;
/// A host page's latest crashes.
const HOST_CRASHES: i64 = 500;

fn today() -> String {
    coroner_store::day(coroner_store::now())
}

fn invalid(e: coroner_store::StoreError) -> ApiError {
    match e {
        coroner_store::StoreError::Invalid(why) => ApiError::new(StatusCode::BAD_REQUEST, why),
        e => e.into(),
    }
}

#[derive(Template)]
#[template(path = "problems.html")]
struct ProblemsPage {
    nav: Nav,
    filter: ProblemFilter,
    page: ProblemPage,
    /// Each row with its sparkline.
    rows: Vec<(coroner_store::ProblemSummary, String)>,
    choices: FilterChoices,
    tabs: Vec<Tab>,
    sorts: [(&'static str, &'static str); 4],
    error: Option<String>,
    json: String,
    prev: Option<String>,
    next: Option<String>,
}

impl ProblemsPage {
    /// Whether the select's current value is `value`.
    fn is(&self, current: &Option<String>, value: &str) -> bool {
        current.as_deref() == Some(value)
    }
}

struct Tab {
    label: &'static str,
    href: String,
    current: bool,
}

/// The query string with `key` set to `value` (the page links keep the filters).
fn with(query: &str, key: &str, value: &str) -> String {
    let mut parts: Vec<String> = query
        .split('&')
        .filter(|kv| !kv.is_empty() && kv.split('=').next() != Some(key))
        .map(str::to_string)
        .collect();
    parts.push(format!("{key}={}", url_escape(value)));
    format!("?{}", parts.join("&"))
}

pub async fn problems_html(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    filter: Result<Query<ProblemFilter>, QueryRejection>,
) -> Response {
    let raw = raw.unwrap_or_default();
    let path = if raw.is_empty() {
        "/".to_string()
    } else {
        format!("/?{raw}")
    };
    let signed = match page_reader(&app, &headers, &path).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (filter, mut error) = match filter {
        Ok(Query(f)) => (f, None),
        Err(e) => (
            ProblemFilter::default(),
            Some(format!("the filters could not be read: {e}")),
        ),
    };
    let choices = match app.db.filter_choices().await {
        Ok(c) => c,
        Err(e) => return error_page(e.into()),
    };
    let page = match app
        .db
        .problem_page(&filter, PER_PAGE, &today(), false)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            error = Some(invalid(e).message);
            ProblemPage {
                total: 0,
                page: 1,
                per_page: PER_PAGE,
                problems: Vec::new(),
            }
        }
    };
    let current = filter.state().to_string();
    let tabs = [
        ("Active", "active"),
        ("Open", "open"),
        ("Regressed", "regressed"),
        ("Probably fixed", "probably-fixed"),
        ("Fixed", "fixed"),
        ("Ignored", "ignored"),
        ("All", "all"),
    ]
    .into_iter()
    .map(|(label, state)| Tab {
        label,
        href: format!("/{}", with(&with(&raw, "state", state), "page", "1")),
        current: state == current,
    })
    .collect();
    let pages = (page.total + PER_PAGE - 1) / PER_PAGE;
    let prev = (page.page > 1).then(|| with(&raw, "page", &(page.page - 1).to_string()));
    let next = (page.page < pages).then(|| with(&raw, "page", &(page.page + 1).to_string()));
    let rows = page
        .problems
        .iter()
        .map(|p| (p.clone(), charts::sparkline(&p.days)))
        .collect();
    render(&ProblemsPage {
        nav: signed.nav,
        json: format!("/api/v1/problems?{raw}"),
        filter,
        rows,
        page,
        choices,
        tabs,
        sorts: [
            ("recent", "last seen"),
            ("count", "most crashes"),
            ("hosts", "most hosts"),
            ("newest", "newest"),
        ],
        error,
        prev,
        next,
    })
}

#[derive(Deserialize)]
pub struct Limit {
    per_page: Option<i64>,
}

/// `coroner.problems/1`: the list as the page shows it (the same filters), at
/// most `per_page` (default and most 1000) from `page`.
pub async fn problems_json(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(filter): Query<ProblemFilter>,
    Query(limit): Query<Limit>,
) -> Result<Json<Value>, ApiError> {
    signed(&app, &headers).await?;
    let per_page = limit
        .per_page
        .unwrap_or(JSON_PER_PAGE)
        .clamp(1, JSON_PER_PAGE);
    let page = app
        .db
        .problem_page(&filter, per_page, &today(), true)
        .await
        .map_err(invalid)?;
    Ok(Json(json!({
        "schema": "coroner.problems/1",
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "problems": page.problems,
    })))
}

/// What a problem's page and its JSON twin show.
struct ProblemData {
    row: ProblemRow,
    extras: ProblemExtras,
    crashes: Vec<(String, String, i64, String)>,
    counters: Vec<(String, String, String, i64)>,
    kb: Vec<Value>,
}

enum Found {
    Problem(Box<ProblemData>),
    /// Merged into this problem.
    Moved(String),
}

async fn load_problem(app: &App, id: &str) -> Result<Found, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "no such problem");
    if !is_id(id) {
        return Err(not_found());
    }
    if let Some(into) = app.db.merged_into(id).await? {
        return Ok(Found::Moved(into));
    }
    let row = app.db.problem(id).await?.ok_or_else(not_found)?;
    let extras = app.db.problem_extras(id).await?;
    let crashes = app.db.problem_crashes(id, PROBLEM_CRASHES).await?;
    let counters = app.db.counters(id).await?;
    // The rules as the latest crash matched them (diagnosis, workaround, links).
    let kb = app
        .db
        .problem_sample_triage(id)
        .await?
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|t| t.get("kb").and_then(Value::as_array).cloned())
        .unwrap_or_default();
    Ok(Found::Problem(Box::new(ProblemData {
        row,
        extras,
        crashes,
        counters,
        kb,
    })))
}

/// `coroner.problem/1`: the API's fields, and the state, fixes, releases,
/// signatures with versions, hosts, days and rules.
pub async fn problem_json(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    signed(&app, &headers).await?;
    let d = match load_problem(&app, &id).await? {
        Found::Moved(into) => {
            return Ok(Redirect::permanent(&format!("/api/v1/problems/{into}")).into_response())
        }
        Found::Problem(d) => d,
    };
    let mut doc = view::problem_detail(&d.row, &d.counters, &d.crashes);
    let extras = serde_json::to_value(&d.extras).unwrap_or(Value::Null);
    if let (Value::Object(doc), Value::Object(extras)) = (&mut doc, extras) {
        doc.insert("signature_versions".into(), json!(d.extras.signatures));
        for (k, v) in extras {
            if k != "signatures" && k != "hosts" {
                doc.insert(k, v);
            }
        }
        doc.insert("host_counts".into(), json!(d.extras.hosts));
        doc.insert("kb".into(), Value::Array(d.kb.clone()));
    }
    Ok(Json(doc).into_response())
}

/// A knowledge-base rule as the page shows it.
struct Rule {
    id: String,
    summary: String,
    diagnosis: String,
    workaround: Option<String>,
    references: Vec<String>,
}

impl Rule {
    fn from(v: &Value) -> Rule {
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Rule {
            id: text("id"),
            summary: text("summary"),
            diagnosis: text("diagnosis"),
            workaround: v
                .get("workaround")
                .and_then(Value::as_str)
                .map(str::to_string),
            references: v
                .get("references")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

struct CrashLink {
    id: String,
    host: String,
    received: i64,
    state: String,
}

/// The problem page's view of [`ProblemData`].
struct ProblemView {
    id: String,
    title: String,
    class: Option<String>,
    state: String,
    count: i64,
    hosts: Vec<String>,
    first_seen: i64,
    last_seen: i64,
    guilty: Option<String>,
    module: Option<String>,
    frames: Vec<String>,
    fixes: Vec<coroner_store::Fix>,
    releases: Vec<coroner_store::ReleaseSeen>,
    signature_rows: Vec<SignatureRow>,
    host_rows: Vec<coroner_store::HostSeen>,
    crashes: Vec<CrashLink>,
    kb: Vec<Rule>,
}

#[derive(Template)]
#[template(path = "problem.html")]
struct ProblemPageTpl {
    nav: Nav,
    d: ProblemView,
    day_chart: String,
    release_chart: String,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct Notice {
    done: Option<String>,
    error: Option<String>,
}

/// The sentence for a decision just taken (`?done=` after its redirect).
fn notice(done: &str) -> Option<String> {
    Some(
        match done {
            "merged" => "Merged: the other problem's signatures and counts are here now; its old link leads here.",
            "split" => "Split: the signature is a problem of its own now (this page).",
            "fixed" => "Marked fixed: a crash on a later release of that branch will mark it regressed.",
            "regressed" => "Marked fixed, but it already crashed at or after that release: regressed.",
            "ignored" => "Ignored: it leaves the active list.",
            "open" => "Reopened (its fixes are forgotten).",
            _ => return None,
        }
        .to_string(),
    )
}

pub async fn problem_html(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(n): Query<Notice>,
) -> Response {
    let signed = match page_reader(&app, &headers, &format!("/problems/{id}")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let d = match load_problem(&app, &id).await {
        Ok(Found::Problem(d)) => *d,
        Ok(Found::Moved(into)) => {
            return Redirect::permanent(&format!("/problems/{into}")).into_response()
        }
        Err(e) => return error_page(e),
    };
    let day_chart = charts::bars("Crashes per day", &d.extras.days);
    let by_release: Vec<(String, i64)> = d
        .extras
        .releases
        .iter()
        .map(|r| (r.release.clone(), r.count))
        .collect();
    let release_chart = charts::bars("Crashes per kernel release", &by_release);
    let view = ProblemView {
        id: d.row.id,
        title: d.row.title,
        class: d.row.class,
        state: d.extras.state,
        count: d.row.count,
        hosts: d.row.hosts,
        first_seen: d.row.first_seen,
        last_seen: d.row.last_seen,
        guilty: d.extras.guilty,
        module: d.extras.module,
        frames: d.extras.frames,
        fixes: d.extras.fixes,
        releases: d.extras.releases,
        signature_rows: d.extras.signatures,
        host_rows: d.extras.hosts,
        crashes: d
            .crashes
            .into_iter()
            .map(|(id, host, received, state)| CrashLink {
                id,
                host,
                received,
                state,
            })
            .collect(),
        kb: d.kb.iter().map(Rule::from).collect(),
    };
    render(&ProblemPageTpl {
        nav: signed.nav,
        d: view,
        day_chart,
        release_chart,
        notice: n.done.as_deref().and_then(notice),
        error: n.error,
    })
}

/// A host's crashes, and how many different problems they are.
struct HostData {
    crashes: Vec<HostCrash>,
    problems: usize,
}

async fn load_host(app: &App, host: &str) -> Result<HostData, ApiError> {
    let crashes = app.db.host_crashes(host, HOST_CRASHES).await?;
    if crashes.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no crash from this host",
        ));
    }
    let mut problems: Vec<&str> = crashes
        .iter()
        .filter_map(|c| c.problem.as_deref())
        .collect();
    problems.sort_unstable();
    problems.dedup();
    let problems = problems.len();
    Ok(HostData { crashes, problems })
}

#[derive(Template)]
#[template(path = "host.html")]
struct HostPage {
    nav: Nav,
    host: String,
    crashes: Vec<HostCrash>,
    problems: usize,
    limit: i64,
}

pub async fn host_html(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let signed = match page_reader(&app, &headers, &format!("/hosts/{}", url_escape(&name))).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match load_host(&app, &name).await {
        Ok(d) => render(&HostPage {
            nav: signed.nav,
            host: name,
            crashes: d.crashes,
            problems: d.problems,
            limit: HOST_CRASHES,
        }),
        Err(e) => error_page(e),
    }
}

/// `coroner.host/1`: the host's latest crashes and how many problems they are.
pub async fn host_json(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    signed(&app, &headers).await?;
    let d = load_host(&app, &name).await?;
    Ok(Json(json!({
        "schema": "coroner.host/1",
        "host": name,
        "problems": d.problems,
        "crashes": d.crashes,
    })))
}
